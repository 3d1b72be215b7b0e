import type { Redis } from 'ioredis';

/**
 * Connections of their own for `WATCH ... EXEC` (a WATCH belongs to a connection, and every
 * other job and request shares the main one), kept and reused. Opening one per use cost a new
 * TCP connection and ioredis's ready check (an INFO) twice per cycle (evaluation and apply),
 * and on a Redis Cluster a whole cluster client with its slot map (which is still so: see release).
 *
 * A connection acquired is its holder's alone until released. Release drops its WATCH (an
 * UNWATCH, sent before anything the next holder sends on it, so not waited for) and keeps it
 * idle, at most `maxIdle` of them; one that lost its connection (reconnecting) or was closed
 * is closed instead of kept.
 */
/** Connected or on its way to its first connection: not reconnecting after a loss, not closed. */
function reusable(conn: Redis): boolean {
  return conn.status === 'ready' || conn.status === 'wait' || conn.status === 'connecting' || conn.status === 'connect';
}

export class WatchConnections {
  private readonly idle: Redis[] = [];
  private closed = false;
  /** Connections opened so far (for tests and metrics: reuse keeps it at the jobs' concurrency). */
  opened = 0;

  constructor(
    private readonly redis: Redis,
    private readonly maxIdle = 16,
  ) {}

  /** An idle connection, or a new one (a duplicate of the main connection's settings). */
  acquire(): Redis {
    if (this.closed) throw new Error('the watch connections are closed');
    for (let conn = this.idle.pop(); conn; conn = this.idle.pop()) {
      if (reusable(conn)) return conn;
      conn.disconnect();
    }
    this.opened++;
    const conn = this.redis.duplicate();
    // Its commands fail with the error; the event would otherwise print as unhandled.
    conn.on('error', () => undefined);
    return conn;
  }

  /** Gives a connection back once its holder is done with it (idempotent per acquire is the holder's duty). */
  release(conn: Redis): void {
    // A Cluster client is not kept: it sends a keyless UNWATCH to any one node, not to the
    // node where the WATCH went, so a kept one could carry a WATCH into its next holder's EXEC.
    if (this.closed || conn.isCluster || !reusable(conn) || this.idle.length >= this.maxIdle) {
      if (conn.status !== 'end') conn.disconnect();
      return;
    }
    conn.unwatch().catch(() => {
      const at = this.idle.indexOf(conn);
      if (at >= 0) this.idle.splice(at, 1);
      conn.disconnect();
    });
    this.idle.push(conn);
  }

  /** How many are idle now. */
  get idleCount(): number {
    return this.idle.length;
  }

  /** Closes the idle connections; connections still held are closed when released. */
  close(): void {
    this.closed = true;
    for (const conn of this.idle.splice(0)) conn.disconnect();
  }
}

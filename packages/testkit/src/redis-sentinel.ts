import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './ports';
import { ManagedProcess } from './process';
import { RedisServer, redisCli } from './redis';

export interface RedisSentinelOptions {
  /** The master group name. Default `syncguard`. */
  name?: string;
  /** How long a silent master takes to be judged down, in ms. Default 1000. */
  downAfterMs?: number;
  /** Sentinel's failover-timeout, in ms. Default 5000. */
  failoverTimeoutMs?: number;
}

/** One sentinel process and its port. */
export interface SentinelProcess {
  readonly port: number;
  readonly process: ManagedProcess;
}

/**
 * A private Sentinel set on loopback: a master, a replica of it and three sentinels
 * (quorum 2), memory only. `failover()` kills the current master (SIGKILL) and waits until
 * the sentinels have promoted the replica. Start it once per test file.
 */
export class RedisSentinelSet {
  private constructor(
    readonly dir: string,
    readonly name: string,
    /** The two data nodes: the first started as master, the second as its replica. */
    readonly servers: readonly RedisServer[],
    readonly sentinels: readonly SentinelProcess[],
  ) {}

  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` (SYNCGUARD_REDIS_SENTINELS). */
  get sentinelAddresses(): string {
    return this.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
    const name = options.name ?? 'syncguard';
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-sentinel-'));
    const servers: RedisServer[] = [];
    const sentinels: SentinelProcess[] = [];
    const set = new RedisSentinelSet(dir, name, servers, sentinels);
    try {
      const master = await RedisServer.start();
      servers.push(master);
      servers.push(
        await RedisServer.start({
          args: ['--replicaof', '127.0.0.1', String(master.port), '--replica-announce-ip', '127.0.0.1'],
        }),
      );
      await waitFor(async () => (await servers[1]!.cli('INFO', 'replication')).includes('master_link_status:up'), {
        timeoutMs: 15_000,
        message: 'the replica to sync with its master',
      });
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        const conf = path.join(dir, `sentinel-${port}.conf`);
        await fs.writeFile(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            'sentinel announce-ip 127.0.0.1',
            `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
            `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
            `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5000}`,
            `sentinel parallel-syncs ${name} 1`,
            '',
          ].join('\n'),
        );
        sentinels.push({ port, process: new ManagedProcess('redis-server', [conf, '--sentinel']) });
      }
      // Ready when every sentinel knows the replica and the two other sentinels (they find
      // each other through the master's hello channel, every 2 s): only then can they fail over.
      await waitFor(
        async () => {
          for (const s of sentinels) {
            if (!s.process.running)
              throw new Error(`sentinel ${s.port} exited (${s.process.exitDescription}):\n${s.process.log}`);
            const master = await redisCli(s.port, 'SENTINEL', 'MASTER', name);
            const field = (key: string) => {
              const lines = master.split('\n');
              return lines[lines.indexOf(key) + 1];
            };
            if (field('num-slaves') !== '1' || field('num-other-sentinels') !== '2') return false;
          }
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 200, message: 'the sentinels to know the replica and each other' },
      );
    } catch (error) {
      await set.dispose();
      throw error;
    }
    return set;
  }

  /** The master's port as the sentinels announce it. */
  async masterPort(): Promise<number> {
    for (const s of this.sentinels.filter((x) => x.process.running)) {
      const out = (await redisCli(s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)).trim().split('\n');
      if (out.length === 2) return Number(out[1]);
    }
    throw new Error('no sentinel announces a master');
  }

  /** The data node that is master now. */
  async master(): Promise<RedisServer> {
    const port = await this.masterPort();
    const server = this.servers.find((s) => s.port === port);
    if (!server) throw new Error(`the sentinels announce an unknown master on port ${port}`);
    return server;
  }

  /**
   * Kills the current master (SIGKILL) and waits until the sentinels announce the replica
   * as master and it says `role:master`. Returns the killed server (start() brings it back;
   * the sentinels then make it a replica of the new master).
   */
  async failover(): Promise<RedisServer> {
    const old = await this.master();
    await old.kill();
    const promoted = this.servers.find((s) => s !== old)!;
    await waitFor(async () => (await this.masterPort()) === promoted.port && (await promoted.cli('ROLE')).startsWith('master'), {
      timeoutMs: 30_000,
      intervalMs: 100,
      message: `the sentinels to promote the replica on port ${promoted.port}`,
    });
    return old;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.sentinels.map((s) => s.process.stop('SIGKILL', 1000)));
    await Promise.allSettled(this.servers.map((s) => s.dispose()));
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export function startRedisSentinels(options?: RedisSentinelOptions): Promise<RedisSentinelSet> {
  return RedisSentinelSet.start(options);
}

import net from 'node:net';
import { execFile } from 'node:child_process';
import { freePort, waitFor } from './ports';
import { RedisServer } from './redis';

export interface RedisClusterOptions {
  /** Masters (the slots are split evenly over them). Default 3. */
  masters?: number;
  /** Replicas of each master. Default 1. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout`: how long a silent master takes to be failed over, in ms. Default 2000. */
  nodeTimeoutMs?: number;
}

/** One node as CLUSTER NODES describes it. */
export interface ClusterNodeView {
  readonly id: string;
  readonly port: number;
  readonly role: 'master' | 'replica';
  /** The master's id (replicas). */
  readonly masterId: string | null;
  /** Marked failed, or its link is down. */
  readonly failed: boolean;
  /** Slot ranges it serves, as `0-5460`. */
  readonly slots: readonly string[];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = await freePort();
    if (port > 55_000 || taken.has(port) || taken.has(port + 10_000)) continue;
    if (await portFree(port + 10_000)) {
      taken.add(port);
      taken.add(port + 10_000);
      return port;
    }
  }
  throw new Error('no free port pair (port, port + 10000) for a cluster node');
}

/**
 * A private Redis Cluster on loopback: `masters` masters with `replicasPerMaster` replicas
 * each (`redis-server --cluster-enabled yes`, joined by `redis-cli --cluster create`),
 * memory only. Start it once per test file; `killMaster()` fails one over.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: readonly RedisServer[],
    private readonly nodeTimeoutMs: number,
  ) {}

  /** The seed nodes, `127.0.0.1:p1,127.0.0.1:p2,...` (SYNCGUARD_REDIS_CLUSTER_NODES). */
  get seeds(): string {
    return this.nodes.map((n) => n.address).join(',');
  }

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    // The ports are picked free, then bound: another process may take one (or its bus port)
    // in between. Such a start is tried again with new ports.
    for (let attempt = 1; ; attempt++) {
      try {
        return await RedisCluster.startOnce(options);
      } catch (error) {
        if (attempt >= 3 || !/address already in use|EADDRINUSE/i.test((error as Error).message)) throw error;
      }
    }
  }

  private static async startOnce(options: RedisClusterOptions): Promise<RedisCluster> {
    const masters = options.masters ?? 3;
    const replicas = options.replicasPerMaster ?? 1;
    const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
    const taken = new Set<number>();
    const ports: number[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort(taken));
    const started = await Promise.allSettled(
      ports.map((port) =>
        RedisServer.start({
          port,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            `nodes-${port}.conf`,
            '--cluster-node-timeout',
            String(nodeTimeoutMs),
            // A replica may be promoted however long its link was down (tests kill masters at will).
            '--cluster-replica-validity-factor',
            '0',
          ],
        }),
      ),
    );
    const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const cluster = new RedisCluster(nodes, nodeTimeoutMs);
    if (failed) {
      await cluster.dispose();
      throw failed.reason;
    }
    try {
      await new Promise<void>((resolve, reject) => {
        const args = [
          '--cluster',
          'create',
          ...nodes.map((n) => n.address),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ];
        execFile('redis-cli', args, { timeout: 60_000 }, (error, stdout, stderr) =>
          error ? reject(new Error(`redis-cli --cluster create: ${stderr || error.message}\n${stdout}`)) : resolve(),
        );
      });
      await cluster.waitUntilHealthy(masters);
      // And every replica known as one by every node (the roles spread by gossip after the join).
      await waitFor(
        async () => {
          for (const n of nodes) {
            const view = await n.cli('CLUSTER', 'NODES');
            if ((view.match(/ (?:myself,)?slave /g) ?? []).length !== masters * replicas) return false;
          }
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: 'every node to know the replicas' },
      );
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** The cluster as one running node sees it. */
  async view(): Promise<ClusterNodeView[]> {
    const node = this.nodes.find((n) => n.running);
    if (!node) throw new Error('no cluster node runs');
    const out = await node.cli('CLUSTER', 'NODES');
    return out
      .trim()
      .split('\n')
      .map((line) => {
        const [id, address, flags, master, , , , link, ...slots] = line.trim().split(' ');
        const f = (flags ?? '').split(',');
        return {
          id: id!,
          port: Number(/:(\d+)@/.exec(address ?? '')?.[1]),
          role: f.includes('master') ? 'master' : 'replica',
          masterId: master === '-' ? null : (master ?? null),
          failed: f.includes('fail') || f.includes('fail?') || link === 'disconnected',
          slots: slots.filter((s) => /^\d/.test(s)),
        } as const;
      });
  }

  /** The running masters that serve slots. */
  async masters(): Promise<RedisServer[]> {
    const view = await this.view();
    const ports = new Set(view.filter((v) => v.role === 'master' && !v.failed && v.slots.length > 0).map((v) => v.port));
    return this.nodes.filter((n) => ports.has(n.port) && n.running);
  }

  /** Waits until every running node says `cluster_state:ok` and `masters` masters serve every slot. */
  async waitUntilHealthy(masters?: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      async () => {
        for (const n of this.nodes.filter((x) => x.running)) {
          if (!(await n.cli('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        }
        const view = await this.view();
        const serving = view.filter((v) => v.role === 'master' && !v.failed && v.slots.length > 0);
        return masters === undefined || serving.length === masters;
      },
      { timeoutMs, intervalMs: 100, message: 'the Redis Cluster to be healthy' },
    );
  }

  /**
   * Kills a master (SIGKILL, as a crash would; the first by default, or the one holding
   * `key`'s slot) and waits until its replica has been promoted and the cluster is healthy
   * again. Returns the killed node (start() brings it back, as a replica).
   */
  async killMaster(options: { key?: string } = {}): Promise<RedisServer> {
    let victim: RedisServer | undefined;
    if (options.key !== undefined) {
      const any = this.nodes.find((n) => n.running)!;
      const slot = Number((await any.cli('CLUSTER', 'KEYSLOT', options.key)).trim());
      const view = await this.view();
      const owner = view.find(
        (v) =>
          v.role === 'master' &&
          !v.failed &&
          v.slots.some((r) => {
            const [a, b] = r.split('-').map(Number);
            return slot >= a! && slot <= (b ?? a!);
          }),
      );
      victim = this.nodes.find((n) => n.port === owner?.port);
    } else {
      victim = (await this.masters())[0];
    }
    if (!victim) throw new Error('no master to kill');
    const before = await this.view();
    const victimId = before.find((v) => v.port === victim.port)!.id;
    const replicaPorts = new Set(before.filter((v) => v.masterId === victimId).map((v) => v.port));
    await victim.kill();
    await waitFor(
      async () => {
        const view = await this.view();
        return view.some((v) => replicaPorts.has(v.port) && v.role === 'master' && v.slots.length > 0);
      },
      {
        timeoutMs: 10 * this.nodeTimeoutMs + 10_000,
        intervalMs: 100,
        message: `a replica of the killed master ${victim.port} to be promoted`,
      },
    );
    await this.waitUntilHealthy();
    return victim;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.dispose()));
  }
}

export function startRedisCluster(options?: RedisClusterOptions): Promise<RedisCluster> {
  return RedisCluster.start(options);
}

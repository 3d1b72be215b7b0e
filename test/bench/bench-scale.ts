/**
 * npm run bench:scale [-- --configs N] [--objects M] [--agents K] [--sessions S] [--cluster-configs C] [--no-cluster]
 *
 * Load on loopback, with the real controller and agent programs, slapd and Redis; stops by itself
 * and prints one JSON line last.
 * 1. One controller on one Redis: N configurations (default 1,000) of M objects (default 100),
 *    served by K real agents (default 4; each serves N/K configurations), every configuration on
 *    a 2-minute schedule. Measures the initial sync of all of them (configurations and objects
 *    per second, p50/p99 cycle latency from each cycle's startedAt to completedAt), then a round
 *    of one cycle per configuration started at once, as a schedule's worst case (p50/p99, cycles
 *    per second against the N/120 per second a 2-minute schedule needs), the controller's memory
 *    per configuration and Redis's per object.
 * 2. S agent sessions (default 1,000) on that controller, from a light session simulator (the
 *    protocol peer of the controller's tests: a WebSocket and the hello, no LDAP): the
 *    controller's memory per connected agent.
 * 3. A 3-master Redis Cluster: C configurations (default 200) synced by one controller, then on a
 *    fresh cluster by three controllers (the agents on the first, the cycle jobs spread over the
 *    three replicas' workers): the throughput of three over one.
 */
import fs from 'node:fs';
import { FakeAgent } from '@syncguard/controller/dist/testing/fake-agent';
import { usersLdif, waitFor } from '@syncguard/testkit';
import { startSystem, type SystemOptions, type TestSystem } from '../harness';
import { arg } from './args';

const SUFFIX = 'dc=example,dc=com';
const log = (text: string) => console.error(`bench:scale: ${text}`);

/** A field of /proc/<pid>/status in MB (VmRSS now, VmHWM the peak). */
function statusMb(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | null {
  if (!pid) return null;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}
const rssMb = (pid: number | undefined) => statusMb(pid, 'VmRSS');
const peakRssMb = (pid: number | undefined) => statusMb(pid, 'VmHWM');

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (n: number | null) => (n === null ? null : Math.round(n * 1000) / 1000);

function seedLdif(configs: number, objects: number): string {
  const parts: string[] = [];
  for (let i = 0; i < configs; i++) {
    const ou = `ou=c${i},${SUFFIX}`;
    parts.push(`dn: ${ou}\nobjectClass: organizationalUnit\nou: c${i}\n\n`, usersLdif(ou, objects, { prefix: `c${i}-` }));
  }
  return parts.join('');
}

interface CycleItem {
  id: string;
  state: string;
  startedAt: string;
  completedAt: string | null;
}

/** Creates one configuration per OU, spread over the agents, and waits until each has an applied cycle. */
async function syncAll(
  system: TestSystem,
  agentIds: string[],
  configs: number,
  objects: number,
): Promise<{ ids: string[]; seconds: number; latencies: number[] }> {
  const startMs = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < configs; i++) {
    const { id } = await system.createConfiguration({
      name: `c${i}.example.com`,
      agentIds: [agentIds[i % agentIds.length]!],
      source: { baseDn: `ou=c${i},${SUFFIX}`, objectTypes: ['user'] },
      syncIntervalSeconds: 120,
      accidentalDeletes: { enabled: true, threshold: objects + 1 },
    });
    ids.push(id);
  }
  log(`${configs} configurations created in ${((Date.now() - startMs) / 1000).toFixed(1)} s; waiting for their first cycles`);
  const latencies = await waitForApplied(system, ids, new Map(), 1_800_000);
  const ended = Math.max(...latencies.map((l) => l.completedAt));
  return { ids, seconds: (ended - startMs) / 1000, latencies: latencies.map((l) => l.ms) };
}

/** Waits until each configuration's newest cycle (other than `after`'s) is applied; its latencies. */
async function waitForApplied(
  system: TestSystem,
  ids: string[],
  after: Map<string, string>,
  timeoutMs: number,
): Promise<{ ms: number; completedAt: number }[]> {
  const done = new Map<string, { ms: number; completedAt: number }>();
  await waitFor(
    async () => {
      for (const id of ids) {
        if (done.has(id)) continue;
        const page = await system.api.get<{ items: CycleItem[] }>(`/api/v1/configurations/${id}/cycles?limit=1`);
        const last = page.items[0];
        if (!last || last.id === after.get(id) || last.state !== 'applied' || !last.completedAt) continue;
        const completedAt = Date.parse(last.completedAt);
        done.set(id, { ms: completedAt - Date.parse(last.startedAt), completedAt });
      }
      return done.size === ids.length;
    },
    { timeoutMs, intervalMs: 500, message: `${ids.length} configurations to have an applied cycle` },
  );
  return [...done.values()];
}

async function redisUsedMemory(system: TestSystem): Promise<number> {
  const info = await system.redis.command('INFO', 'memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function oneController(configs: number, objects: number, agents: number, sessions: number) {
  log(`phase 1: seeding slapd with ${configs} OUs of ${objects} users`);
  const system = await startSystem({ slapd: { seedLdif: seedLdif(configs, objects) } });
  try {
    const agentIds: string[] = [];
    for (let i = 0; i < agents; i++) agentIds.push(await system.addAgent(`bench-${i}`));
    const pid = system.controller?.child.pid;
    const rssBefore = rssMb(pid);
    const redisBefore = await redisUsedMemory(system);
    const initial = await syncAll(system, agentIds, configs, objects);
    log(`initial sync of ${configs} configurations: ${initial.seconds.toFixed(1)} s`);

    // A round: one cycle per configuration, all started at once (a schedule's worst case).
    const last = new Map<string, string>();
    for (const id of initial.ids) {
      const page = await system.api.get<{ items: CycleItem[] }>(`/api/v1/configurations/${id}/cycles?limit=1`);
      last.set(id, page.items[0]!.id);
    }
    const roundStart = Date.now();
    let skipped = 0;
    for (const id of initial.ids) {
      try {
        await system.api.post(`/api/v1/configurations/${id}/cycles`);
      } catch {
        skipped++; // a scheduled cycle runs already: it counts as this round's
      }
    }
    const round1 = await waitForApplied(system, initial.ids, last, 600_000);
    const roundSeconds = (Math.max(...round1.map((r) => r.completedAt)) - roundStart) / 1000;
    const rssAfter = rssMb(pid);
    const redisAfter = await redisUsedMemory(system);

    // Sessions: S simulated agents, each registered and connected with its hello.
    log(`phase 2: ${sessions} simulated agent sessions`);
    const tokens: { id: string; token: string }[] = [];
    for (let i = 0; i < sessions; i++) tokens.push(await system.api.post('/api/v1/agents', { name: `sim-${i}` }));
    const rssSessionsBefore = rssMb(pid);
    const peers: FakeAgent[] = [];
    for (let i = 0; i < tokens.length; i += 50) {
      const batch = await Promise.all(
        tokens.slice(i, i + 50).map(async (t) => {
          const peer = await FakeAgent.open({ url: system.agentUrl, agentId: t.id, token: t.token });
          await peer.hello();
          return peer;
        }),
      );
      peers.push(...batch);
    }
    let connected = 0;
    let cursor: string | null = null;
    do {
      const page: { items: { status: string }[]; nextCursor?: string | null } = await system.api.get(
        `/api/v1/agents?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      connected += page.items.filter((a) => a.status === 'connected').length;
      cursor = page.nextCursor ?? null;
    } while (cursor);
    const rssSessions = rssMb(pid);
    await Promise.allSettled(peers.map((p) => p.close()));

    return {
      configurations: configs,
      objectsPerConfiguration: objects,
      agents,
      initialSync: {
        seconds: round(initial.seconds),
        configurationsPerSecond: round(configs / initial.seconds),
        objectsPerSecond: Math.round((configs * objects) / initial.seconds),
        cycleLatencyP50Seconds: round(percentile(initial.latencies, 50)! / 1000),
        cycleLatencyP99Seconds: round(percentile(initial.latencies, 99)! / 1000),
      },
      round: {
        seconds: round(roundSeconds),
        cyclesPerSecond: round(configs / roundSeconds),
        neededPerSecondFor2MinuteSchedule: round(configs / 120),
        startedBySchedule: skipped,
        cycleLatencyP50Seconds: round(
          percentile(
            round1.map((r) => r.ms),
            50,
          )! / 1000,
        ),
        cycleLatencyP99Seconds: round(
          percentile(
            round1.map((r) => r.ms),
            99,
          )! / 1000,
        ),
      },
      controllerRssMb: rssAfter,
      controllerPeakRssMb: peakRssMb(pid),
      controllerMbPerConfiguration: rssBefore !== null && rssAfter !== null ? round((rssAfter - rssBefore) / configs) : null,
      redisBytesPerObject: Math.round((redisAfter - redisBefore) / (configs * objects)),
      sessions: {
        simulated: sessions,
        connected: connected - agents,
        controllerRssMb: rssSessions,
        controllerMbPerSession:
          rssSessions !== null && rssSessionsBefore !== null ? round((rssSessions - rssSessionsBefore) / sessions) : null,
      },
    };
  } finally {
    await system.dispose();
  }
}

async function onCluster(replicas: number, configs: number, objects: number, agents: number) {
  const options: SystemOptions = { redisTopology: 'cluster', slapd: { seedLdif: seedLdif(configs, objects) } };
  const system = await startSystem(options);
  try {
    for (let i = 1; i < replicas; i++) await system.addController();
    const agentIds: string[] = [];
    for (let i = 0; i < agents; i++) agentIds.push(await system.addAgent(`bench-${i}`));
    const r = await syncAll(system, agentIds, configs, objects);
    return { replicas, seconds: round(r.seconds)!, objectsPerSecond: Math.round((configs * objects) / r.seconds) };
  } finally {
    await system.dispose();
  }
}

async function main(): Promise<void> {
  const configs = arg('configs', 1000);
  const objects = arg('objects', 100);
  const agents = arg('agents', 4);
  const sessions = arg('sessions', 1000);
  const clusterConfigs = arg('cluster-configs', 200);
  const single = await oneController(configs, objects, agents, sessions);
  log(`phase 1 and 2: ${JSON.stringify(single)}`);
  let cluster: Record<string, unknown> | null = null;
  if (!process.argv.includes('--no-cluster')) {
    log(`phase 3: ${clusterConfigs} configurations on a 3-master cluster, one controller`);
    const one = await onCluster(1, clusterConfigs, objects, agents);
    log(`phase 3: the same on a fresh cluster, three controllers`);
    const three = await onCluster(3, clusterConfigs, objects, agents);
    cluster = {
      configurations: clusterConfigs,
      one,
      three,
      throughputRatio: round(three.objectsPerSecond / one.objectsPerSecond),
    };
  }
  console.log(JSON.stringify({ single, cluster }));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

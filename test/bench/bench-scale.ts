/**
 * npm run bench:scale [-- --configs N] [--objects M] [--agents K] [--sessions S] [--cluster-configs C] [--no-cluster]
 *   [--schedule-seconds S] [--no-schedule] [--no-round] [--profile DIR] [--redis-stats]
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
 *    Then S seconds (default 150) of the schedule alone (nothing polled meanwhile): every cycle
 *    the schedule started in that window, p50/p99 from startedAt to completedAt, and the
 *    controller's largest RSS in it: the target's own measure (p99 under 5 s, under 500 MB).
 * 2. S agent sessions (default 1,000) on that controller, from a light session simulator (the
 *    protocol peer of the controller's tests: a WebSocket and the hello, no LDAP): the
 *    controller's memory per connected agent.
 * 3. A 3-master Redis Cluster: C configurations (default 200) synced by one controller, then on a
 *    fresh cluster by three controllers (the agents and the API calls spread over the three, as a
 *    load balancer would, and the cycle jobs over their workers): the throughput of three over one.
 *
 * `--profile DIR` runs the controller and the agents of phase 1 with `--cpu-prof` and stops them
 * with SIGTERM after phase 2, so that each writes a `.cpuprofile` into DIR. `--redis-stats` prints
 * Redis's command statistics (INFO commandstats) of phase 1's creation, initial sync and round to
 * stderr. Each phase's controller CPU seconds are in the summary (`controllerCpuSeconds`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { FakeAgent } from '@syncguard/controller/dist/testing/fake-agent';
import { usersLdif, waitFor } from '@syncguard/testkit';
import { startSystem, type ApiClient, type SystemOptions, type TestSystem } from '../harness';
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

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null when unknown. */
function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds so far of the programs of a system: the controller, the agents (summed), slapd and Redis. */
function systemCpu(system: TestSystem): Record<'controller' | 'agents' | 'slapd' | 'redis', number | null> {
  const agents = [...system.agents.values()].map((a) => cpuSeconds(a.process?.child.pid));
  return {
    controller: cpuSeconds(system.controller?.child.pid),
    agents: agents.some((a) => a === null) ? null : agents.reduce((x: number, y) => x + (y ?? 0), 0),
    slapd: cpuSeconds(system.slapd.pid),
    redis: cpuSeconds(system.redis.pid),
  };
}

/** What each program used between two systemCpu readings. */
function cpuBetween(from: ReturnType<typeof systemCpu>, to: ReturnType<typeof systemCpu>): Record<string, number | null> {
  return Object.fromEntries(
    Object.entries(from).map(([k, v]) => {
      const w = to[k as keyof typeof to];
      return [k, v === null || w === null ? null : Math.round((w - v) * 100) / 100];
    }),
  );
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
  trigger?: string;
  startedAt: string;
  completedAt: string | null;
}

/** Creates one configuration per OU, spread over the agents, and waits until each has an applied cycle. */
async function syncAll(
  system: TestSystem,
  agentIds: string[],
  configs: number,
  objects: number,
  apis: ApiClient[] = [system.api],
): Promise<{ ids: string[]; seconds: number; createSeconds: number; latencies: number[] }> {
  const startMs = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < configs; i++) {
    // Spread over the replicas' APIs (one controller: all to it).
    const { id } = await apis[i % apis.length]!.post<{ id: string }>('/api/v1/configurations', {
      name: `c${i}.example.com`,
      agentIds: [agentIds[i % agentIds.length]!],
      source: { baseDn: `ou=c${i},${SUFFIX}`, objectTypes: ['user'] },
      syncIntervalSeconds: 120,
      accidentalDeletes: { enabled: true, threshold: objects + 1 },
    });
    ids.push(id);
    if ((i + 1) % 100 === 0) log(`${i + 1} created, ${((Date.now() - startMs) / 1000).toFixed(1)} s`);
  }
  const createSeconds = (Date.now() - startMs) / 1000;
  log(`${configs} configurations created in ${createSeconds.toFixed(1)} s; waiting for their first cycles`);
  const latencies = await waitForApplied(system, ids, new Map(), 1_800_000);
  const ended = Math.max(...latencies.map((l) => l.completedAt));
  return { ids, seconds: (ended - startMs) / 1000, createSeconds, latencies: latencies.map((l) => l.ms) };
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The schedule itself: `seconds` of the configurations' 2-minute schedule with nothing else
 * asked of the controller (no polling meanwhile), then every cycle the schedule started in that
 * window (trigger `schedule`), from its startedAt to its completedAt. Cycles still running at
 * the end get up to a minute to end; what is still running then is reported as unfinished.
 */
async function scheduleWindow(system: TestSystem, ids: string[], seconds: number, pid: number | undefined) {
  const startMs = Date.now();
  let maxRss = rssMb(pid) ?? 0;
  while (Date.now() - startMs < seconds * 1000) {
    await sleep(Math.min(5000, startMs + seconds * 1000 - Date.now()));
    maxRss = Math.max(maxRss, rssMb(pid) ?? 0);
  }
  const endMs = Date.now();
  const latencies: number[] = [];
  let failed = 0;
  let unfinished = 0;
  const settleBy = Date.now() + 60_000;
  for (const id of ids) {
    for (;;) {
      const page = await system.api.get<{ items: CycleItem[] }>(`/api/v1/configurations/${id}/cycles?limit=5`);
      const mine = page.items.filter((c) => {
        const at = Date.parse(c.startedAt);
        return c.trigger === 'schedule' && at >= startMs && at < endMs;
      });
      if (mine.some((c) => c.state === 'running') && Date.now() < settleBy) {
        await sleep(500);
        continue;
      }
      for (const c of mine) {
        if (c.state === 'applied' && c.completedAt) latencies.push(Date.parse(c.completedAt) - Date.parse(c.startedAt));
        else if (c.state === 'running') unfinished++;
        else failed++;
      }
      break;
    }
  }
  const started = latencies.length + failed + unfinished;
  return {
    seconds: round((endMs - startMs) / 1000),
    cyclesStarted: started,
    cyclesPerSecond: round(started / ((endMs - startMs) / 1000)),
    neededPerSecondFor2MinuteSchedule: round(ids.length / 120),
    applied: latencies.length,
    failed,
    unfinished,
    cycleLatencyP50Seconds: round((percentile(latencies, 50) ?? NaN) / 1000),
    cycleLatencyP99Seconds: round((percentile(latencies, 99) ?? NaN) / 1000),
    cycleLatencyMaxSeconds: round((percentile(latencies, 100) ?? NaN) / 1000),
    controllerMaxRssMb: maxRss,
  };
}

async function redisUsedMemory(system: TestSystem): Promise<number> {
  const info = await system.redis.command('INFO', 'memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

/** INFO commandstats, the costliest commands first (calls and Redis CPU ms), to stderr; then resets them. */
async function printRedisStats(system: TestSystem, what: string): Promise<void> {
  const stats = (await system.redis.command('INFO', 'commandstats'))
    .split('\n')
    .map((line) => /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ command: m[1], calls: Number(m[2]), ms: Math.round(Number(m[3]) / 1000) }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 15);
  log(`redis commands of ${what}\n${stats.map((s) => `  ${s.command} ${s.calls} calls ${s.ms} ms`).join('\n')}`);
  await system.redis.command('CONFIG', 'RESETSTAT');
}

interface Phase1Options {
  profileDir: string | null;
  redisStats: boolean;
  /** Seconds of the schedule to observe (0: none). */
  scheduleSeconds: number;
  /** Start one cycle per configuration at once after the initial sync (`--no-round`: not). */
  round: boolean;
}

async function oneController(configs: number, objects: number, agents: number, sessions: number, opts: Phase1Options) {
  log(`phase 1: seeding slapd with ${configs} OUs of ${objects} users`);
  const system = await startSystem({
    slapd: { seedLdif: seedLdif(configs, objects) },
    nodeArgs: opts.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.profileDir}`] : [],
  });
  try {
    const agentIds: string[] = [];
    for (let i = 0; i < agents; i++) agentIds.push(await system.addAgent(`bench-${i}`));
    const pid = system.controller?.child.pid;
    const rssBefore = rssMb(pid);
    const redisBefore = await redisUsedMemory(system);
    if (opts.redisStats) await system.redis.command('CONFIG', 'RESETSTAT');
    const cpuStart = cpuSeconds(pid);
    const allStart = systemCpu(system);
    const initial = await syncAll(system, agentIds, configs, objects);
    const cpuInitial = cpuSeconds(pid);
    const allInitial = systemCpu(system);
    log(`initial sync of ${configs} configurations: ${initial.seconds.toFixed(1)} s`);
    if (opts.redisStats) await printRedisStats(system, 'the creation and initial sync');

    // A round: one cycle per configuration, all started at once (a schedule's worst case).
    let roundFigures: { seconds: number; latencies: number[]; skipped: number } | null = null;
    if (opts.round) {
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
      const seconds = (Math.max(...round1.map((r) => r.completedAt)) - roundStart) / 1000;
      roundFigures = { seconds, latencies: round1.map((r) => r.ms), skipped };
      log(`a round of ${configs} cycles: ${seconds.toFixed(1)} s`);
    }
    const cpuRound = cpuSeconds(pid);
    const allRound = systemCpu(system);
    if (opts.redisStats && opts.round) await printRedisStats(system, 'the round');
    const rssAfter = rssMb(pid);
    const redisAfter = await redisUsedMemory(system);

    let schedule: Awaited<ReturnType<typeof scheduleWindow>> | null = null;
    if (opts.scheduleSeconds > 0) {
      log(`the schedule: ${opts.scheduleSeconds} s of ${configs} configurations every 2 minutes`);
      schedule = await scheduleWindow(system, initial.ids, opts.scheduleSeconds, pid);
      log(`the schedule: ${JSON.stringify(schedule)}`);
    }
    const cpuSchedule = cpuSeconds(pid);
    const allSchedule = systemCpu(system);

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
    const cpuSessions = cpuSeconds(pid);
    const peakRss = peakRssMb(pid);
    await Promise.allSettled(peers.map((p) => p.close()));
    if (opts.profileDir) {
      // SIGTERM: each program writes its .cpuprofile as it exits.
      await Promise.all([...system.agents.values()].map((a) => a.process?.stop('SIGTERM', 20_000)));
      await system.controller?.stop('SIGTERM', 20_000);
      log(`CPU profiles in ${opts.profileDir}`);
    }
    const cpu = (from: number | null, to: number | null) => (from === null || to === null ? null : round(to - from));

    return {
      configurations: configs,
      objectsPerConfiguration: objects,
      agents,
      initialSync: {
        seconds: round(initial.seconds),
        createSeconds: round(initial.createSeconds),
        configurationsPerSecond: round(configs / initial.seconds),
        objectsPerSecond: Math.round((configs * objects) / initial.seconds),
        cycleLatencyP50Seconds: round(percentile(initial.latencies, 50)! / 1000),
        cycleLatencyP99Seconds: round(percentile(initial.latencies, 99)! / 1000),
      },
      round: roundFigures && {
        seconds: round(roundFigures.seconds),
        cyclesPerSecond: round(configs / roundFigures.seconds),
        neededPerSecondFor2MinuteSchedule: round(configs / 120),
        startedBySchedule: roundFigures.skipped,
        cycleLatencyP50Seconds: round(percentile(roundFigures.latencies, 50)! / 1000),
        cycleLatencyP99Seconds: round(percentile(roundFigures.latencies, 99)! / 1000),
      },
      controllerCpuSeconds: {
        initialSync: cpu(cpuStart, cpuInitial),
        round: cpu(cpuInitial, cpuRound),
        schedule: cpu(cpuRound, cpuSchedule),
        sessions: cpu(cpuSchedule, cpuSessions),
      },
      cpuSeconds: {
        initialSync: cpuBetween(allStart, allInitial),
        round: cpuBetween(allInitial, allRound),
        schedule: cpuBetween(allRound, allSchedule),
      },
      controllerRssMb: rssAfter,
      controllerPeakRssMb: peakRss,
      schedule,
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
    // Agents and API calls spread over the replicas, as a load balancer in front of them would.
    const wsUrls = [system.agentUrl, ...system.replicas.map((r) => `ws://127.0.0.1:${r.port}/agent`)];
    const apis = [system.api, ...system.replicas.map((r) => r.api)];
    const agentIds: string[] = [];
    for (let i = 0; i < agents; i++)
      agentIds.push(await system.addAgent(`bench-${i}`, { SYNCGUARD_CONTROLLER_URL: wsUrls[i % wsUrls.length]! }));
    const r = await syncAll(system, agentIds, configs, objects, apis);
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
  const profileAt = process.argv.indexOf('--profile');
  const profileDir = profileAt >= 0 ? path.resolve(process.argv[profileAt + 1] ?? 'profiles') : null;
  const single = await oneController(configs, objects, agents, sessions, {
    profileDir,
    redisStats: process.argv.includes('--redis-stats'),
    scheduleSeconds: process.argv.includes('--no-schedule') ? 0 : arg('schedule-seconds', 150),
    round: !process.argv.includes('--no-round'),
  });
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

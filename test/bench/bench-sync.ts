/**
 * npm run bench:sync [-- --objects N] [--profile DIR] [--controller-config JSON] [--accesslog]
 *
 * Initial sync end to end: slapd seeded with N users (default 100,000), the real agent and
 * controller programs, Redis; times one FULL cycle from "sync now" until the cloud directory
 * holds every object (the cycle's completedAt: its last chunk committed), then two quiet cycles
 * (the first waits for the agent to write the initial sync into its cache; the second is
 * timed from its POST to its completedAt: quietCycleSeconds),
 * and in the same run a raw `ldapsearch` paged dump of the same entries; then 1% of the users
 * modified and a cycle of them (changeCycleSeconds, POST to completedAt), and last a FULL cycle
 * of the synced directory (the agent started again without its state: fullCycleSeconds; what
 * a full consistency read or a new agent costs), changeToFull being the ratio of the two.
 * Prints one JSON line last, with the load average at the start and at the end;
 * `pollSeconds` is when the benchmark's status poll saw the cycle applied.
 * slapd is seeded with slapadd once; later runs of the same size (and `--accesslog` or not)
 * copy the seeded database from the testkit's cache (SYNCGUARD_SLAPD_CACHE, default
 * <tmp>/syncguard-slapd-cache, about 1 GB per million users: remove it when done).
 *
 * `--profile DIR` runs the controller and the agent with `--cpu-prof` and stops them with
 * SIGTERM at the end, so that each writes a `.cpuprofile` into DIR (open it in Chrome DevTools).
 * `--controller-config JSON` passes tuning settings to the controller (its `--config` file), to
 * compare them: e.g. `'{"applyChunkSize":2000}'`. `--node-arg X` (repeatable) passes a flag to node for
 * the controller and the agent (e.g. `--node-arg --max-semi-space-size=8`). `--redis-stats` prints Redis's command statistics
 * of the initial sync (INFO commandstats: calls and CPU microseconds per command) to stderr.
 * `--timeline` prints the controller's and the agent's log lines of the initial sync and of the quiet cycle to stderr,
 * each with its offset from the sync's start in ms (where the time goes between the programs).
 * `--accesslog` gives slapd an accesslog that the agent reads (the quiet cycle reads the log only).
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { usersSeed, waitFor } from '@syncguard/testkit';
import { startSystem, type TestSystem } from '../harness';
import { arg } from './args';

/** Peak resident set size of a process, from /proc (VmHWM), in MB. */
export function peakRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null when unknown. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const stat = require('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8') as string;
    // Fields after the command name (which may hold spaces) start at state; utime and stime are 14th and 15th overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

async function ldapsearchSeconds(system: TestSystem, base: string): Promise<{ seconds: number; entries: number }> {
  const start = process.hrtime.bigint();
  const entries = await new Promise<number>((resolve, reject) => {
    const child = spawn('ldapsearch', [
      '-x',
      '-H',
      system.slapd.url,
      '-D',
      system.slapd.rootDn,
      '-w',
      system.slapd.rootPassword,
      '-b',
      base,
      '-E',
      'pr=1000/noprompt',
      '-LLL',
      '(objectClass=inetOrgPerson)',
    ]);
    let count = 0;
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('utf8');
      const lines = text.split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('dn: ')) count++;
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(count) : reject(new Error(`ldapsearch exited ${code}`))));
  });
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, entries };
}

async function main(): Promise<void> {
  // The timeline is made of the programs' info lines (the harness keeps them quiet otherwise).
  if (process.argv.includes('--timeline')) process.env.SYNCGUARD_LOG_LEVEL ??= 'info';
  const objects = arg('objects', 100_000);
  const loadAtStart = loadAverage();
  const people = 'ou=people,dc=example,dc=com';
  console.error(`bench:sync: seeding slapd with ${objects} users`);
  const profileAt = process.argv.indexOf('--profile');
  const profileDir = profileAt >= 0 ? path.resolve(process.argv[profileAt + 1] ?? 'profiles') : null;
  // --node-arg X (repeatable): a flag for node itself, for the controller and the agent (e.g. --trace-gc).
  const nodeArgs = process.argv.flatMap((a, i) => (a === '--node-arg' ? [process.argv[i + 1] ?? ''] : []));
  const configAt = process.argv.indexOf('--controller-config');
  const controllerConfig =
    configAt >= 0 ? (JSON.parse(process.argv[configAt + 1] ?? '{}') as Record<string, unknown>) : undefined;
  const accesslog = process.argv.includes('--accesslog');
  const system = await startSystem({
    controllerConfig,
    // slapadd the first time; later runs (this session's, same size and accesslog) copy the cached
    // database. noSync: the 1% modify is not made to wait on the shared disk (not what is measured).
    slapd: { cachedSeed: usersSeed(people, objects), accesslog, noSync: true },
    agentEnv: { LDAP_CHANGE_TRACKING: accesslog ? 'accesslog' : 'scan' },
    nodeArgs: [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...nodeArgs],
  });
  try {
    // slapadd writes no log: one write before the initial sync, for its scan to anchor the log on.
    if (accesslog) await system.slapd.modify(`dn: ${people}\nchangetype: modify\nreplace: description\ndescription: bench\n`);
    const agentId = await system.addAgent('bench');
    const dump = await ldapsearchSeconds(system, people);
    if (dump.entries !== objects) throw new Error(`ldapsearch returned ${dump.entries} entries, expected ${objects}`);

    // The controller starts the first (FULL) cycle as soon as the configuration exists.
    console.error('bench:sync: initial sync');
    const pids = (): Record<string, number | undefined> => ({
      controller: system.controller?.child.pid,
      agent: system.agents.get(agentId)?.process?.child.pid,
      slapd: system.slapd.pid,
      redis: system.redis.pid,
    });
    if (process.argv.includes('--redis-stats')) await system.redis.command('CONFIG', 'RESETSTAT');
    const cpuBefore = Object.fromEntries(Object.entries(pids()).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const start = process.hrtime.bigint();
    const startMs = Date.now();
    const { id } = await system.createConfiguration({
      name: 'bench',
      agentIds: [agentId],
      source: { baseDn: people, objectTypes: ['user'] },
      syncIntervalSeconds: 86_400,
      accidentalDeletes: { enabled: true, threshold: objects + 1 },
    });
    // A million objects take minutes on a loaded machine; the sizes' linear share of 30 minutes, at least 90 s.
    const cycleTimeoutMs = Math.max(90_000, Math.round((objects / 1_000_000) * 1_800_000));
    const status = await system.firstCycle(id, 'applied', { timeoutMs: cycleTimeoutMs });
    // The sync ends when its last chunk commits: the cycle's completedAt, on the controller's
    // clock (this machine's). The harness notices it a poll later (up to about 0.1 s under
    // this load); that time is reported as well, as pollSeconds.
    const pollSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    const completedAt = Date.parse(status.lastCycle?.completedAt ?? '');
    if (Number.isNaN(completedAt)) throw new Error('the applied cycle has no completedAt');
    const seconds = (completedAt - startMs) / 1000;
    if (seconds <= 0 || seconds > pollSeconds + 0.05)
      throw new Error(`completedAt is ${seconds} s after the start, but the poll saw the cycle at ${pollSeconds} s`);
    // Where the initial sync's CPU went (2 cores here: more than 2 x seconds is impossible).
    const cpu = Object.fromEntries(
      Object.entries(pids()).map(([k, pid]) => {
        const now = cpuSeconds(pid);
        const then = cpuBefore[k];
        return [k, now === null || then === null || then === undefined ? null : round(now - then)];
      }),
    );
    if (process.argv.includes('--timeline')) {
      const endMs = Date.now();
      const lines = [
        ...timeline('controller', system.controller?.log ?? '', startMs, endMs),
        ...timeline('agent', system.agents.get(agentId)?.process?.log ?? '', startMs, endMs),
      ].sort((a, b) => a.at - b.at);
      console.error(`bench:sync: timeline of the initial sync (ms)\n${lines.map((l) => `  +${l.at} ${l.text}`).join('\n')}`);
    }
    if (status.lastCycle?.counts.create !== objects)
      throw new Error(`cycle created ${status.lastCycle?.counts.create}, expected ${objects}`);
    if (process.argv.includes('--redis-stats')) {
      const stats = (await system.redis.command('INFO', 'commandstats'))
        .split('\n')
        .map((line) => /^cmdstat_(\S+):calls=(\d+),usec=(\d+)/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ command: m[1], calls: Number(m[2]), ms: Math.round(Number(m[3]) / 1000) }))
        .sort((a, b) => b.ms - a.ms);
      console.error(
        `bench:sync: redis commands of the initial sync\n${stats.map((s) => `  ${s.command} ${s.calls} calls ${s.ms} ms`).join('\n')}`,
      );
    }
    const total = await system.api.get<{ total: number }>(`/api/v1/configurations/${id}/objects?limit=1`);
    if (total.total !== objects) throw new Error(`cloud directory holds ${total.total}, expected ${objects}`);

    // The first quiet cycle waits for the agent to write the initial sync into its cache (it
    // applies CycleCommitted before it reads StartCycle): reported apart, as firstQuietCycleSeconds.
    console.error('bench:sync: first quiet cycle');
    const firstQuietStart = process.hrtime.bigint();
    await system.syncNow(id, 'applied', { timeoutMs: cycleTimeoutMs });
    const firstQuietSeconds = Number(process.hrtime.bigint() - firstQuietStart) / 1e9;
    const before = await redisInfo(system);
    console.error('bench:sync: quiet cycle');
    const quietStart = process.hrtime.bigint();
    const quietStartMs = Date.now();
    const quiet = await system.syncNow(id);
    const quietPollSeconds = Number(process.hrtime.bigint() - quietStart) / 1e9;
    // The quiet cycle as the controller recorded it: asked (the POST) to applied (completedAt),
    // without the harness's poll of the status (every 50 ms).
    const quietCompletedAt = Date.parse(quiet.lastCycle?.completedAt ?? '');
    if (Number.isNaN(quietCompletedAt)) throw new Error('the quiet cycle has no completedAt');
    const quietSeconds = (quietCompletedAt - quietStartMs) / 1000;
    if (process.argv.includes('--timeline')) {
      const endMs = Date.now();
      const lines = [
        ...timeline('controller', system.controller?.log ?? '', quietStartMs, endMs),
        ...timeline('agent', system.agents.get(agentId)?.process?.log ?? '', quietStartMs, endMs),
      ].sort((a, b) => a.at - b.at);
      console.error(`bench:sync: timeline of the quiet cycle (ms)\n${lines.map((l) => `  +${l.at} ${l.text}`).join('\n')}`);
    }
    // The cycle's BullMQ job is removed when it completes, a moment after the cycle is applied.
    let after = await redisInfo(system);
    for (let i = 0; i < 20 && after.keys > before.keys + 1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await redisInfo(system);
    }
    const counts = quiet.lastCycle?.counts;
    if (!counts || counts.create + counts.update + counts.delete !== 0)
      throw new Error(`quiet cycle had changes: ${JSON.stringify(counts)}`);

    // A 1% change cycle: 1% of the users modified (one attribute each), then a cycle from its
    // POST to its completedAt, as the quiet cycle.
    const changed = Math.max(1, Math.floor(objects / 100));
    console.error(`bench:sync: modifying ${changed} users (1%)`);
    const step = Math.floor(objects / changed);
    const mods: string[] = [];
    for (let i = 0; i < changed; i++)
      mods.push(`dn: uid=user${i * step},${people}\nchangetype: modify\nreplace: title\ntitle: Bench ${i}\n`);
    await system.slapd.modify(mods.join('\n'));
    await new Promise((r) => setTimeout(r, 1100)); // a scan's modifyTimestamp has one-second resolution
    console.error('bench:sync: 1% change cycle');
    const changeStartMs = Date.now();
    const change = await system.syncNow(id, 'applied', { timeoutMs: cycleTimeoutMs });
    const changeSeconds = (Date.parse(change.lastCycle?.completedAt ?? '') - changeStartMs) / 1000;
    if (change.lastCycle?.counts.update !== changed || change.lastCycle.counts.create + change.lastCycle.counts.delete !== 0)
      throw new Error(`1% change cycle: expected ${changed} updates, got ${JSON.stringify(change.lastCycle?.counts)}`);
    if (process.argv.includes('--timeline')) {
      const endMs = Date.now();
      const lines = [
        ...timeline('controller', system.controller?.log ?? '', changeStartMs, endMs),
        ...timeline('agent', system.agents.get(agentId)?.process?.log ?? '', changeStartMs, endMs),
      ].sort((a, b) => a.at - b.at);
      console.error(`bench:sync: timeline of the 1% change cycle (ms)\n${lines.map((l) => `  +${l.at} ${l.text}`).join('\n')}`);
    }
    const agentPeak = peakRssMb(system.agents.get(agentId)?.process?.child.pid);

    // A FULL cycle of the synced directory (what a full consistency read, or a new agent, costs
    // end to end): the agent started again without its state, so that the controller runs FULL.
    console.error('bench:sync: FULL cycle of the synced directory (the agent without its state)');
    await system.stopAgent(agentId);
    await system.wipeAgentState(agentId);
    await system.startAgent(agentId);
    // The controller may start that cycle itself when the agent connects: then it is the one
    // timed, from its startedAt (the controller's clock, as completedAt).
    const fullStartMs = Date.now();
    const started = await waitFor(
      async () => {
        const last = (await system.status(id)).lastCycle;
        return last && last.id !== change.lastCycle?.id ? last : undefined;
      },
      { timeoutMs: 3000, intervalMs: 50, message: 'a cycle started on connect' },
    ).catch(() => null);
    const full = started
      ? await system.waitForCycleId(id, started.id, 'applied', { timeoutMs: cycleTimeoutMs })
      : await system.syncNow(id, 'applied', { timeoutMs: cycleTimeoutMs });
    const fullSeconds =
      (Date.parse(full.lastCycle?.completedAt ?? '') - (started ? Date.parse(started.startedAt) : fullStartMs)) / 1000;
    const fullCounts = full.lastCycle?.counts;
    if (!fullCounts || fullCounts.create + fullCounts.update + fullCounts.delete !== 0)
      throw new Error(`the FULL cycle of the synced directory had changes: ${JSON.stringify(fullCounts)}`);

    const objectsPerSecond = objects / seconds;
    const summary = {
      objects,
      seconds: round(seconds),
      pollSeconds: round(pollSeconds),
      objectsPerSecond: Math.round(objectsPerSecond),
      ldapsearchSeconds: round(dump.seconds),
      ratioToLdapsearch: round(objectsPerSecond / (objects / dump.seconds)),
      controllerPeakRssMb: peakRssMb(system.controller?.child.pid),
      agentPeakRssMb: agentPeak,
      redisUsedMemoryMb: round(after.usedMemory / 1048576),
      quietCycleSeconds: round(quietSeconds),
      quietCyclePollSeconds: round(quietPollSeconds),
      firstQuietCycleSeconds: round(firstQuietSeconds),
      quietCycleChangeTracking: quiet.lastCycle?.changeTracking ?? null,
      quietCycleRedisKeysAdded: after.keys - before.keys,
      changeCycleObjects: changed,
      changeCycleSeconds: round(changeSeconds),
      changeCycleChangeTracking: change.lastCycle?.changeTracking ?? null,
      fullCycleSeconds: round(fullSeconds),
      changeToFull: round(changeSeconds / fullSeconds),
      changeToInitialSync: round(changeSeconds / seconds),
      fullCycleAgentPeakRssMb: peakRssMb(system.agents.get(agentId)?.process?.child.pid),
      loadAverageAtStart: loadAtStart,
      loadAverage: loadAverage(),
      initialSyncCpuSeconds: cpu,
    };
    if (profileDir) {
      // A profile is written on a clean exit only.
      await Promise.all([...system.agents.values()].map((a) => a.process?.stop('SIGTERM', 10_000)));
      await system.controller?.stop('SIGTERM', 10_000);
      console.error(`bench:sync: CPU profiles in ${profileDir}`);
    }
    console.log(JSON.stringify(summary));
  } finally {
    await system.dispose();
  }
}

/** The JSON log lines of a program between two times: offset from `fromMs`, source and message. */
function timeline(source: string, log: string, fromMs: number, toMs: number): { at: number; text: string }[] {
  const out: { at: number; text: string }[] = [];
  for (const line of log.split('\n')) {
    let entry: { time?: number | string; msg?: string; level?: number };
    try {
      entry = JSON.parse(line) as { time?: number | string; msg?: string; level?: number };
    } catch {
      continue;
    }
    const time = typeof entry.time === 'string' ? Date.parse(entry.time) : entry.time;
    if (time === undefined || Number.isNaN(time) || time < fromMs || time > toMs) continue;
    // Warnings and errors with their fields (which error, which command), cut at 300 characters.
    const { time: _t, msg: _m, level, ...rest } = entry;
    const details = (level ?? 0) >= 40 ? ` ${JSON.stringify(rest).slice(0, 300)}` : '';
    out.push({ at: time - fromMs, text: `${source}: ${entry.msg ?? ''}${details}` });
  }
  return out;
}

async function redisInfo(system: TestSystem): Promise<{ usedMemory: number; keys: number }> {
  const info = await waitFor(() => system.redis.command('INFO', 'memory'), { message: 'redis INFO' });
  const used = /used_memory:(\d+)/.exec(info);
  const dbsize = await system.redis.command('DBSIZE');
  return { usedMemory: used ? Number(used[1]) : 0, keys: Number(/:(\d+)/.exec(dbsize)?.[1] ?? 0) };
}

/** The machine's load average (1, 5 and 15 minutes): the figures depend on what else runs. */
function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100);
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

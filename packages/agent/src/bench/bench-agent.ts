/*
 * npm run bench:agent [-- --objects N] [--accesslog | --samba [--tracking usn|dirsync]]
 *
 * Seeds a private slapd with N inetOrgPerson users (slapadd once; later runs copy the seeded
 * database from the testkit's cache, SYNCGUARD_SLAPD_CACHE or <tmp>/syncguard-slapd-cache), runs one FULL cycle of the
 * agent (in a child process, so that its peak RSS is its own) into an in-process sink (a
 * MiniController that decodes every frame and acknowledges it), times a raw paged
 * `ldapsearch` dump of the same entries, then modifies 1% of the users and runs a DELTA
 * cycle, then a quiet DELTA. With `--accesslog` slapd keeps an accesslog and the agent's
 * DELTAs read it; otherwise they scan. `--samba` runs it all against a Samba AD DC instead
 * (default 20,000 users, seeded offline with ldbadd and cached as a provisioned domain, so that
 * later runs start in seconds), bound as the Administrator, the DELTAs reading USNs
 * (LDAP_CHANGE_TRACKING=usn) or, with `--tracking dirsync`, DirSync. Prints one JSON line last. `--profile DIR` writes a V8 CPU profile of the agent
 * (`--cpu-prof`) into DIR when it exits.
 */
import { execFile, fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ChangeTracking, CycleMode, ObjectType } from '@syncguard/protocol';
import { adOusLdif, adUsersLdif, usersSeed, startSambaDc, startSlapd, waitFor } from '@syncguard/testkit';
import { MiniController } from '../testing/mini-controller';

const run = promisify(execFile);

/** CPU time (user + system) a process used so far, in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5) (utime, stime) are at 11 and 12 after the command name, in ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number >= 1`);
  return value;
}

/** The directory under test: its LDAP settings for the agent, a raw dump command, and a writer. */
interface Directory {
  people: string;
  /** The DN of the n-th seeded user. */
  userDn(n: number): string;
  env: Record<string, string>;
  /** A shell command that prints the paged dump's entries as `dn:` lines. */
  dump: string;
  modify(ldif: string): Promise<void>;
  dispose(): Promise<void>;
}

async function openldap(objects: number, accesslog: boolean, log: (m: string) => void): Promise<Directory> {
  const people = 'ou=people,dc=example,dc=com';
  log(`seeding slapd with ${objects} users (slapadd the first time, then a copy of the cached database)`);
  const started = Date.now();
  const slapd = await startSlapd({ cachedSeed: usersSeed(people, objects), accesslog, noSync: true });
  log(`slapd ready in ${((Date.now() - started) / 1000).toFixed(1)} s${slapd.seededFromCache ? ' (from the cache)' : ''}`);
  // slapadd writes no log: one write before the FULL, for its scan to anchor the log on.
  if (accesslog) await slapd.modify(`dn: ${people}\nchangetype: modify\nreplace: description\ndescription: bench\n`);
  return {
    people,
    userDn: (n) => `uid=user${n},${people}`,
    env: {
      LDAP_URL: slapd.url,
      LDAP_BIND_DN: slapd.rootDn,
      LDAP_BIND_PASSWORD: slapd.rootPassword,
      LDAP_CHANGE_TRACKING: accesslog ? 'accesslog' : 'scan',
    },
    dump: `ldapsearch -x -LLL -H ${slapd.url} -D '${slapd.rootDn}' -w ${slapd.rootPassword} -E pr=1000/noprompt -b '${people}' '(objectClass=inetOrgPerson)' '*' entryUUID`,
    modify: (ldif) => slapd.modify(ldif),
    dispose: () => slapd.dispose(),
  };
}

async function samba(objects: number, tracking: string, log: (m: string) => void): Promise<Directory> {
  if (tracking !== 'usn' && tracking !== 'dirsync') throw new Error('--tracking must be usn or dirsync');
  const people = 'OU=bench,DC=corp,DC=example';
  log(`starting a Samba AD DC with ${objects} users (seeded offline the first time, then from its cache)`);
  const started = Date.now();
  const dc = await startSambaDc({ seedLdif: adOusLdif(people) + adUsersLdif(people, objects) });
  log(`Samba ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return {
    people,
    userDn: (n) => `CN=user${n},${people}`,
    env: {
      LDAP_URL: dc.url,
      LDAP_CA_FILE: dc.caFile,
      LDAP_BIND_DN: dc.adminDn,
      LDAP_BIND_PASSWORD: dc.adminPassword,
      LDAP_CHANGE_TRACKING: tracking,
    },
    dump: `LDAPTLS_CACERT='${dc.caFile}' ldapsearch -x -LLL -H ${dc.url} -D '${dc.adminDn}' -w '${dc.adminPassword}' -E pr=1000/noprompt -b '${people}' '(&(objectCategory=person)(objectClass=user))' '*' objectGUID`,
    modify: (ldif) => dc.modify(ldif),
    dispose: () => dc.dispose(),
  };
}

async function main(): Promise<void> {
  const onSamba = process.argv.includes('--samba');
  const objects = arg('objects', onSamba ? 20_000 : 100_000);
  const profileDir = stringArg('profile');
  const loadAtStart = loadAverage();
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
  // --accesslog: slapd keeps an accesslog and the agent reads it (LDAP_CHANGE_TRACKING=accesslog).
  const directory = onSamba
    ? await samba(objects, stringArg('tracking') ?? 'usn', log)
    : await openldap(objects, process.argv.includes('--accesslog'), log);
  const people = directory.people;
  const controller = await MiniController.start({ keepChanges: false });
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-bench-'));
  const child = fork(path.join(__dirname, '..', 'main.js'), [], {
    env: {
      ...process.env,
      SYNCGUARD_CONTROLLER_URL: controller.url,
      SYNCGUARD_AGENT_TOKEN: controller.token,
      SYNCGUARD_AGENT_ID: 'bench-agent',
      SYNCGUARD_STATE_DIR: stateDir,
      SYNCGUARD_LOG_LEVEL: process.env['BENCH_AGENT_LOG_LEVEL'] ?? 'warn',
      ...directory.env,
      ...(process.env['BENCH_PAGE_SIZE'] ? { LDAP_PAGE_SIZE: process.env['BENCH_PAGE_SIZE'] } : {}),
      LDAP_DELTA_SKEW: '0s',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // e.g. BENCH_AGENT_EXEC_ARGV="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the agent.
    execArgv: [
      ...(process.env['BENCH_AGENT_EXEC_ARGV']?.split(' ').filter(Boolean) ?? []),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profileDir)}`] : []),
    ],
  });
  try {
    await waitFor(() => controller.connected, { timeoutMs: 30_000, message: 'agent connected' });
    const scope = { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] };
    // 10 minutes, or 30 per million objects: a million took over 10 minutes with two other
    // million-object benchmarks running at a load average of 25.
    const cycleTimeoutMs = Math.max(600_000, Math.round((objects / 1_000_000) * 1_800_000));

    // The seed's modifyTimestamps must be older than the FULL's DELTA watermark (one-second
    // resolution), as in any directory not written to in the second before a cycle.
    await new Promise((r) => setTimeout(r, 2000));
    log('FULL cycle');
    const c0 = cpuMs(child.pid);
    const t0 = process.hrtime.bigint();
    const full = controller.startCycle('bench', scope, CycleMode.CYCLE_MODE_FULL);
    const complete = await waitFor(() => controller.complete(full) ?? controller.failed(full), {
      timeoutMs: cycleTimeoutMs,
      intervalMs: 5,
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const fullCpuMs = cpuMs(child.pid) - c0;
    if (!controller.complete(full)) throw new Error(`FULL cycle failed: ${JSON.stringify(complete)}`);
    if (controller.changeCount(full) !== objects)
      throw new Error(`sink received ${controller.changeCount(full)} changes, expected ${objects}`);
    controller.commit('bench', full);
    const c1 = cpuMs(child.pid);

    log('ldapsearch paged dump');
    const t1 = process.hrtime.bigint();
    const { stdout } = await run('sh', ['-c', `${directory.dump} | grep -c '^dn:'`], { maxBuffer: 1024 * 1024 });
    const ldapsearchSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    if (Number(stdout.trim()) !== objects) throw new Error(`ldapsearch returned ${stdout.trim()} entries`);

    const changed = Math.max(1, Math.floor(objects / 100));
    log(`modifying ${changed} users (1%)`);
    await new Promise((r) => setTimeout(r, 1100)); // modifyTimestamp has one-second resolution
    const step = Math.floor(objects / changed);
    const mods: string[] = [];
    for (let i = 0; i < changed; i++)
      mods.push(`dn: ${directory.userDn(i * step)}\nchangetype: modify\nreplace: title\ntitle: Bench ${i}\n`);
    await directory.modify(mods.join('\n'));

    // Idle apart from applying the FULL cycle to its cache on CycleCommitted.
    const commitCpuMs = cpuMs(child.pid) - c1;
    log('DELTA cycle');
    const c2 = cpuMs(child.pid);
    const t2 = process.hrtime.bigint();
    const delta = controller.startCycle('bench', scope, CycleMode.CYCLE_MODE_DELTA, full);
    await waitFor(() => controller.complete(delta) ?? controller.failed(delta), { timeoutMs: cycleTimeoutMs, intervalMs: 5 });
    const deltaSeconds = Number(process.hrtime.bigint() - t2) / 1e9;
    const deltaCpuMs = cpuMs(child.pid) - c2;
    const deltaComplete = controller.complete(delta);
    if (!deltaComplete) throw new Error(`DELTA cycle failed: ${JSON.stringify(controller.failed(delta))}`);
    if (deltaComplete.mode !== CycleMode.CYCLE_MODE_DELTA || deltaComplete.totals.modifies !== changed) {
      throw new Error(`DELTA cycle: unexpected ${JSON.stringify(deltaComplete)}`);
    }
    controller.commit('bench', delta);

    log('quiet DELTA cycle');
    const t3 = process.hrtime.bigint();
    const quiet = controller.startCycle('bench', scope, CycleMode.CYCLE_MODE_DELTA, delta);
    await waitFor(() => controller.complete(quiet) ?? controller.failed(quiet), { timeoutMs: cycleTimeoutMs, intervalMs: 5 });
    const quietSeconds = Number(process.hrtime.bigint() - t3) / 1e9;
    const quietComplete = controller.complete(quiet);
    if (!quietComplete || quietComplete.totals.modifies + quietComplete.totals.adds + quietComplete.totals.deletes !== 0) {
      throw new Error(`quiet DELTA cycle: unexpected ${JSON.stringify(quietComplete ?? controller.failed(quiet))}`);
    }

    const peakRssMb = await new Promise<number>((resolve) => {
      child.once('exit', () => undefined);
      child.once('message', (m: { peakRssKb?: number }) => resolve((m.peakRssKb ?? 0) / 1024));
      child.send({ type: 'resourceUsage' });
    });
    const objectsPerSecond = objects / seconds;
    const result = {
      objects,
      seconds: round(seconds),
      objectsPerSecond: Math.round(objectsPerSecond),
      ldapsearchSeconds: round(ldapsearchSeconds),
      ratioToLdapsearch: round(objectsPerSecond / (objects / ldapsearchSeconds)),
      peakRssMb: round(peakRssMb, 1),
      deltaSeconds: round(deltaSeconds),
      deltaToFull: round(deltaSeconds / seconds),
      quietSeconds: round(quietSeconds),
      changeTracking: ChangeTracking[deltaComplete.changeTracking],
      quietChangeTracking: ChangeTracking[quietComplete.changeTracking],
      fullCpuSeconds: round(fullCpuMs / 1000, 2),
      commitCpuSeconds: round(commitCpuMs / 1000, 2),
      deltaCpuSeconds: round(deltaCpuMs / 1000, 2),
      loadAverageAtStart: loadAtStart,
      loadAverage: loadAverage(),
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
    await controller.close();
    await directory.dispose();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The machine's load average (1, 5 and 15 minutes): the figures depend on what else runs. */
function loadAverage(): number[] {
  return os.loadavg().map((l) => round(l, 2));
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

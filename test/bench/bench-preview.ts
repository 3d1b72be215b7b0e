/**
 * `npm run bench:preview [-- --objects N]`: the whole product on loopback (slapd seeded with N
 * users, default 100,000; Redis; the controller and agent programs). After the initial sync the
 * controller is restarted and the reconnect's cycle waited for, so that its peak RSS (VmHWM)
 * from then on is what a preview adds to an idle controller. Then one preview of a filter change
 * that drops the users whose mail starts with `user1` (11,111 of 100,000), timed from its POST to
 * its `completedAt`. The last line is JSON: `objects`, `initialSyncSeconds` (for scale, on the
 * same machine at the same time), `previewSeconds`, `counts`,
 * `wouldQuarantine`, the controller's peak RSS before and after the preview
 * (`controllerPeakRssMbBefore`, `controllerPeakRssMbAfter`), its and the agent's CPU seconds
 * during it, the agent's peak RSS, the load average, and Redis `used_memory` before and after (MB; the seen set is gone once the
 * preview ends).
 */
import fs from 'node:fs';
import { usersLdif, waitFor } from '@syncguard/testkit';
import { startSystem, type TestSystem } from '../harness';
import { arg } from './args';

function procStatus(pid: number | undefined, field: 'VmHWM' | 'VmRSS'): number | null {
  if (!pid) return null;
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
}

function cpuSeconds(pid: number | undefined): number | null {
  if (!pid) return null;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function usedMemoryMb(system: TestSystem): Promise<number> {
  const info = await system.redis.command('INFO', 'memory');
  return Math.round(Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0) / 104857.6) / 10;
}

interface PreviewView {
  state: string;
  completedAt: string | null;
  objects: number;
  counts: { create: number; update: number; delete: number } | null;
  wouldQuarantine: boolean | null;
  error: { code: string; message: string } | null;
}

async function main(): Promise<void> {
  const objects = arg('objects', 100_000);
  const people = 'ou=people,dc=example,dc=com';
  console.error(`bench:preview: seeding slapd with ${objects} users`);
  const system = await startSystem({
    slapd: { seedLdif: usersLdif(people, objects) },
    agentEnv: { LDAP_CHANGE_TRACKING: 'scan' },
  });
  try {
    const agentId = await system.addAgent('bench');
    console.error('bench:preview: initial sync');
    const syncStartMs = Date.now();
    const { id } = await system.createConfiguration({
      name: 'bench',
      agentIds: [agentId],
      source: { baseDn: people, objectTypes: ['user'] },
      syncIntervalSeconds: 86_400,
      accidentalDeletes: { enabled: true, threshold: 500 },
    });
    const synced = await system.firstCycle(id);
    const initialSyncSeconds = (Date.parse(synced.lastCycle?.completedAt ?? '') - syncStartMs) / 1000;
    console.error('bench:preview: restarting the controller');
    await system.stopController();
    await system.startController();
    await waitFor(async () => (await system.api.get<{ status: string }>(`/api/v1/agents/${agentId}`)).status === 'connected', {
      timeoutMs: 120_000,
      message: 'the agent back',
    });
    await system.waitForIdle(id);
    const pid = system.controller?.child.pid;
    const agentPid = system.agents.get(agentId)?.process?.child.pid;
    const before = {
      peak: procStatus(pid, 'VmHWM'),
      rss: procStatus(pid, 'VmRSS'),
      cpu: cpuSeconds(pid),
      agentCpu: cpuSeconds(agentPid),
      redis: await usedMemoryMb(system),
    };

    console.error('bench:preview: preview');
    const startMs = Date.now();
    const { previewId } = await system.api.post<{ previewId: string }>(`/api/v1/configurations/${id}/preview`, {
      source: { filter: '(!(mail=user1*))' },
    });
    const p = await waitFor(
      async () => {
        const v = await system.api.get<PreviewView>(`/api/v1/configurations/${id}/previews/${previewId}`);
        return v.state === 'running' ? undefined : v;
      },
      { timeoutMs: 600_000, intervalMs: 100, message: 'the preview' },
    );
    if (p.state !== 'complete') throw new Error(`the preview failed: ${JSON.stringify(p.error)}`);
    const cpu = cpuSeconds(pid);
    const agentCpu = cpuSeconds(agentPid);
    const summary = {
      objects,
      initialSyncSeconds,
      previewSeconds: (Date.parse(p.completedAt ?? '') - startMs) / 1000,
      previewObjects: p.objects,
      counts: p.counts,
      wouldQuarantine: p.wouldQuarantine,
      controllerPeakRssMbBefore: before.peak,
      controllerPeakRssMbAfter: procStatus(pid, 'VmHWM'),
      controllerRssMbBefore: before.rss,
      controllerRssMbAfter: procStatus(pid, 'VmRSS'),
      controllerCpuSeconds: cpu === null || before.cpu === null ? null : Math.round((cpu - before.cpu) * 100) / 100,
      agentCpuSeconds:
        agentCpu === null || before.agentCpu === null ? null : Math.round((agentCpu - before.agentCpu) * 100) / 100,
      agentPeakRssMb: procStatus(agentPid, 'VmHWM'),
      redisUsedMbBefore: before.redis,
      redisUsedMbAfter: await usedMemoryMb(system),
      loadAverage: fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
    };
    console.log(JSON.stringify(summary));
  } finally {
    await system.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

/**
 * npm run bench:scim-view [-- --users N] [--runs N]
 *
 * The read-only SCIM view of the cloud directory at N users (default 100,000, plus 100
 * groups): slapd seeded, the real agent and controller programs, Redis; the first cycle
 * applies them all. Then each query is sent `runs` times (default 20) over HTTP and its median
 * time taken: `userName eq` of the last user (the name index), `externalId eq` (by key), a
 * group's `displayName eq`, the last page (`startIndex` N - 99, `count` 100: by rank), and,
 * for contrast, a user's `displayName eq` (not indexed: read from the directory's start).
 * Prints one JSON line last.
 */
import { groupLdif, userDns, usersLdif } from '@syncguard/testkit';
import { startSystem } from '../harness';
import { arg } from './args';

const PEOPLE = 'ou=people,dc=example,dc=com';
const GROUPS = 'ou=groups,dc=example,dc=com';

async function main(): Promise<void> {
  const users = arg('users', 100_000);
  const runs = arg('runs', 20);
  let ldif = usersLdif(PEOPLE, users);
  for (let g = 0; g < 100; g++) ldif += groupLdif(GROUPS, `group${g}`, userDns(PEOPLE, 10, { start: (g * 10) % users }));
  const system = await startSystem({ slapd: { seedLdif: ldif } });
  try {
    const agentId = await system.addAgent('bench');
    const { id } = await system.createConfiguration({
      name: 'bench',
      agentIds: [agentId],
      source: { baseDn: 'dc=example,dc=com', objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 86_400,
    });
    const status = await system.waitForCycle(id, 'applied', { timeoutMs: 600_000 });
    if (status.lastCycle!.counts.create !== users + 100) throw new Error(`created ${JSON.stringify(status.lastCycle!.counts)}`);
    const reader = await system.api.post<{ token: string }>('/api/v1/tokens', { name: 'bench-reader', role: 'reader' });
    const get = async (path: string) => {
      const res = await fetch(`${system.url}/scim/v2/configurations/${id}${path}`, {
        headers: { authorization: `Bearer ${reader.token}` },
      });
      const body = (await res.json()) as { totalResults?: number; Resources?: Array<{ id: string }> };
      if (res.status !== 200) throw new Error(`GET ${path}: HTTP ${res.status} ${JSON.stringify(body)}`);
      return body;
    };
    const q = (f: string) => `filter=${encodeURIComponent(f)}`;
    const last = `user${users - 1}`;
    const lastUser = (await get(`/Users?${q(`userName eq "${last}"`)}`)).Resources![0]!;
    const queries: Record<string, { path: string; expect: number }> = {
      userNameEq: { path: `/Users?${q(`userName eq "${last}"`)}`, expect: 1 },
      externalIdEq: { path: `/Users?${q(`externalId eq "${lastUser.id}"`)}`, expect: 1 },
      groupDisplayNameEq: { path: `/Groups?${q('displayName eq "group99"')}`, expect: 1 },
      lastPage: { path: `/Users?startIndex=${users - 99}&count=100`, expect: 100 },
      userDisplayNameEqScan: { path: `/Users?${q(`displayName eq "User ${last}"`)}`, expect: 1 },
    };
    const medianMs: Record<string, number> = {};
    for (const [name, { path, expect }] of Object.entries(queries)) {
      const times: number[] = [];
      // The scan reads the whole directory: fewer runs of it.
      const n = name.endsWith('Scan') ? Math.min(runs, 3) : runs;
      for (let i = 0; i < n; i++) {
        const start = process.hrtime.bigint();
        const body = await get(path);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (body.Resources?.length !== expect)
          throw new Error(`${name}: ${body.Resources?.length} resources, expected ${expect}`);
      }
      times.sort((a, b) => a - b);
      medianMs[name] = Math.round(times[Math.floor(times.length / 2)]! * 10) / 10;
    }
    console.log(JSON.stringify({ bench: 'scim-view', users, groups: 100, runs, medianMs }));
  } finally {
    await system.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

/**
 * npm run bench:scim [-- --users N] [--groups N] [--concurrency N]
 *
 * Initial sync into a SCIM 2.0 service provider: slapd seeded with N users (default 10,000)
 * and G groups (default 200, 50 members each), the real agent and controller programs, Redis,
 * and the in-process SCIM peer of the testkit. Times the first cycle from the configuration's
 * creation until it is applied (the cycle's completedAt), then, in the same run and against a
 * fresh peer, a plain client: a POST loop of the same resources (already mapped, no matching,
 * no members resolved) with the same concurrency. `ratio` = plain seconds / sync seconds
 * (1.0: as fast as the bare POSTs; target >= 0.7). Prints one JSON line last.
 */
import fs from 'node:fs';
import { ScimPeer, groupLdif, userDns, usersLdif } from '@syncguard/testkit';
import { startSystem } from '../harness';
import { arg } from './args';

/** Peak resident set size of a process, from /proc (VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : null;
  } catch {
    return null;
  }
}

const PEOPLE = 'ou=people,dc=example,dc=com';
const GROUPS = 'ou=groups,dc=example,dc=com';
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** The plain client: the same resources POSTed by `concurrency` loops, nothing else. */
async function plainPostLoop(peer: ScimPeer, users: number, groups: number, concurrency: number): Promise<number> {
  const headers = { authorization: `Bearer ${peer.token}`, 'content-type': 'application/scim+json' };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${peer.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    await res.text();
    if (res.status !== 201) throw new Error(`POST ${path}: HTTP ${res.status}`);
  };
  const ids: string[] = [];
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < users) {
        const n = next++;
        await post('/Users', {
          schemas: [USER_SCHEMA, ENTERPRISE],
          userName: `user${n}`,
          externalId: `ext-${n}`,
          active: true,
          displayName: `User user${n}`,
          name: { givenName: `Given${n}`, familyName: `user${n}` },
          emails: [{ value: `user${n}@example.com`, type: 'work', primary: true }],
          title: `Engineer ${n % 17}`,
          [ENTERPRISE]: { employeeNumber: String(n) },
        });
      }
    }),
  );
  for (const u of peer.users()) ids.push(u.id);
  let g = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (g < groups) {
        const n = g++;
        await post('/Groups', {
          schemas: [GROUP_SCHEMA],
          displayName: `group${n}`,
          externalId: `gext-${n}`,
          members: ids.slice((n * 50) % users, ((n * 50) % users) + 50).map((value) => ({ value })),
        });
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function main(): Promise<void> {
  const users = arg('users', 10_000);
  const groups = arg('groups', 200);
  const concurrency = arg('concurrency', 8);
  let ldif = usersLdif(PEOPLE, users);
  for (let g = 0; g < groups; g++)
    ldif += groupLdif(GROUPS, `group${g}`, userDns(PEOPLE, Math.min(50, users), { start: (g * 50) % users }));
  const peer = await ScimPeer.start();
  const system = await startSystem({
    slapd: { seedLdif: ldif },
    controllerEnv: { SYNCGUARD_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') },
  });
  try {
    const agentId = await system.addAgent('bench');
    const createdAt = Date.now();
    const { id } = await system.createConfiguration({
      name: 'bench',
      agentIds: [agentId],
      source: { baseDn: 'dc=example,dc=com', objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 86_400,
      target: { type: 'scim', baseUrl: peer.url, auth: { type: 'bearer', token: peer.token }, concurrency },
    });
    // The controller starts the first cycle itself (the agent is connected); it may take minutes.
    const status = await system.waitForCycle(id, 'applied', { timeoutMs: 1_800_000 });
    const completedAt = Date.parse(status.lastCycle!.completedAt!);
    const syncSeconds = (completedAt - createdAt) / 1000;
    const counts = status.lastCycle!.counts as Record<string, number>;
    if (peer.users().length !== users || peer.groups().length !== groups || counts.failed !== 0)
      throw new Error(
        `the peer holds ${peer.users().length} users and ${peer.groups().length} groups, counts ${JSON.stringify(counts)}`,
      );
    const requests = peer.requests.length;
    const controllerPeakRssMb = peakRssMb(system.controller?.child.pid);
    await peer.close();

    const fresh = await ScimPeer.start();
    const plainSeconds = await plainPostLoop(fresh, users, groups, concurrency);
    await fresh.close();
    const summary = {
      bench: 'scim',
      users,
      groups,
      concurrency,
      syncSeconds: Math.round(syncSeconds * 100) / 100,
      plainSeconds: Math.round(plainSeconds * 100) / 100,
      ratio: Math.round((plainSeconds / syncSeconds) * 1000) / 1000,
      syncRequests: requests,
      plainRequests: users + groups,
      controllerPeakRssMb,
      targets: { ratio: 0.7, controllerPeakRssMb: 250 },
      ok: plainSeconds / syncSeconds >= 0.7 && (controllerPeakRssMb ?? 0) <= 250,
    };
    console.log(JSON.stringify(summary));
  } finally {
    await system.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});

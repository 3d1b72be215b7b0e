/**
 * Issue 19 end to end: the real agent and controller programs, slapd, Redis and a real
 * SCIM 2.0 peer (ScimPeer: SCIMMY in-process). A configuration whose target is the peer
 * provisions users and groups into it, changes them with PATCHes of only what changed,
 * sends nothing on a quiet cycle, holds a mass delete with no DELETE sent, survives a 429
 * storm, logs and retries a permanent failure, stops on TargetFailures, and never shows
 * nor stores its secrets in clear.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ScimPeer, groupLdif, userDns, usersLdif, type ScimResource } from '@syncguard/testkit';
import { ApiError } from '../harness/api-client';
import { startSystem, type CycleView, type TestSystem } from '../harness';

const PEOPLE = 'ou=people,dc=example,dc=com';
const GROUPS = 'ou=groups,dc=example,dc=com';
const USERS = 3000;
const GROUP_COUNT = 100;
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

function seed(): string {
  let ldif = usersLdif(PEOPLE, USERS);
  // 40 members each; the groups past the users' count start again from user0.
  for (let g = 0; g < GROUP_COUNT; g++) ldif += groupLdif(GROUPS, `group${g}`, userDns(PEOPLE, 40, { start: (g * 40) % USERS }));
  return ldif;
}

function mailChange(uids: string[], mail: (uid: string) => string): string {
  return uids.map((u) => `dn: uid=${u},${PEOPLE}\nchangetype: modify\nreplace: mail\nmail: ${mail(u)}\n`).join('\n');
}

const uids = (from: number, count: number) => Array.from({ length: count }, (_, i) => `user${from + i}`);
const email = (r: ScimResource | undefined) => (r?.emails as Array<{ value: string }> | undefined)?.[0]?.value;

describe('SCIM 2.0 target end to end', () => {
  let system: TestSystem;
  let peer: ScimPeer;
  let configId: string;
  const secretKey = randomBytes(32).toString('base64');

  beforeAll(async () => {
    peer = await ScimPeer.start();
    system = await startSystem({
      slapd: { seedLdif: seed() },
      controllerEnv: { SYNCGUARD_SECRET_KEY: secretKey },
      // Small apply chunks, so that TargetFailures can be seen to stop a cycle between chunks.
      controllerConfig: { applyChunkSize: 100 },
    });
    const agentId = await system.addAgent('dc1');
    ({ id: configId } = await system.createConfiguration({
      name: 'example.com',
      agentIds: [agentId],
      source: { baseDn: 'dc=example,dc=com', objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 3600,
      target: { type: 'scim', baseUrl: peer.url, auth: { type: 'bearer', token: peer.token }, concurrency: 8 },
    }));
  });
  afterAll(async () => {
    await system?.dispose();
    await peer?.close();
  });

  it(`the first cycle creates ${USERS} users and ${GROUP_COUNT} groups in the peer, with members`, async () => {
    // The controller starts it itself; the peer (SCIMMY) takes about 100 requests a second here.
    const status = await system.waitForCycle(configId, 'applied', { timeoutMs: 590_000 });
    expect(status.lastCycle?.counts).toEqual({ create: USERS + GROUP_COUNT, update: 0, delete: 0, failed: 0 });
    expect(peer.users()).toHaveLength(USERS);
    expect(peer.groups()).toHaveLength(GROUP_COUNT);
    const u7 = peer.user('user7')!;
    expect(u7).toMatchObject({
      userName: 'user7',
      active: true,
      title: 'Engineer 7',
      name: { givenName: 'Given7', familyName: 'user7' },
    });
    expect(email(u7)).toBe('user7@example.com');
    expect(u7[ENTERPRISE]).toMatchObject({ employeeNumber: '7' });
    expect(typeof u7.externalId).toBe('string');
    const g3 = peer.group('group3')!;
    const memberNames = (g3.members as Array<{ value: string }>).map((m) => peer.users().find((u) => u.id === m.value)?.userName);
    expect(memberNames.sort()).toEqual(uids(120, 40).sort());
    // Every request spoke SCIM JSON with the bearer token; the peer held none but ours, so nothing was matched.
    expect(peer.requests.filter((r) => r.path.includes('filter='))).toHaveLength(0);
    expect(peer.requests.every((r) => r.authorization === `Bearer ${peer.token}`)).toBe(true);
    expect(
      peer.requests.filter((r) => r.body !== null && r.method !== 'GET').every((r) => r.contentType === 'application/scim+json'),
    ).toBe(true);
    expect(peer.requests.filter((r) => r.method === 'POST')).toHaveLength(USERS + GROUP_COUNT);
    expect(peer.requests.filter((r) => r.method === 'PUT')).toHaveLength(0);
    // The peer bounds this cycle: about 100 requests a second alone, a third of that on a loaded machine.
  }, 600_000);

  it('a quiet cycle sends no request at all', async () => {
    peer.clearRequests();
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 0, update: 0, delete: 0, failed: 0 });
    expect(peer.requests).toEqual([]);
  });

  it('modifies are PATCHes of only what changed, member changes too', async () => {
    peer.clearRequests();
    await system.slapd.modify(mailChange(['user1', 'user2', 'user3'], (u) => `${u}@changed.example.com`));
    await system.slapd.modify(`dn: cn=group0,${GROUPS}\nchangetype: modify\ndelete: member\nmember: uid=user0,${PEOPLE}\n`);
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 0, update: 4, delete: 0, failed: 0 });
    const writes = peer.writes();
    expect(writes.map((w) => w.method)).toEqual(['PATCH', 'PATCH', 'PATCH', 'PATCH']);
    const userPatches = writes.filter((w) => w.path.startsWith('/scim/v2/Users/'));
    for (const w of userPatches) {
      const ops = (w.body as { Operations: Array<{ op: string; path: string }> }).Operations;
      expect(ops.map((o) => `${o.op} ${o.path}`)).toEqual(['replace emails']);
    }
    const groupPatch = writes.find((w) => w.path.startsWith('/scim/v2/Groups/'))!;
    expect((groupPatch.body as { Operations: Array<{ op: string; path: string }> }).Operations).toEqual([
      { op: 'remove', path: `members[value eq "${peer.user('user0')!.id}"]` },
    ]);
    expect(email(peer.user('user2'))).toBe('user2@changed.example.com');
    expect((peer.group('group0')!.members as unknown[]).length).toBe(39);
  });

  it('a permanent 400 is logged with status, scimType and detail, counted, and retried by a later cycle', async () => {
    peer.reject('user5', 'user5 is locked in the app');
    await system.slapd.modify(mailChange(['user5', 'user6'], (u) => `${u}@second.example.com`));
    const failed = await system.syncNow(configId);
    expect(failed.lastCycle?.counts).toEqual({ create: 0, update: 2, delete: 0, failed: 1 });
    expect(failed.state).toBe('healthy');
    const logs = await system.logs(configId, { cycleId: failed.lastCycle!.id });
    const entry = logs.find((l) => l.dn === `uid=user5,${PEOPLE}`)!;
    expect(entry).toMatchObject({ action: 'Update', status: 'failure' });
    expect(entry.details).toContain('HTTP 400 invalidValue: user5 is locked in the app');
    expect(email(peer.user('user6'))).toBe('user6@second.example.com');

    // Nothing changes at the source; the next cycle tries user5 again, and now it goes through.
    peer.reject('user5', null);
    const retried = await system.syncNow(configId);
    expect(retried.lastCycle?.counts).toEqual({ create: 0, update: 1, delete: 0, failed: 0 });
    expect(email(peer.user('user5'))).toBe('user5@second.example.com');
  });

  it('a 429 storm with Retry-After is waited out, and the cycle converges', async () => {
    peer.clearRequests();
    peer.throttle(25, 1);
    await system.slapd.modify(mailChange(uids(100, 30), (u) => `${u}@storm.example.com`));
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toEqual({ create: 0, update: 30, delete: 0, failed: 0 });
    expect(peer.requests.filter((r) => r.status === 429)).toHaveLength(25);
    for (const u of uids(100, 30)) expect(email(peer.user(u))).toBe(`${u}@storm.example.com`);
  });

  it("a 429 storm longer than the client's retries brings the next cycle forward, which converges without a manual cycle", async () => {
    peer.clearRequests();
    // Each request gives up after 6 attempts; 8 in flight take about 8 of these a second.
    peer.throttle(150, 1);
    await system.slapd.modify(mailChange(uids(400, 30), (u) => `${u}@long-storm.example.com`));
    const first = await system.syncNow(configId);
    const cycle = first.lastCycle as CycleView & {
      trigger: string;
      transient?: number;
      retryAt?: string;
      counts: { failed: number };
    };
    expect(first.state).toBe('healthy');
    expect(cycle.counts.failed).toBeGreaterThan(0);
    expect(cycle.transient).toBe(cycle.counts.failed);
    // After the Retry-After (1 s), bounded below by 1 s: well before the hourly schedule.
    expect(Date.parse(cycle.retryAt!) - Date.parse(cycle.completedAt!)).toBe(1000);
    const logs = await system.logs(configId, { cycleId: cycle.id });
    expect(logs.filter((l) => l.status === 'failure').every((l) => l.details?.includes('HTTP 429'))).toBe(true);

    // No manual cycle: the retry cycles run by themselves until nothing is left transient.
    let last = cycle.id;
    for (;;) {
      const next = await system.waitForCycle(configId, 'applied', { after: last, timeoutMs: 120_000 });
      const c = next.lastCycle as typeof cycle;
      expect(c.trigger).toBe('retry');
      last = c.id;
      if (c.counts.failed === 0) {
        expect(c.retryAt).toBeUndefined();
        break;
      }
    }
    expect(peer.requests.filter((r) => r.status === 429)).toHaveLength(150);
    for (const u of uids(400, 30)) expect(email(peer.user(u))).toBe(`${u}@long-storm.example.com`);
  });

  it('a mass delete is quarantined with no DELETE sent, and sent once the deletes are allowed', async () => {
    peer.clearRequests();
    await system.slapd.delete(userDns(PEOPLE, 600, { start: 900 }));
    const held = await system.syncNow(configId, 'quarantined');
    expect(held.quarantine).toMatchObject({ reason: 'TooManyDeletes', deleteCount: 600 });
    expect(peer.requests).toEqual([]);
    expect(peer.users()).toHaveLength(USERS);

    const released = await system.api.post<{ deleted: number }>(`/api/v1/configurations/${configId}/allow-deletes`);
    expect(released.deleted).toBe(600);
    expect(peer.users()).toHaveLength(USERS - 600);
    expect(peer.requests.filter((r) => r.method === 'DELETE')).toHaveLength(600);
    expect(peer.user('user1000')).toBeUndefined();
    // The release starts the next cycle: let it end before the next test changes the source.
    await system.waitForCycle(configId, 'applied', { after: held.lastCycle!.id });
  });

  it('deactivate mode PATCHes active false instead of deleting (the token is kept when not given again)', async () => {
    await system.api.patch(`/api/v1/configurations/${configId}`, { target: { deleteMode: 'deactivate' } });
    peer.clearRequests();
    await system.slapd.delete(userDns(PEOPLE, 5, { start: 850 }));
    const status = await system.syncNow(configId);
    expect(status.lastCycle?.counts).toMatchObject({ delete: 5, failed: 0 });
    expect(peer.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
    for (const u of uids(850, 5)) expect(peer.user(u)).toMatchObject({ active: false });
    expect(peer.users()).toHaveLength(USERS - 600);
  });

  it('TargetFailures: when too many operations fail the configuration is quarantined and nothing more is sent until restart', async () => {
    const rejected = uids(200, 150);
    for (const u of rejected) peer.reject(u, 'read-only account');
    peer.clearRequests();
    await system.slapd.modify(mailChange(rejected, (u) => `${u}@third.example.com`));
    const held = await system.syncNow(configId, 'quarantined');
    // Chunks of 100: the first fails whole (100 >= max(50, 40% of 150)); the next is never sent.
    expect(held.quarantine).toMatchObject({ reason: 'TargetFailures', deleteCount: 100, threshold: 60 });
    expect((held.lastCycle?.counts as { failed?: number }).failed).toBe(100);
    expect(peer.writes()).toHaveLength(100);
    const refused = await system.api.post(`/api/v1/configurations/${configId}/allow-deletes`).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).code).toBe('SG_ERR_TARGET_FAILURES');
    expect(peer.writes()).toHaveLength(100);

    for (const u of rejected) peer.reject(u, null);
    await system.api.post(`/api/v1/configurations/${configId}/restart`);
    await system.waitForCycle(configId, 'applied', { after: held.lastCycle!.id });
    for (const u of rejected) expect(email(peer.user(u))).toBe(`${u}@third.example.com`);
  });

  it('the token is never returned and never stored in clear', async () => {
    const cfg = await system.api.get<{ target: Record<string, unknown> }>(`/api/v1/configurations/${configId}`);
    expect(cfg.target).toMatchObject({ type: 'scim', baseUrl: peer.url, auth: { type: 'bearer', token: null, tokenSet: true } });
    const listed = await system.api.get<Array<Record<string, unknown>>>('/api/v1/configurations');
    expect(JSON.stringify(listed)).not.toContain(peer.token);
    const audit = await system.api.get('/api/v1/audit');
    expect(JSON.stringify(audit)).not.toContain(peer.token);
    // Everything Redis holds, written out uncompressed, does not hold the token.
    const cli = (...args: string[]) =>
      execFileSync('redis-cli', ['-p', String(system.redis.port), ...args], { encoding: 'utf8' }).trim();
    expect(cli('CONFIG', 'SET', 'rdbcompression', 'no')).toBe('OK');
    expect(cli('SAVE')).toBe('OK');
    const [, dir, , file] = cli('CONFIG', 'GET', 'dir')
      .split('\n')
      .concat(cli('CONFIG', 'GET', 'dbfilename').split('\n'));
    const dump = fs.readFileSync(path.join(dir!, file!));
    expect(dump.includes(Buffer.from(peer.users()[0]!.id))).toBe(true); // the dump does hold what is stored
    expect(dump.includes(Buffer.from(peer.token))).toBe(false);
  });

  it('a SCIM target is refused without a token, and with a bad field named', async () => {
    const bad = async (target: Record<string, unknown>) => {
      const e = (await system.api.patch(`/api/v1/configurations/${configId}`, { target }).catch((x: unknown) => x)) as ApiError;
      expect(e).toBeInstanceOf(ApiError);
      expect(e.status).toBe(400);
      return e.message;
    };
    expect(await bad({ auth: { type: 'oauth2', tokenUrl: peer.tokenUrl, clientId: 'x' } })).toContain('target.auth.clientSecret');
    expect(await bad({ auth: { type: 'bearer', token: '' } })).toContain('target.auth.token');
    expect(await bad({ concurrency: 0 })).toContain('target.concurrency');
    expect(await bad({ baseUrl: 'ftp://x' })).toContain('target.baseUrl');
    expect(await bad({ failureQuarantinePercent: 0 })).toContain('target.failureQuarantinePercent');
    expect(await bad({ deleteMode: 'purge' })).toContain('target.deleteMode');
    expect(await bad({ updateMethod: 'post' })).toContain('target.updateMethod');
  });

  it('OAuth 2.0 client credentials: the token is fetched once and reused', async () => {
    const oauthPeer = await ScimPeer.start({ oauth: { clientId: 'syncguard', clientSecret: 'oauth-secret-1' } });
    try {
      await system.slapd.add('dn: ou=contractors,dc=example,dc=com\nobjectClass: organizationalUnit\nou: contractors\n\n');
      await system.slapd.add(usersLdif('ou=contractors,dc=example,dc=com', 30, { prefix: 'contractor' }));
      const [agentId] = [...system.agents.keys()];
      const { id } = await system.createConfiguration({
        name: 'contractors',
        agentIds: [agentId!],
        source: { baseDn: 'ou=contractors,dc=example,dc=com', objectTypes: ['user'] },
        syncIntervalSeconds: 3600,
        target: {
          type: 'scim',
          baseUrl: oauthPeer.url,
          auth: { type: 'oauth2', tokenUrl: oauthPeer.tokenUrl, clientId: 'syncguard', clientSecret: 'oauth-secret-1' },
        },
      });
      const status = await system.firstCycle(id);
      expect(status.lastCycle?.counts).toEqual({ create: 30, update: 0, delete: 0, failed: 0 });
      expect(oauthPeer.users()).toHaveLength(30);
      expect(oauthPeer.requests.filter((r) => r.path === '/oauth/token')).toHaveLength(1);
      const cfg = await system.api.get<{ target: { auth: Record<string, unknown> } }>(`/api/v1/configurations/${id}`);
      expect(cfg.target.auth).toEqual({
        type: 'oauth2',
        tokenUrl: oauthPeer.tokenUrl,
        clientId: 'syncguard',
        clientSecret: null,
        clientSecretSet: true,
        scope: null,
      });
      await system.api.delete(`/api/v1/configurations/${id}`);
      // Removing the configuration deletes nothing in the application.
      expect(oauthPeer.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
      expect(oauthPeer.users()).toHaveLength(30);
    } finally {
      await oauthPeer.close();
    }
  });

  it('a member provisioned in a later cycle joins its group at the peer without the group changing', async () => {
    const teamPeer = await ScimPeer.start();
    try {
      const team = 'ou=team,dc=example,dc=com';
      await system.slapd.add(`dn: ${team}\nobjectClass: organizationalUnit\nou: team\n\n`);
      await system.slapd.add(usersLdif(team, 3, { prefix: 'team' }));
      await system.slapd.add(groupLdif(team, 'team', userDns(team, 3, { prefix: 'team' })));
      const [agentId] = [...system.agents.keys()];
      // team2 is outside the first filter: the group is created without it, waiting for it.
      const { id } = await system.createConfiguration({
        name: 'team',
        agentIds: [agentId!],
        source: { baseDn: team, filter: '(!(uid=team2))', objectTypes: ['user', 'group'] },
        syncIntervalSeconds: 3600,
        target: { type: 'scim', baseUrl: teamPeer.url, auth: { type: 'bearer', token: teamPeer.token } },
      });
      const first = await system.firstCycle(id);
      expect(first.lastCycle?.counts).toEqual({ create: 3, update: 0, delete: 0, failed: 0 });
      const names = () =>
        ((teamPeer.group('team')!.members as Array<{ value: string }>) ?? [])
          .map((m) => teamPeer.users().find((u) => u.id === m.value)?.userName)
          .sort();
      expect(names()).toEqual(['team0', 'team1']);
      const logs = await system.logs(id, { cycleId: first.lastCycle!.id });
      expect(logs.find((l) => l.objectType === 'group')!.details).toContain('1 member(s) not provisioned in the target yet');

      // The filter lets team2 in: it is created, and the waiting group gets it in a PATCH add.
      teamPeer.clearRequests();
      await system.api.patch(`/api/v1/configurations/${id}`, {
        source: { baseDn: team, filter: '', objectTypes: ['user', 'group'] },
      });
      const second = await system.syncNow(id);
      expect(second.lastCycle?.counts).toEqual({ create: 1, update: 0, delete: 0, failed: 0 });
      expect(names()).toEqual(['team0', 'team1', 'team2']);
      const writes = teamPeer
        .writes()
        .map((r) => `${r.method} ${r.path.replace(/^(\/scim\/v2\/(?:Users|Groups))\/.+$/, '$1/{id}')}`);
      expect(writes.sort()).toEqual(['PATCH /scim/v2/Groups/{id}', 'POST /scim/v2/Users']);

      // team1 leaves the scope (deleted at the peer): the group's record lets it go, and it rejoins when it is back.
      await system.api.patch(`/api/v1/configurations/${id}`, {
        source: { baseDn: team, filter: '(!(uid=team1))', objectTypes: ['user', 'group'] },
      });
      const third = await system.syncNow(id);
      expect(third.lastCycle?.counts).toMatchObject({ create: 0, update: 0, delete: 1, failed: 0 });
      expect(names()).toEqual(['team0', 'team2']);
      await system.api.patch(`/api/v1/configurations/${id}`, {
        source: { baseDn: team, filter: '', objectTypes: ['user', 'group'] },
      });
      const fourth = await system.syncNow(id);
      expect(fourth.lastCycle?.counts).toEqual({ create: 1, update: 0, delete: 0, failed: 0 });
      expect(names()).toEqual(['team0', 'team1', 'team2']);
      await system.api.delete(`/api/v1/configurations/${id}`);
    } finally {
      await teamPeer.close();
    }
  });

  it('the built-in cloud directory is served read-only as SCIM 2.0, with API tokens', async () => {
    const [agentId] = [...system.agents.keys()];
    const { id } = await system.createConfiguration({
      name: 'cloud',
      agentIds: [agentId!],
      source: { baseDn: 'dc=example,dc=com', objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 3600,
    });
    const status = await system.firstCycle(id);
    const total = status.lastCycle!.counts.create;
    const reader = await system.api.post<{ token: string }>('/api/v1/tokens', { name: 'scim-reader', role: 'reader' });
    const get = async (p: string, token: string | null = reader.token) => {
      const res = await fetch(`${system.url}/scim/v2/configurations/${id}${p}`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const one = await get(`/Users?filter=${encodeURIComponent('userName eq "USER7"')}`);
    expect(one.status).toBe(200);
    expect(one.type).toContain('application/scim+json');
    expect(one.body.totalResults).toBe(1);
    expect(one.body.Resources[0]).toMatchObject({ userName: 'user7', active: true, emails: [{ value: 'user7@example.com' }] });
    const byId = await get(`/Users/${one.body.Resources[0].id}`);
    expect(byId.body.userName).toBe('user7');

    const page = await get('/Users?startIndex=11&count=10');
    expect(page.body).toMatchObject({ startIndex: 11, itemsPerPage: 10 });
    const users = await get('/Users?count=1000');
    expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual(
      users.body.Resources.slice(10, 20).map((r: { id: string }) => r.id),
    );
    const groups = await get(`/Groups?filter=${encodeURIComponent('displayName eq "group3"')}`);
    expect(groups.body.totalResults).toBe(1);
    expect(groups.body.Resources[0].members).toHaveLength(40);
    expect(users.body.totalResults + (await get('/Groups?count=0')).body.totalResults).toBe(total);

    expect((await get('/Users', null)).status).toBe(401);
    expect((await get('/Users', 'not-a-token')).status).toBe(401);
    const badFilter = await get(`/Users?filter=${encodeURIComponent('title co "x"')}`);
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.scimType).toBe('invalidFilter');
    const unknown = await fetch(`${system.url}/scim/v2/configurations/00000000-0000-4000-8000-000000000000/Users`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    expect(unknown.status).toBe(404);
  });

  it('a configuration moved from the cloud directory to a SCIM target provisions everything there with its next cycle', async () => {
    const fresh = await ScimPeer.start();
    try {
      const [agentId] = [...system.agents.keys()];
      const { id } = await system.createConfiguration({
        name: 'moving',
        agentIds: [agentId!],
        source: { baseDn: 'ou=contractors,dc=example,dc=com', objectTypes: ['user'] },
        syncIntervalSeconds: 3600,
      });
      expect((await system.firstCycle(id)).lastCycle?.counts.create).toBe(30);
      expect(await system.objects(id)).toHaveLength(30);
      // The application already has one of them (made by hand): it is matched by userName, not created again.
      const made = await fetch(`${fresh.url}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${fresh.token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'contractor3',
          title: 'by hand',
        }),
      });
      expect(made.status).toBe(201);
      fresh.clearRequests();
      await system.api.patch(`/api/v1/configurations/${id}`, {
        target: { type: 'scim', baseUrl: fresh.url, auth: { type: 'bearer', token: fresh.token } },
      });
      const moved = await system.syncNow(id);
      expect(moved.lastCycle).toMatchObject({ mode: 'full', counts: { create: 30, update: 0, delete: 0, failed: 0 } });
      expect(fresh.users()).toHaveLength(30);
      expect(fresh.requests.filter((r) => r.method === 'POST')).toHaveLength(29);
      expect(fresh.requests.some((r) => r.method === 'GET' && r.path.includes('filter='))).toBe(true);
      expect(fresh.user('contractor3')).toMatchObject({ title: 'Engineer 3', active: true });
      expect(typeof fresh.user('contractor3')!.externalId).toBe('string');
      // What the cloud directory held for it is gone with the old target.
      expect(await system.objects(id)).toHaveLength(0);
    } finally {
      await fresh.close();
    }
  });
});

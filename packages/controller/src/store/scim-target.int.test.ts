import { ScimPeer, startRedis, type RedisServer } from '@syncguard/testkit';
import Redis from 'ioredis';
import { ScimClient } from '../targets/scim/scim-client';
import { ScimTarget, type ScimTargetOptions } from '../targets/scim/scim-target';
import type { TargetOperation, TargetOutcome } from '../targets/target';
import { Keys } from './keys';
import { ScimRecordStore } from './scim-record-store';
import { unitOfWork } from './unit-of-work';

/*
 * The SCIM target chunk by chunk against a real SCIM peer and a real Redis (its records
 * committed as the pipeline commits a chunk): members that arrive after their group, leave
 * it (deleted, renamed), and a member request that fails.
 */

jest.setTimeout(60_000);

const BASE = 'ou=people,dc=example,dc=com';
const dnOf = (uid: string) => `uid=${uid},${BASE}`;
let server: RedisServer;
let redis: Redis;
let peer: ScimPeer;
let n = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});
beforeEach(async () => {
  peer = await ScimPeer.start();
});
afterEach(async () => {
  await peer?.close();
});

type Upsert = Extract<TargetOperation, { kind: 'create' | 'update' }>;

function user(uid: string, kind: 'create' | 'update' = 'create', dn = dnOf(uid)): Upsert {
  return {
    kind,
    objectId: `id-${uid}`,
    objectType: 'user',
    dn,
    attributes: { uid: [uid], cn: [uid], sn: [uid], mail: [`${uid}@example.com`] },
    disabled: false,
    memberDns: [],
  };
}

function group(cn: string, members: string[], kind: 'create' | 'update' = 'create'): Upsert {
  return {
    kind,
    objectId: `id-${cn}`,
    objectType: 'group',
    dn: `cn=${cn},ou=groups,dc=example,dc=com`,
    attributes: { cn: [cn] },
    disabled: false,
    memberDns: members.map(dnOf),
  };
}

const del = (uid: string): TargetOperation => ({ kind: 'delete', objectId: `id-${uid}`, objectType: 'user', dn: dnOf(uid) });

/** A fresh configuration's target; `chunk` applies operations and commits the target's writes as the pipeline does. */
function setup(options: Partial<ScimTargetOptions> = {}) {
  const cfg = `${(++n).toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
  const keys = new Keys(`scimtest${n}`);
  const records = new ScimRecordStore(redis, keys);
  const client = new ScimClient({
    baseUrl: peer.url,
    credentials: { type: 'bearer', token: peer.token },
    concurrency: 4,
    maxRequestsPerSecond: null,
    timeoutMs: 5000,
    backoffMs: 5,
    maxAttempts: 2,
  });
  const target = new ScimTarget(client, records, {
    deleteMode: 'delete',
    mapping: null,
    failureQuarantinePercent: 40,
    ...options,
  });
  const chunk = async (ops: TargetOperation[]): Promise<TargetOutcome[]> => {
    const tx = redis.multi();
    const outcomes = await target.apply(cfg, ops, unitOfWork(tx));
    const results = await tx.exec();
    for (const [error] of results ?? []) if (error) throw error;
    return outcomes;
  };
  return { cfg, keys, records, chunk };
}

const memberNames = (cn: string) =>
  ((peer.group(cn)?.members as Array<{ value: string }> | undefined) ?? [])
    .map((m) => peer.users().find((u) => u.id === m.value)?.userName)
    .sort();

describe('SCIM target: members provisioned after their group, and leaving it', () => {
  it('a member provisioned in a later chunk joins the waiting group with a PATCH add, the group unchanged', async () => {
    const { chunk, records, cfg } = setup();
    expect((await chunk([user('a'), user('b'), group('g', ['a', 'b', 'c'])])).map((o) => o.status)).toEqual([
      'applied',
      'applied',
      'applied',
    ]);
    expect(memberNames('g')).toEqual(['a', 'b']);
    expect(await records.groupsListing(cfg, [dnOf('c'), dnOf('zz')])).toEqual([['id-g'], []]);

    peer.clearRequests();
    const [outcome] = await chunk([user('c')]);
    expect(outcome).toMatchObject({ status: 'applied' });
    expect(memberNames('g')).toEqual(['a', 'b', 'c']);
    const patch = peer.writes().find((r) => r.method === 'PATCH')!;
    expect(patch.path).toBe(`/scim/v2/Groups/${peer.group('g')!.id}`);
    expect(patch.body).toMatchObject({ Operations: [{ op: 'add', path: 'members', value: [{ value: peer.user('c')!.id }] }] });
    const [g] = await records.get(cfg, ['id-g']);
    expect(g!.members).toHaveLength(3);

    // Nothing moved: an update of c sends no member request.
    peer.clearRequests();
    await chunk([{ ...user('c', 'update'), attributes: { uid: ['c'], cn: ['c'], sn: ['c'], mail: ['c@new.example.com'] } }]);
    expect(peer.writes().map((r) => r.path)).toEqual([`/scim/v2/Users/${peer.user('c')!.id}`]);
  });

  it('a member deleted leaves the record without a request, and joins again when it comes back under a new id', async () => {
    const { chunk, records, cfg } = setup();
    await chunk([user('a'), user('b'), group('g', ['a', 'b'])]);
    const oldId = peer.user('b')!.id;
    peer.clearRequests();
    await chunk([del('b')]);
    expect(peer.writes().map((r) => r.method)).toEqual(['DELETE']);
    expect(memberNames('g')).toEqual(['a']);
    expect((await records.get(cfg, ['id-g']))[0]!.members).toEqual([peer.user('a')!.id]);

    await chunk([user('b')]);
    expect(peer.user('b')!.id).not.toBe(oldId);
    expect(memberNames('g')).toEqual(['a', 'b']);
  });

  it('a member renamed out of the DN a group lists leaves the group; another object taking that DN joins it', async () => {
    const { chunk } = setup();
    await chunk([user('a'), user('b'), group('g', ['a', 'b'])]);
    await chunk([{ ...user('b', 'update', dnOf('b2')) }]);
    expect(memberNames('g')).toEqual(['a']);
    expect(peer.user('b')).toBeDefined();
    // A new object at b's old DN is what the group lists now.
    await chunk([{ ...user('b-new'), dn: dnOf('b') }]);
    expect(memberNames('g')).toEqual(['a', 'b-new']);
  });

  it('a member request that fails fails the member operation and leaves the group unsettled, reconciled by the next chunk', async () => {
    const { chunk, records, cfg } = setup();
    await chunk([group('g', ['a', 'b'])]);
    expect(memberNames('g')).toEqual([]);
    peer.refusePatch(500);
    const [out] = await chunk([user('a')]);
    expect(out).toMatchObject({ status: 'retry' });
    expect((out as { reason: string }).reason).toContain('member of group cn=g,ou=groups,dc=example,dc=com: ');
    expect(peer.users().map((u) => u.userName)).toEqual(['a']);
    expect(memberNames('g')).toEqual([]);
    expect(await records.unsettledGroups(cfg)).toEqual(['id-g']);

    // The next chunk, whatever it holds, resolves the unsettled group whole.
    peer.refusePatch(null);
    const [other] = await chunk([{ ...user('z'), dn: 'uid=z,ou=elsewhere,dc=example,dc=com' }]);
    expect(other).toMatchObject({ status: 'applied' });
    expect(memberNames('g')).toEqual(['a']);
    expect(await records.unsettledGroups(cfg)).toEqual([]);
    // The retried operation of a finds its record: no second POST, nothing more to send.
    peer.clearRequests();
    expect((await chunk([user('a')]))[0]).toMatchObject({ status: 'applied' });
    expect(peer.writes()).toEqual([]);
  });
});

describe('SCIM target: updateMethod "put", for providers without PATCH', () => {
  const writes = () =>
    peer.writes().map((r) => `${r.method} ${r.path.replace(/^(\/scim\/v2\/(?:Users|Groups))\/.+$/, '$1/{id}')}`);

  it('the peer refusing PATCH fails a PATCH update with its status', async () => {
    const { chunk } = setup();
    await chunk([user('a')]);
    peer.refusePatch(501);
    const [out] = await chunk([{ ...user('a', 'update'), attributes: { uid: ['a'], sn: ['a'], mail: ['a@new.example.com'] } }]);
    expect(out).toMatchObject({ status: 'failed' });
    expect((out as { reason: string }).reason).toContain('HTTP 501');
    expect((out as { reason: string }).reason).toContain('set target.updateMethod to "put"');
  });

  it('changes are PUTs of the whole resource, group members replaced whole, deactivate too', async () => {
    const { chunk, records, cfg } = setup({ updateMethod: 'put', deleteMode: 'deactivate' });
    peer.refusePatch(501);
    await chunk([user('a'), user('b'), group('g', ['a', 'b', 'c'])]);
    expect(memberNames('g')).toEqual(['a', 'b']);

    // A changed mail: one PUT with every attribute, not only the mail.
    peer.clearRequests();
    const [changed] = await chunk([
      { ...user('a', 'update'), attributes: { uid: ['a'], cn: ['a'], sn: ['a'], mail: ['a@new.example.com'] } },
    ]);
    expect(changed).toMatchObject({ status: 'applied' });
    expect(writes()).toEqual(['PUT /scim/v2/Users/{id}']);
    expect(peer.writes()[0]!.body).toMatchObject({
      userName: 'a',
      externalId: 'id-a',
      active: true,
      name: { familyName: 'a' },
      emails: [{ value: 'a@new.example.com' }],
    });
    expect(peer.user('a')).toMatchObject({ userName: 'a', name: { familyName: 'a' } });

    // Nothing changed: nothing sent.
    peer.clearRequests();
    await chunk([{ ...user('a', 'update'), attributes: { uid: ['a'], cn: ['a'], sn: ['a'], mail: ['a@new.example.com'] } }]);
    expect(writes()).toEqual([]);

    // The waiting member arrives: the group is PUT with all three members.
    await chunk([user('c')]);
    expect(writes()).toEqual(['POST /scim/v2/Users', 'PUT /scim/v2/Groups/{id}']);
    expect(memberNames('g')).toEqual(['a', 'b', 'c']);
    // The source drops b from the group: PUT with the two left.
    peer.clearRequests();
    await chunk([group('g', ['a', 'c'], 'update')]);
    expect(writes()).toEqual(['PUT /scim/v2/Groups/{id}']);
    expect((peer.writes()[0]!.body as { members: unknown[]; displayName: string }).displayName).toBe('g');
    expect(memberNames('g')).toEqual(['a', 'c']);
    expect((await records.get(cfg, ['id-g']))[0]!.members).toHaveLength(2);

    // Deactivate: the user PUT whole with active false (still there, userName kept).
    peer.clearRequests();
    expect((await chunk([del('b')]))[0]).toMatchObject({ status: 'applied' });
    expect(writes()).toEqual(['PUT /scim/v2/Users/{id}']);
    expect(peer.user('b')).toMatchObject({ userName: 'b', active: false, emails: [{ value: 'b@example.com' }] });
    expect(peer.requests.filter((r) => r.method === 'PATCH')).toEqual([]);
  });
});

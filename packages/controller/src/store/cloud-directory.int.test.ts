import { ChangeKind, ObjectType, encodeChangeBatch, encodedChangesOfBatch, type Change } from '@syncguard/protocol';
import { startRedis, type RedisServer } from '@syncguard/testkit';
import Redis from 'ioredis';
import { Keys } from './keys';
import { unitOfWork } from './unit-of-work';
import { CloudDirectoryTarget } from './cloud-directory';
import type { TargetOperation } from '../targets/target';

/*
 * The cloud directory stores an object as the change the agent encoded (binary form);
 * directories written by earlier versions hold JSON objects. Both forms must read the
 * same, and updates must move an object from one to the other without losing anything.
 */

jest.setTimeout(60_000);

const keys = new Keys('dirtest');
let server: RedisServer;
let redis: Redis;
let target: CloudDirectoryTarget;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
  target = new CloudDirectoryTarget(redis, keys);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});

function change(id: string, mail: string, extra: Partial<Change> = {}): Change {
  return {
    kind: ChangeKind.CHANGE_KIND_ADD,
    objectType: ObjectType.OBJECT_TYPE_USER,
    objectId: id,
    dn: `uid=${id},dc=example`,
    contentHash: Buffer.alloc(32, 1),
    disabled: false,
    attributes: [
      { name: 'mail', values: [mail], binary: false },
      { name: 'photo', values: ['AAEC'], binary: true },
    ],
    memberDns: [],
    ...extra,
  };
}

function op(kind: 'create' | 'update', c: Change): TargetOperation {
  const [bytes] = encodedChangesOfBatch(encodeChangeBatch({ configurationId: 'c', cycleId: 'c', sequence: 1, changes: [c] }));
  return {
    kind,
    objectId: c.objectId,
    objectType: c.objectType === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user',
    dn: c.dn,
    get attributes(): Record<string, string[]> {
      throw new Error('the cloud directory copies encoded changes; it must not read their attributes');
    },
    disabled: c.disabled,
    memberDns: c.memberDns,
    encoded: { protocolVersion: 1, change: bytes! },
  };
}

async function apply(cfg: string, ops: TargetOperation[]) {
  const tx = redis.multi();
  const results = await target.apply(cfg, ops, unitOfWork(tx));
  const done = await tx.exec();
  for (const [error] of done ?? []) if (error) throw error;
  return results;
}

/** An object in the JSON form (what an update without attributes writes), with its type and DN entries. */
async function writeJsonObject(cfg: string, id: string, mail: string): Promise<void> {
  const stored = {
    id,
    type: 'user',
    dn: `uid=${id},dc=example`,
    attributes: { mail: [mail] },
    disabled: true,
    memberDns: [],
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  await redis
    .multi()
    .set(keys.dirObject(cfg, id), JSON.stringify(stored))
    .zadd(keys.dirType(cfg, 'user'), 0, id)
    .hset(keys.dirDn(cfg), stored.dn.toLowerCase(), id)
    .exec();
}

describe('the cloud directory', () => {
  it('stores changes as encoded and reads them back as the objects they describe', async () => {
    const results = await apply('c1', [
      op('create', change('u1', 'u1@example.com', { disabled: true })),
      op(
        'create',
        change('g1', '', { objectType: ObjectType.OBJECT_TYPE_GROUP, attributes: [], memberDns: ['uid=u1,dc=example'] }),
      ),
    ]);
    expect(results).toEqual([
      { status: 'applied', details: null },
      { status: 'applied', details: null },
    ]);
    expect((await redis.getBuffer(keys.dirObject('c1', 'u1')))?.[0]).toBe(0x00);
    const page = await target.listObjects('c1', { limit: 10 });
    expect(page.total).toBe(2);
    expect(page.items).toEqual([
      {
        id: 'g1',
        type: 'group',
        dn: 'uid=g1,dc=example',
        attributes: {},
        disabled: false,
        memberDns: ['uid=u1,dc=example'],
        memberIds: ['u1'],
        updatedAt: expect.any(String),
      },
      {
        id: 'u1',
        type: 'user',
        dn: 'uid=u1,dc=example',
        attributes: { mail: ['u1@example.com'], photo: ['base64:AAEC'] },
        disabled: true,
        memberDns: [],
        memberIds: [],
        updatedAt: expect.any(String),
      },
    ]);
    expect(Date.now() - Date.parse(page.items[0]!.updatedAt)).toBeLessThan(60_000);
  });

  it('reads objects in the JSON form beside binary ones, and updates them to the binary form', async () => {
    await writeJsonObject('c2', 'old', 'old@example.com');
    await apply('c2', [op('create', change('new', 'new@example.com'))]);
    let page = await target.listObjects('c2', { limit: 10 });
    expect(page.items.map((o) => [o.id, o.attributes.mail, o.disabled])).toEqual([
      ['new', ['new@example.com'], false],
      ['old', ['old@example.com'], true],
    ]);
    await apply('c2', [op('update', change('old', 'renamed@example.com', { dn: 'uid=moved,dc=example' }))]);
    expect((await redis.getBuffer(keys.dirObject('c2', 'old')))?.[0]).toBe(0x00);
    page = await target.listObjects('c2', { limit: 10 });
    expect(page.items.find((o) => o.id === 'old')).toMatchObject({
      dn: 'uid=moved,dc=example',
      attributes: { mail: ['renamed@example.com'], photo: ['base64:AAEC'] },
      disabled: false,
    });
    // The DN index follows the rename: the old DN is gone.
    expect(await redis.hgetall(keys.dirDn('c2'))).toEqual({ 'uid=moved,dc=example': 'old', 'uid=new,dc=example': 'new' });
  });

  it('keeps what it holds for an update without attributes (a FULL-scan PRESENT), whichever form it holds', async () => {
    await writeJsonObject('c3', 'json', 'json@example.com');
    await apply('c3', [op('create', change('bin', 'bin@example.com'))]);
    const present = (id: string): TargetOperation => ({
      kind: 'update',
      objectId: id,
      objectType: 'user',
      dn: `uid=${id},dc=example`,
      attributes: null,
      disabled: false,
      memberDns: [],
    });
    const results = await apply('c3', [present('json'), present('bin')]);
    expect(results.map((r) => r.status === 'applied' && r.details)).toEqual([
      'attributes not sent by the source (FULL scan)',
      'attributes not sent by the source (FULL scan)',
    ]);
    const page = await target.listObjects('c3', { limit: 10 });
    expect(page.items.map((o) => [o.id, o.attributes, o.disabled])).toEqual([
      ['bin', { mail: ['bin@example.com'], photo: ['base64:AAEC'] }, false],
      ['json', { mail: ['json@example.com'] }, false],
    ]);
  });

  it('refuses to read an object of a protocol version it does not speak', async () => {
    await redis.set(keys.dirObject('c4', 'x'), Buffer.from([0x00, 99, 0x01, 0x1a, 0x01, 0x78]));
    await redis.zadd(keys.dirType('c4', 'user'), 0, 'x');
    await expect(target.listObjects('c4', { limit: 10 })).rejects.toThrow(/protocol version 99/);
  });
});

describe('DNs in the cloud directory', () => {
  it('keep pointing at the object that holds them when another object leaves that DN in a later chunk', async () => {
    // A holds uid=a; in the next cycle A is deleted and B created with A's DN, and A' renamed away from
    // a DN that C takes. The plan applies creates and updates first and deletes last, in chunks.
    const at = (id: string, dn: string, extra: Partial<Change> = {}) => change(id, `${id}@example.com`, { dn, ...extra });
    await apply('c5', [op('create', at('A', 'uid=a,dc=example')), op('create', at('R', 'uid=r,dc=example'))]);
    await apply('c5', [op('create', at('B', 'uid=a,dc=example')), op('create', at('C', 'uid=r,dc=example'))]);
    await apply('c5', [op('update', at('R', 'uid=renamed,dc=example'))]);
    await apply('c5', [{ kind: 'delete', objectId: 'A', objectType: 'user', dn: 'uid=a,dc=example' }]);
    await apply('c5', [
      op(
        'create',
        at('G', 'cn=g,dc=example', {
          objectType: ObjectType.OBJECT_TYPE_GROUP,
          memberDns: ['uid=a,dc=example', 'uid=r,dc=example'],
        }),
      ),
    ]);
    expect(await redis.hgetall(keys.dirDn('c5'))).toEqual({
      'uid=a,dc=example': 'B',
      'uid=r,dc=example': 'C',
      'uid=renamed,dc=example': 'R',
      'cn=g,dc=example': 'G',
    });
    const group = (await target.listObjects('c5', { type: 'group', limit: 10 })).items[0];
    expect(group?.memberIds).toEqual(['B', 'C']);
  });
});

describe('chunks of the largest size', () => {
  it('apply 100,000 deletes and DN releases in one chunk (arguments are never spread into a call)', async () => {
    await apply('c6', [op('create', change('kept', 'kept@example.com'))]);
    const deletes: TargetOperation[] = Array.from({ length: 100_000 }, (_, i) => ({
      kind: 'delete',
      objectId: `gone-${i}`,
      objectType: 'user',
      dn: `uid=gone-${i},dc=example`,
    }));
    const results = await apply('c6', deletes);
    expect(results).toHaveLength(100_000);
    expect(results.every((r) => r.status === 'applied' && r.details === 'not in the directory')).toBe(true);
    expect((await target.listObjects('c6', { limit: 10 })).items.map((o) => o.id)).toEqual(['kept']);
  });
});

describe("the cloud directory's index for the read-only SCIM view", () => {
  const user = (id: string, uid: string, dn = `uid=${uid},dc=example`) =>
    change(id, `${uid}@example.com`, { dn, attributes: [{ name: 'uid', values: [uid], binary: false }] });
  const group = (id: string, cn: string) =>
    change(id, '', {
      objectType: ObjectType.OBJECT_TYPE_GROUP,
      dn: `cn=${cn},dc=example`,
      attributes: [{ name: 'cn', values: [cn], binary: false }],
    });

  it('finds objects by userName and displayName as apply chunks create, rename, retype and delete them', async () => {
    await apply('ix1', [op('create', user('u1', 'Ann')), op('create', user('u2', 'bob')), op('create', group('g1', 'Staff'))]);
    expect(await target.byName('ix1', 'user', 'ANN')).toEqual(['u1']);
    expect(await target.byName('ix1', 'group', 'staff')).toEqual(['g1']);
    expect(await target.byName('ix1', 'user', 'staff')).toEqual([]);
    // A new uid moves the entry; the old name finds nothing.
    await apply('ix1', [op('update', user('u1', 'anna'))]);
    expect(await target.byName('ix1', 'user', 'ann')).toEqual([]);
    expect(await target.byName('ix1', 'user', 'anna')).toEqual(['u1']);
    // Two objects with one name are both found; a delete takes one entry away.
    await apply('ix1', [op('create', user('u3', 'Bob', 'uid=bob,ou=other,dc=example'))]);
    expect((await target.byName('ix1', 'user', 'bob'))!.sort()).toEqual(['u2', 'u3']);
    await apply('ix1', [{ kind: 'delete', objectId: 'u2', objectType: 'user', dn: 'uid=bob,dc=example' }]);
    expect(await target.byName('ix1', 'user', 'bob')).toEqual(['u3']);
    // An object that changes type leaves the other type's index.
    await apply('ix1', [op('update', group('u3', 'bob'))]);
    expect(await target.byName('ix1', 'user', 'bob')).toEqual([]);
    expect(await target.byName('ix1', 'group', 'bob')).toEqual(['u3']);
    // An update without attributes (a FULL scan's PRESENT) keeps the name.
    await apply('ix1', [
      {
        kind: 'update',
        objectId: 'u1',
        objectType: 'user',
        dn: 'uid=anna,dc=example',
        attributes: null,
        disabled: false,
        memberDns: [],
      },
    ]);
    expect(await target.byName('ix1', 'user', 'anna')).toEqual(['u1']);
    await target.removeAll('ix1');
    expect(await redis.exists(keys.dirName('ix1', 'user'), keys.dirName('ix1', 'group'))).toBe(0);
  });

  it('pages by position, and says when objects applied before the index leave it unable to answer', async () => {
    await apply(
      'ix2',
      Array.from({ length: 30 }, (_, i) => op('create', user(`u${String(i).padStart(2, '0')}`, `p${i}`))),
    );
    const page = await target.page('ix2', 'user', 25, 10);
    expect(page).toEqual({ total: 30, ids: ['u25', 'u26', 'u27', 'u28', 'u29'] });
    expect((await target.page('ix2', 'user', 40, 10)).ids).toEqual([]);
    const listed = await target.listObjects('ix2', { type: 'user', limit: 100 });
    expect((await target.page('ix2', 'user', 0, 100)).ids).toEqual(listed.items.map((o) => o.id));
    await writeJsonObject('ix2', 'old1', 'old1@example.com');
    expect(await target.byName('ix2', 'user', 'p3')).toBeNull();
  });
});

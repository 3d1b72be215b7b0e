import { ObjectType, decodeChange } from '@syncguard/protocol';
import type { Redis } from 'ioredis';
import type { CloudObject, ObjectTypeName } from '../model';
import type { Keys } from './keys';
import { queueEncoded } from './resp';
import { RELEASE_DNS } from './scripts';
import { readVarint, varintSize, writeVarint } from './varint';
import { transactionOf } from './unit-of-work';
import { nameAttributesOf, scimNameOf } from './scim-name';
import type { ScimDirectoryIndex } from '../targets/scim/scim-view';
import {
  STORED_CHANGE_VERSIONS,
  attributesObject,
  withoutSecretAttributes,
  type Target,
  type TargetOperation,
  type TargetOutcome,
  type UnitOfWork,
} from '../targets/target';

type StoredObject = Omit<CloudObject, 'memberIds'>;

/**
 * Byte 0 of an object stored in the binary form: then the protocol version of the change,
 * the update time (ms since the epoch, a protobuf varint) and the change as the agent
 * encoded it (protobuf `Change`). The JSON form (a {@link StoredObject}) starts with `{`.
 */
const BINARY = 0x00;

/** Outcomes shared by every operation they describe (never changed). */
const APPLIED: TargetOutcome = Object.freeze({ status: 'applied', details: null });
const NOT_IN_DIRECTORY: TargetOutcome = Object.freeze({ status: 'applied', details: 'not in the directory' });
const KEPT_ATTRIBUTES: TargetOutcome = Object.freeze({
  status: 'applied',
  details: 'attributes not sent by the source (FULL scan)',
});

/** Reads an object in either stored form. */
export function decodeStoredObject(bytes: Buffer): StoredObject {
  if (bytes[0] !== BINARY) {
    const stored = JSON.parse(bytes.toString('utf8')) as StoredObject;
    return { ...stored, attributes: withoutSecretAttributes(stored.attributes ?? {}) };
  }
  const version = bytes[1] ?? 0;
  if (!STORED_CHANGE_VERSIONS.includes(version))
    throw new Error(`a stored object of protocol version ${version}, which this build does not read`);
  const { value: updatedAtMs, next } = readVarint(bytes, 2);
  const change = decodeChange(bytes.subarray(next));
  return {
    id: change.objectId,
    type: change.objectType === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user',
    dn: change.dn,
    attributes: attributesObject(change.attributes),
    disabled: change.disabled,
    memberDns: change.memberDns,
    updatedAt: new Date(updatedAtMs).toISOString(),
  };
}

/**
 * The built-in cloud directory: users and groups per configuration in Redis. Member
 * ids are resolved from member DNs when read, so a group stays right when its members
 * arrive after it or are renamed.
 */
export class CloudDirectoryTarget implements Target, ScimDirectoryIndex {
  readonly kind = 'cloud-directory';
  readonly transactional = true;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async apply(cfg: string, operations: readonly TargetOperation[], unit: UnitOfWork): Promise<TargetOutcome[]> {
    const tx = transactionOf(unit);
    // A create is for an object the synced index does not hold, and the index changes
    // in the same transaction as this directory: there is nothing to read for it.
    const toRead = operations.filter((op) => op.kind !== 'create').map((op) => op.objectId);
    const read = await this.read(cfg, toRead);
    const byId = new Map<string, StoredObject | null>(toRead.map((id, i) => [id, read[i] ?? null]));
    const existing = operations.map((op) => byId.get(op.objectId) ?? null);
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const results: TargetOutcome[] = [];
    // Changes kept as the agent encoded them are stored so, each behind a short header,
    // all in one buffer per chunk.
    let binarySize = 0;
    for (const op of operations)
      if (op.kind !== 'delete' && op.encoded) binarySize += 2 + varintSize(nowMs) + op.encoded.change.length;
    const block = Buffer.allocUnsafe(binarySize);
    let at = 0;
    // Writes are grouped into a few multi-key commands per chunk: far fewer round trips
    // through the client than one command per object and field.
    const sets: (string | Buffer)[] = [];
    const dels: string[] = [];
    const typeAdd: Record<ObjectTypeName, (string | number)[]> = { user: [], group: [] };
    const typeRem: Record<ObjectTypeName, string[]> = { user: [], group: [] };
    const dnSet = new Map<string, string>();
    // The SCIM view's name index: entries left and taken, per type.
    const nameRem: Record<ObjectTypeName, string[]> = { user: [], group: [] };
    const nameAdd: Record<ObjectTypeName, string[]> = { user: [], group: [] };
    const oldName = (o: StoredObject) => scimNameOf(o.type, o.id, o.dn, o.attributes);
    // DNs left by an object, with the object: [dn, id].
    const dnLeft: [string, string][] = [];
    operations.forEach((op, i) => {
      const old = existing[i] ?? null;
      const objKey = this.keys.dirObject(cfg, op.objectId);
      if (op.kind === 'delete') {
        dels.push(objKey);
        typeRem[old?.type ?? op.objectType].push(op.objectId);
        dnLeft.push([(old?.dn ?? op.dn).toLowerCase(), op.objectId]);
        if (old) nameRem[old.type].push(`${oldName(old)}\u0000${op.objectId}`);
        results.push(old ? APPLIED : NOT_IN_DIRECTORY);
        return;
      }
      const name = op.encoded
        ? scimNameOf(op.objectType, op.objectId, op.dn, nameAttributesOf(op.encoded.change).attributes)
        : scimNameOf(op.objectType, op.objectId, op.dn, op.attributes ?? old?.attributes ?? {});
      const before = old ? oldName(old) : null;
      if (old && (before !== name || old.type !== op.objectType)) nameRem[old.type].push(`${before}\u0000${op.objectId}`);
      if (!old || before !== name || old.type !== op.objectType) nameAdd[op.objectType].push(`${name}\u0000${op.objectId}`);
      let text: string | Buffer;
      if (op.encoded) {
        const start = at;
        block[at++] = BINARY;
        block[at++] = op.encoded.protocolVersion;
        at = writeVarint(block, at, nowMs);
        block.set(op.encoded.change, at);
        at += op.encoded.change.length;
        text = block.subarray(start, at);
      } else {
        const next: StoredObject = {
          id: op.objectId,
          type: op.objectType,
          dn: op.dn,
          attributes: op.attributes ?? old?.attributes ?? {},
          disabled: op.disabled,
          memberDns: op.attributes === null && old ? old.memberDns : op.memberDns,
          updatedAt: now,
        };
        text = JSON.stringify(next);
      }
      sets.push(objKey, text);
      if (old && old.type !== op.objectType) typeRem[old.type].push(op.objectId);
      typeAdd[op.objectType].push(0, op.objectId);
      const dn = op.dn.toLowerCase();
      if (old && old.dn.toLowerCase() !== dn) dnLeft.push([old.dn.toLowerCase(), op.objectId]);
      dnSet.set(dn, op.objectId);
      const sent = op.encoded !== undefined || op.attributes !== null;
      results.push(sent ? APPLIED : KEPT_ATTRIBUTES);
    });
    // Removals first, so that a DN or type that moved within the chunk ends up set.
    // Every command whose arguments grow with the chunk is encoded from an array: spread into
    // a call, 100,000 arguments overflow the stack (applyChunkSize goes up to 100,000).
    if (dels.length > 0) queueEncoded(tx, 'del', dels);
    for (const t of ['user', 'group'] as const)
      if (nameRem[t].length > 0) queueEncoded(tx, 'zrem', [this.keys.dirName(cfg, t), ...nameRem[t]]);
    for (const t of ['user', 'group'] as const)
      if (nameAdd[t].length > 0) queueEncoded(tx, 'zadd', [this.keys.dirName(cfg, t), ...nameAdd[t].flatMap((m) => ['0', m])]);
    for (const t of ['user', 'group'] as const)
      if (typeRem[t].length > 0) queueEncoded(tx, 'zrem', [this.keys.dirType(cfg, t), ...typeRem[t]]);
    // A DN left here and taken again in this chunk is simply set below.
    const released = dnLeft.filter(([d]) => !dnSet.has(d)).flat();
    if (released.length > 0) queueEncoded(tx, 'eval', [RELEASE_DNS.source, 1, this.keys.dirDn(cfg), ...released]);
    // The big commands are encoded here, when the chunk is worked out (see store/resp.ts).
    if (sets.length > 0) queueEncoded(tx, 'mset', sets);
    for (const t of ['user', 'group'] as const)
      if (typeAdd[t].length > 0) queueEncoded(tx, 'zadd', [this.keys.dirType(cfg, t), ...typeAdd[t]]);
    if (dnSet.size > 0) {
      const dnArgs: string[] = [this.keys.dirDn(cfg)];
      for (const [dn, id] of dnSet) dnArgs.push(dn, id);
      queueEncoded(tx, 'hset', dnArgs);
    }
    return results;
  }

  async listObjects(
    cfg: string,
    query: { type?: ObjectTypeName; limit: number; cursor?: string },
  ): Promise<{ total: number; items: CloudObject[]; nextCursor: string | null }> {
    // Each object is in the set of its type; a listing of all types merges the two sets.
    const setKeys = (query.type ? [query.type] : (['user', 'group'] as const)).map((t) => this.keys.dirType(cfg, t));
    const start = query.cursor ? `(${query.cursor}` : '-';
    const [totals, lists] = await Promise.all([
      Promise.all(setKeys.map((k) => this.redis.zcard(k))),
      Promise.all(setKeys.map((k) => this.redis.zrangebylex(k, start, '+', 'LIMIT', 0, query.limit + 1))),
    ]);
    const total = totals.reduce((a, b) => a + b, 0);
    // In the sets' own (byte) order.
    const ids = lists.length === 1 ? lists[0]! : lists.flat().sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (ids.length > query.limit + 1) ids.length = query.limit + 1;
    const more = ids.length > query.limit;
    const pageIds = ids.slice(0, query.limit);
    const items = await this.objects(cfg, pageIds);
    return { total, items, nextCursor: more ? (pageIds[pageIds.length - 1] ?? null) : null };
  }

  async page(cfg: string, type: ObjectTypeName, offset: number, count: number): Promise<{ total: number; ids: string[] }> {
    const key = this.keys.dirType(cfg, type);
    // The set's scores are all 0: its ranks are the ids' (byte) order, the order of listObjects.
    const [total, ids] = await Promise.all([
      this.redis.zcard(key),
      count > 0 ? this.redis.zrange(key, offset, offset + count - 1) : Promise.resolve([] as string[]),
    ]);
    return { total, ids };
  }

  async byName(cfg: string, type: ObjectTypeName, name: string): Promise<string[] | null> {
    const names = this.keys.dirName(cfg, type);
    const n = name.toLowerCase();
    const [indexed, held, found] = await Promise.all([
      this.redis.zcard(names),
      this.redis.zcard(this.keys.dirType(cfg, type)),
      this.redis.zrangebylex(names, `[${n}\u0000`, `(${n}\u0001`),
    ]);
    // Objects applied before the index existed are not in it: then it cannot answer.
    if (indexed !== held) return null;
    return found.map((m) => m.slice(n.length + 1));
  }

  /** The objects with these ids (those held), their member ids resolved. */
  async objects(cfg: string, ids: readonly string[]): Promise<CloudObject[]> {
    const objects = (await this.read(cfg, ids)).filter((o): o is StoredObject => o !== null);
    const dns = [...new Set(objects.flatMap((o) => o.memberDns.map((d) => d.toLowerCase())))];
    const resolved = new Map<string, string>();
    for (let i = 0; i < dns.length; i += 1000) {
      const part = dns.slice(i, i + 1000);
      const values = await this.redis.hmget(this.keys.dirDn(cfg), ...part);
      part.forEach((dn, j) => {
        const v = values[j];
        if (v) resolved.set(dn, v);
      });
    }
    return objects.map((o) => ({
      ...o,
      memberIds: o.memberDns.map((d) => resolved.get(d.toLowerCase())).filter((v): v is string => v !== undefined),
    }));
  }

  async removeAll(cfg: string): Promise<void> {
    for (const setKey of [this.keys.dirType(cfg, 'user'), this.keys.dirType(cfg, 'group')]) {
      let cursor = '0';
      do {
        const [next, ids] = await this.redis.zscan(setKey, cursor, 'COUNT', 1000);
        cursor = next;
        const objectIds = ids.filter((_, i) => i % 2 === 0);
        if (objectIds.length > 0) await this.redis.del(...objectIds.map((id) => this.keys.dirObject(cfg, id)));
      } while (cursor !== '0');
    }
    // UNLINK: sets and hashes with an entry per object (see CycleStore.dropStaged).
    await this.redis.unlink(
      this.keys.dirType(cfg, 'user'),
      this.keys.dirType(cfg, 'group'),
      this.keys.dirDn(cfg),
      this.keys.dirName(cfg, 'user'),
      this.keys.dirName(cfg, 'group'),
    );
  }

  private async read(cfg: string, ids: readonly string[]): Promise<(StoredObject | null)[]> {
    const out: (StoredObject | null)[] = [];
    for (let i = 0; i < ids.length; i += 1000) {
      const part = ids.slice(i, i + 1000);
      if (part.length === 0) continue;
      const values = await this.redis.mgetBuffer(...part.map((id) => this.keys.dirObject(cfg, id)));
      for (const v of values) out.push(v ? decodeStoredObject(v) : null);
    }
    return out;
  }
}

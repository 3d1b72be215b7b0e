import { ChangeKind, ObjectType, type Change } from '@syncguard/protocol';

/**
 * How a ChangeBatch's changes are kept in Redis while its cycle is staged: a JSON
 * array of compact tuples. It is written once when the batch arrives (already decoded
 * and validated by the gateway) and read back with JSON.parse, which is much cheaper
 * than decoding and re-validating the protobuf frame at evaluation and again at apply.
 */
export type StoredChange = [
  kind: ChangeKind,
  objectType: ObjectType,
  objectId: string,
  dn: string,
  /** Hex SHA-256; '' for DELETE. */
  hash: string,
  disabled: 0 | 1,
  /** [name, values, binary] */
  attributes: [string, string[], 0 | 1][],
  memberDns: string[],
];

export function encodeStoredBatch(changes: readonly Change[]): string {
  const out: StoredChange[] = changes.map((c) => [
    c.kind,
    c.objectType,
    c.objectId,
    c.dn,
    Buffer.from(c.contentHash.buffer, c.contentHash.byteOffset, c.contentHash.byteLength).toString('hex'),
    c.disabled ? 1 : 0,
    c.attributes.map((a) => [a.name, a.values, a.binary ? 1 : 0]),
    c.memberDns,
  ]);
  return JSON.stringify(out);
}

export function decodeStoredBatch(text: string): StoredChange[] {
  return JSON.parse(text) as StoredChange[];
}

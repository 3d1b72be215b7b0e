import { readVarint } from './varint';
import { mapGroup, mapUser } from '../targets/scim/scim-mapping';
import type { ObjectTypeName } from '../model';

/** The source attributes the default SCIM mapping takes a user's userName or a group's displayName from. */
const NAME_ATTRIBUTES = new Set(['uid', 'userprincipalname', 'samaccountname', 'cn']);

const utf8 = new TextDecoder();

/** Skips a field of wire type `wire` at `at`; the offset after it. */
function skip(bytes: Uint8Array, at: number, wire: number): number {
  switch (wire) {
    case 0:
      while (at < bytes.length && bytes[at]! >= 0x80) at++;
      return at + 1;
    case 1:
      return at + 8;
    case 2: {
      const { value, next } = readVarint(bytes, at);
      return next + value;
    }
    case 5:
      return at + 4;
    default:
      throw new Error(`a protobuf field of wire type ${wire}, which a Change does not hold`);
  }
}

/**
 * The name attributes of an encoded protobuf `Change` (uid, userPrincipalName, sAMAccountName,
 * cn; binary values as `base64:`, as targets see them) and its DN, read from the wire format
 * without decoding the rest: the cloud directory keeps its SCIM name index with every apply
 * chunk, which copies changes as the agent encoded them.
 */
export function nameAttributesOf(change: Uint8Array): { dn: string; attributes: Record<string, string[]> } {
  const attributes: Record<string, string[]> = {};
  let dn = '';
  for (let at = 0; at < change.length;) {
    const key = readVarint(change, at);
    at = key.next;
    const field = Math.floor(key.value / 8);
    const wire = key.value % 8;
    if (wire !== 2 || (field !== 4 && field !== 5)) {
      at = skip(change, at, wire);
      continue;
    }
    const { value: length, next } = readVarint(change, at);
    const end = next + length;
    if (field === 4) dn = utf8.decode(change.subarray(next, end));
    else {
      // An Attribute: name = 1, values = 2, binary = 3.
      let name = '';
      let binary = false;
      const values: string[] = [];
      for (let p = next; p < end;) {
        const k = readVarint(change, p);
        p = k.next;
        const f = Math.floor(k.value / 8);
        const w = k.value % 8;
        if (w === 2 && (f === 1 || f === 2)) {
          const { value: n, next: from } = readVarint(change, p);
          const text = utf8.decode(change.subarray(from, from + n));
          if (f === 1) {
            name = text;
            // Not a name attribute: nothing more of it is read.
            if (!NAME_ATTRIBUTES.has(name.toLowerCase())) break;
          } else values.push(text);
          p = from + n;
        } else if (w === 0 && f === 3) {
          const { value: b, next: after } = readVarint(change, p);
          binary = b !== 0;
          p = after;
        } else p = skip(change, p, w);
      }
      if (NAME_ATTRIBUTES.has(name.toLowerCase())) attributes[name] = binary ? values.map((v) => `base64:${v}`) : values;
    }
    at = end;
  }
  return { dn, attributes };
}

/**
 * The name the read-only SCIM view filters an object by, lower-cased: a user's `userName`, a
 * group's `displayName` (the default mapping, as targets/scim/scim-view.ts renders them),
 * or its DN when the mapping finds none.
 */
export function scimNameOf(type: ObjectTypeName, id: string, dn: string, attributes: Record<string, string[]>): string {
  const mapped = type === 'group' ? mapGroup(id, attributes, null) : mapUser(id, attributes, false, null);
  if ('problem' in mapped) return dn.toLowerCase();
  const name = type === 'group' ? mapped.flat.displayName : mapped.flat.userName;
  return String(name).toLowerCase();
}

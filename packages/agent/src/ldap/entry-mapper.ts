import crypto from 'node:crypto';
import { ObjectType, type Attribute } from '@syncguard/protocol';
import type { Entry } from 'ldapts';
import { DEFAULT_ATTRIBUTE_FILTER, type AttributeFilter } from './attribute-filter';

/** Which kind of directory an entry came from; decides ids, types and the disabled flag. */
export type DirectoryFlavor = 'openldap' | 'ad';

/** One directory object as the agent understands it. */
export interface SourceObject {
  id: string;
  type: ObjectType;
  dn: string;
  disabled: boolean;
  /** Sorted by name (case-insensitive); values sorted. Excludes the id, members and volatile attributes. */
  attributes: Attribute[];
  /** Member DNs of a group, sorted; empty for users. */
  memberDns: string[];
  /** SHA-256 of the canonical content, 32 bytes. */
  hash: Buffer;
}

export interface MapOptions {
  flavor: DirectoryFlavor;
  objectTypes: readonly ObjectType[];
  /** OpenLDAP: attribute whose presence with a value other than FALSE/0 marks the entry disabled. */
  disabledAttribute: string;
  /** Which attributes a change carries. Default: all but the secret ones (see attribute-filter.ts). */
  attributes?: AttributeFilter;
}

/** The attribute holding an object's stable id. */
export function idAttribute(flavor: DirectoryFlavor): string {
  return flavor === 'ad' ? 'objectGUID' : 'entryUUID';
}

/** LDAP filter selecting entries of one object type. */
export function typeFilter(flavor: DirectoryFlavor, type: ObjectType): string {
  if (flavor === 'ad') {
    return type === ObjectType.OBJECT_TYPE_USER ? '(&(objectCategory=person)(objectClass=user))' : '(objectClass=group)';
  }
  return type === ObjectType.OBJECT_TYPE_USER
    ? '(objectClass=inetOrgPerson)'
    : '(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))';
}

/**
 * Attributes never carried in a change nor hashed: ids and bookkeeping that changes on its
 * own. Secrets (passwords, hashes, keys) are never carried either: see AttributeFilter.
 */
const EXCLUDED = new Set(
  [
    'entryUUID',
    'objectGUID',
    'entryCSN',
    'entryDN',
    'modifyTimestamp',
    'createTimestamp',
    'modifiersName',
    'creatorsName',
    'structuralObjectClass',
    'subschemaSubentry',
    'hasSubordinates',
    'uSNChanged',
    'uSNCreated',
    'whenChanged',
    'whenCreated',
    'lastLogon',
    'lastLogoff',
    'lastLogonTimestamp',
    'logonCount',
    'badPwdCount',
    'badPasswordTime',
    'pwdLastSet',
    'lockoutTime',
    'dSCorePropagationData',
    'replPropertyMetaData',
    'msDS-RevealedDSAs',
    'instanceType',
    'objectCategory',
  ].map((name) => name.toLowerCase()),
);
/**
 * Active Directory back links, which the server changes without changing the object's own
 * uSNChanged: adding a user to a group adds the group to the user's `memberOf`, but a DELTA
 * (`uSNChanged>=`) does not see the user, so its hash went stale and the next FULL read
 * reported every such user as modified (Samba 4.17 shows it). Membership travels with the
 * groups' `member`, which does change their uSNChanged. OpenLDAP's memberOf is operational
 * and read only when a scope asks for it.
 */
const AD_EXCLUDED = new Set(['memberof']);
const MEMBER_ATTRIBUTES = new Set(['member', 'uniquemember']);

/** Attributes returned as raw bytes (and carried as base64 with `binary: true`). */
export const BINARY_ATTRIBUTES = [
  'objectGUID',
  'objectSid',
  'jpegPhoto',
  'thumbnailPhoto',
  'photo',
  'audio',
  'userCertificate',
  'userCertificate;binary',
  'cACertificate',
  'mS-DS-ConsistencyGuid',
  'msExchMailboxGuid',
  'sIDHistory',
  'userSMIMECertificate',
  'userPKCS12',
  'logonHours',
];
const BINARY = new Set(BINARY_ATTRIBUTES.map((n) => n.toLowerCase()));

// crypto.hash (one-shot, no Hash object) exists from Node 20.12; fall back to createHash before.
const oneShot = (crypto as unknown as { hash?: (algorithm: string, data: string, encoding: 'buffer') => Buffer }).hash;
const sha256: (data: string) => Buffer = oneShot
  ? (data) => oneShot('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest();

/** What the mapper needs to know about one attribute name; memoised, entries repeat the same few names. */
interface NameInfo {
  lower: string;
  excluded: boolean;
  /** Active Directory only: not carried nor hashed (see AD_EXCLUDED). */
  adExcluded: boolean;
  member: boolean;
  binary: boolean;
  /** Start of the attribute's element in the canonical JSON: `["<lower>",<binary>,[`. */
  prefix: string;
}
const nameInfos = new Map<string, NameInfo>();
function nameInfo(name: string): NameInfo {
  let info = nameInfos.get(name);
  if (info === undefined) {
    const lower = name.toLowerCase();
    const binary = BINARY.has(lower) || lower.endsWith(';binary');
    info = {
      lower,
      excluded: EXCLUDED.has(lower),
      adExcluded: AD_EXCLUDED.has(lower),
      member: MEMBER_ATTRIBUTES.has(lower),
      binary,
      prefix: `[${JSON.stringify(lower)},${binary},[`,
    };
    if (nameInfos.size < 10_000) nameInfos.set(name, info);
  }
  return info;
}

/** AD userAccountControl ACCOUNTDISABLE. */
const UAC_ACCOUNTDISABLE = 0x2;

/**
 * Maps an ldapts entry to a {@link SourceObject}, or `undefined` when the entry is none of
 * the scope's object types or has no id (then it is simply not in scope).
 */
export function mapEntry(entry: Entry, options: MapOptions): SourceObject | undefined {
  let id: string | undefined;
  let objectClasses: string[] = [];
  let members: string[] = [];
  let disabled = false;
  const attributes: Attribute[] = [];
  const infos: NameInfo[] = [];
  const disabledName = options.disabledAttribute.toLowerCase();
  const filter = options.attributes ?? DEFAULT_ATTRIBUTE_FILTER;
  for (const key in entry) {
    if (key === 'dn') continue;
    const raw = entry[key]!;
    const info = nameInfo(key);
    const lower = info.lower;
    if (lower === 'entryuuid' && options.flavor === 'openldap') {
      id = firstString(raw);
      continue;
    }
    if (lower === 'objectguid' && options.flavor === 'ad') {
      const bytes = Array.isArray(raw) ? raw[0] : raw;
      if (Buffer.isBuffer(bytes) && bytes.length === 16) id = guidToString(bytes);
      continue;
    }
    if (info.member) {
      members = members.concat(toStrings(raw));
      continue;
    }
    if (lower === 'objectclass') objectClasses = toStrings(raw);
    if (lower === 'useraccountcontrol' && options.flavor === 'ad') {
      disabled = (Number(firstString(raw)) & UAC_ACCOUNTDISABLE) !== 0;
    }
    if (disabledName !== '' && lower === disabledName && options.flavor === 'openldap') {
      disabled = toStrings(raw).some((v) => {
        const t = v.trim().toUpperCase();
        return t !== 'FALSE' && t !== '0';
      });
    }
    if (info.excluded || (info.adExcluded && options.flavor === 'ad') || !filter.carries(key)) continue;
    const binary = info.binary;
    const values = binary ? toBase64(raw) : toStrings(raw);
    // An attribute without values is no attribute: ldapts reports the requested '*' as one.
    if (values.length === 0) continue;
    if (values.length > 1) values.sort();
    // Insertion keeps attributes sorted by lower-case name as they come (entries hold a few dozen at most).
    let at = infos.length;
    while (at > 0 && infos[at - 1]!.lower > lower) at -= 1;
    if (at === infos.length) {
      attributes.push({ name: key, values, binary });
      infos.push(info);
    } else {
      attributes.splice(at, 0, { name: key, values, binary });
      infos.splice(at, 0, info);
    }
  }
  if (id === undefined || id === '') return undefined;
  const type = classify(objectClasses, options);
  if (type === undefined) return undefined;
  if (members.length > 1) members.sort();
  const hash = sha256(canonicalJson(entry.dn, type, disabled, attributes, infos, members));
  return { id, type, dn: entry.dn, disabled, attributes, memberDns: members, hash };
}

/**
 * SHA-256 of an object's canonical content: DN, type, disabled flag, attributes sorted by
 * name with sorted values, and sorted members. JSON makes the encoding unambiguous.
 */
export function contentHash(object: Pick<SourceObject, 'dn' | 'type' | 'disabled' | 'attributes' | 'memberDns'>): Buffer {
  const infos = object.attributes.map((a) => {
    // As JSON.stringify writes the pair (an undefined flag becomes null), without its closing bracket.
    return { prefix: `${JSON.stringify([a.name.toLowerCase(), a.binary]).slice(0, -1)},[` };
  });
  return sha256(canonicalJson(object.dn, object.type, object.disabled, object.attributes, infos, object.memberDns));
}

/**
 * `JSON.stringify([dn, type, disabled, [[lowerName, binary, values], ...], members])`, byte
 * for byte (the hashes the controller stored depend on it), built by concatenation: the
 * attribute prefixes are memoised and strings that need no escaping are quoted as they are.
 */
function canonicalJson(
  dn: string,
  type: ObjectType,
  disabled: boolean,
  attributes: readonly Attribute[],
  infos: readonly Pick<NameInfo, 'prefix'>[],
  members: readonly string[],
): string {
  let json = `[${quote(dn)},${type},${disabled},[`;
  for (let i = 0; i < attributes.length; i++) {
    if (i > 0) json += ',';
    json += infos[i]!.prefix;
    const values = attributes[i]!.values;
    for (let j = 0; j < values.length; j++) json += j > 0 ? `,${quote(values[j]!)}` : quote(values[j]!);
    json += ']]';
  }
  json += '],[';
  for (let j = 0; j < members.length; j++) json += j > 0 ? `,${quote(members[j]!)}` : quote(members[j]!);
  return json + ']]';
}

/** Characters JSON.stringify escapes: quote, backslash, controls, and (lone) surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function classify(objectClasses: string[], options: MapOptions): ObjectType | undefined {
  let user = false;
  let group = false;
  for (const oc of objectClasses) {
    const c = oc.toLowerCase();
    if (options.flavor === 'ad') {
      if (c === 'group') group = true;
      else if (c === 'user' && !objectClasses.some((o) => o.toLowerCase() === 'computer')) user = true;
    } else if (c === 'inetorgperson') user = true;
    else if (c === 'groupofnames' || c === 'groupofuniquenames') group = true;
  }
  if (group && options.objectTypes.includes(ObjectType.OBJECT_TYPE_GROUP)) return ObjectType.OBJECT_TYPE_GROUP;
  if (user && options.objectTypes.includes(ObjectType.OBJECT_TYPE_USER)) return ObjectType.OBJECT_TYPE_USER;
  return undefined;
}

/** The object's id (entryUUID, or objectGUID in its string form), or undefined when the entry lacks it. */
export function entryId(entry: Entry, flavor: DirectoryFlavor): string | undefined {
  for (const key in entry) {
    const lower = key.toLowerCase();
    if (flavor === 'openldap' && lower === 'entryuuid') {
      const v = entry[key];
      const s = Array.isArray(v) ? v[0] : v;
      return s === undefined ? undefined : String(s);
    }
    if (flavor === 'ad' && lower === 'objectguid') {
      const v = entry[key];
      const b = Array.isArray(v) ? v[0] : v;
      return Buffer.isBuffer(b) && b.length === 16 ? guidToString(b) : undefined;
    }
  }
  return undefined;
}

/** Active Directory's canonical GUID string: the first three groups are little-endian. */
export function guidToString(bytes: Buffer): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = bytes.subarray(from, to);
    return Buffer.from(reverse ? Buffer.from(part).reverse() : part).toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

function firstString(raw: Entry[string]): string {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : v;
}

/** The values as strings. An array of strings from ldapts is the entry's own: it is used (and later sorted) in place. */
function toStrings(raw: Entry[string]): string[] {
  if (Array.isArray(raw)) {
    const list = raw as (string | Buffer)[];
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      if (typeof v !== 'string') list[i] = v.toString('utf8');
    }
    return list as string[];
  }
  return [Buffer.isBuffer(raw) ? raw.toString('utf8') : raw];
}

function toBase64(raw: Entry[string]): string[] {
  const list = Array.isArray(raw) ? (raw as (string | Buffer)[]) : [raw];
  return list.map((v) => (Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8')).toString('base64'));
}

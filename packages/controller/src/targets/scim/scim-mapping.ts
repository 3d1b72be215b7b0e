import type { ScimMappingSettings } from '../../model';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** SCIM attribute -> source attribute, per directory (docs/scim.md). */
export const DEFAULT_USER_MAPPING: Readonly<Record<'openldap' | 'ad', Readonly<Record<string, string>>>> = Object.freeze({
  openldap: Object.freeze({
    userName: 'uid',
    displayName: 'displayName',
    'name.givenName': 'givenName',
    'name.familyName': 'sn',
    emails: 'mail',
    phoneNumbers: 'telephoneNumber',
    title: 'title',
    employeeNumber: 'employeeNumber',
    department: 'departmentNumber',
    manager: 'manager',
  }),
  ad: Object.freeze({
    userName: 'userPrincipalName',
    displayName: 'displayName',
    'name.givenName': 'givenName',
    'name.familyName': 'sn',
    emails: 'mail',
    phoneNumbers: 'telephoneNumber',
    title: 'title',
    employeeNumber: 'employeeID',
    department: 'department',
    manager: 'manager',
  }),
});
export const DEFAULT_GROUP_MAPPING: Readonly<Record<string, string>> = Object.freeze({ displayName: 'cn' });

/**
 * A resource flattened to the paths syncguard sets, each with its JSON value: what is
 * compared to work out a PATCH with only what changed, and what is kept of what was sent.
 * Paths are SCIM attribute paths (`name.givenName`, `urn:...:enterprise:2.0:User:department`).
 */
export type Flat = Record<string, unknown>;

/** The source's attributes, looked up by name regardless of case. */
class Attributes {
  private readonly byLower = new Map<string, string[]>();
  constructor(attributes: Record<string, string[]>) {
    for (const [k, v] of Object.entries(attributes)) this.byLower.set(k.toLowerCase(), v);
  }
  first(name: string | null | undefined): string | undefined {
    if (!name) return undefined;
    const v = this.byLower.get(name.toLowerCase())?.[0];
    return v === undefined || v === '' || v.startsWith('base64:') ? undefined : v;
  }
  all(name: string | null | undefined): string[] {
    if (!name) return [];
    return (this.byLower.get(name.toLowerCase()) ?? []).filter((v) => v !== '' && !v.startsWith('base64:'));
  }
  has(name: string): boolean {
    return this.byLower.has(name.toLowerCase());
  }
}

function directoryOf(settings: ScimMappingSettings | null, attrs: Attributes): 'openldap' | 'ad' {
  const d = settings?.directory ?? 'auto';
  if (d !== 'auto') return d;
  return attrs.has('sAMAccountName') || attrs.has('userPrincipalName') ? 'ad' : 'openldap';
}

const ENTERPRISE_PATHS = new Set(['employeeNumber', 'department', 'manager']);

/** The SCIM path of a mapped attribute (enterprise ones carry the schema URN). */
export function scimPath(attribute: string): string {
  return ENTERPRISE_PATHS.has(attribute) ? `${ENTERPRISE_SCHEMA}:${attribute}` : attribute;
}

/** What a user becomes: its flat form, and the DN of its manager where the source names one. */
export interface MappedUser {
  flat: Flat;
  managerDn: string | null;
}

/**
 * A user as SCIM sees it. `externalId` is the source id, `active` false for a disabled
 * account; the rest follows the mapping. Returns a reason instead when there is no userName.
 */
export function mapUser(
  objectId: string,
  attributes: Record<string, string[]>,
  disabled: boolean,
  settings: ScimMappingSettings | null,
): MappedUser | { problem: string } {
  const attrs = new Attributes(attributes);
  const directory = directoryOf(settings, attrs);
  const mapping: Record<string, string | null> = { ...DEFAULT_USER_MAPPING[directory], ...settings?.user };
  let userName = attrs.first(mapping.userName);
  if (userName === undefined && directory === 'ad' && !settings?.user.userName) userName = attrs.first('sAMAccountName');
  if (userName === undefined)
    return { problem: `no userName: the source attribute ${mapping.userName ?? 'userName'} is empty or missing` };
  const flat: Flat = { userName, externalId: objectId, active: !disabled };
  const set = (path: string, value: unknown) => {
    if (value !== undefined) flat[path] = value;
  };
  set('displayName', attrs.first(mapping.displayName) ?? (mapping.displayName ? attrs.first('cn') : undefined));
  set('name.givenName', attrs.first(mapping['name.givenName']));
  set('name.familyName', attrs.first(mapping['name.familyName']));
  const emails = attrs.all(mapping.emails);
  if (emails.length > 0) flat.emails = emails.map((value, i) => ({ value, type: 'work', primary: i === 0 }));
  const phones = attrs.all(mapping.phoneNumbers);
  if (phones.length > 0) flat.phoneNumbers = phones.map((value) => ({ value, type: 'work' }));
  set('title', attrs.first(mapping.title));
  set(scimPath('employeeNumber'), attrs.first(mapping.employeeNumber));
  set(scimPath('department'), attrs.first(mapping.department));
  return { flat, managerDn: attrs.first(mapping.manager) ?? null };
}

export function mapGroup(
  objectId: string,
  attributes: Record<string, string[]>,
  settings: ScimMappingSettings | null,
): { flat: Flat } | { problem: string } {
  const attrs = new Attributes(attributes);
  const source = settings?.group.displayName ?? DEFAULT_GROUP_MAPPING.displayName!;
  const displayName = attrs.first(source);
  if (displayName === undefined) return { problem: `no displayName: the source attribute ${source} is empty or missing` };
  return { flat: { displayName, externalId: objectId } };
}

/** A flat form as a SCIM resource body (for POST). */
export function resourceOf(flat: Flat, schema: string): Record<string, unknown> {
  const out: Record<string, unknown> = { schemas: [schema] };
  for (const [path, value] of Object.entries(flat)) {
    if (path.startsWith(`${ENTERPRISE_SCHEMA}:`)) {
      if (!(out.schemas as string[]).includes(ENTERPRISE_SCHEMA)) (out.schemas as string[]).push(ENTERPRISE_SCHEMA);
      const ext = (out[ENTERPRISE_SCHEMA] ??= {}) as Record<string, unknown>;
      ext[path.slice(ENTERPRISE_SCHEMA.length + 1)] = value;
    } else if (path.startsWith('name.')) {
      const name = (out.name ??= {}) as Record<string, unknown>;
      name[path.slice(5)] = value;
    } else out[path] = value;
  }
  return out;
}

/** The paths of `like` read from a resource the service provider returned (to compare with what we would send). */
export function flatOf(resource: Record<string, unknown>, like: Flat): Flat {
  const out: Flat = {};
  const ext = (resource[ENTERPRISE_SCHEMA] ?? {}) as Record<string, unknown>;
  const name = (resource.name ?? {}) as Record<string, unknown>;
  const paths = new Set([...Object.keys(like), ...Object.keys(resource).filter((k) => k in like)]);
  for (const path of paths) {
    let value: unknown;
    if (path.startsWith(`${ENTERPRISE_SCHEMA}:`)) value = ext[path.slice(ENTERPRISE_SCHEMA.length + 1)];
    else if (path.startsWith('name.')) value = name[path.slice(5)];
    else value = resource[path];
    if (value !== undefined && value !== null) out[path] = value;
  }
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One PatchOp operation. */
export type PatchOperation = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

/**
 * The PatchOp operations that take a resource from `before` to `after`: a `replace` per
 * changed path, a `remove` per path no longer set. Nothing when they are the same.
 */
export function diff(before: Flat, after: Flat): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const [path, value] of Object.entries(after)) if (!same(before[path], value)) ops.push({ op: 'replace', path, value });
  for (const path of Object.keys(before)) if (!(path in after)) ops.push({ op: 'remove', path });
  return ops;
}

/** Member changes as bounded PatchOp bodies: adds in `add` operations, removals one filter each, at most `size` values a body. */
export function memberPatches(add: readonly string[], remove: readonly string[], size: number): PatchOperation[][] {
  const bodies: PatchOperation[][] = [];
  for (let i = 0; i < remove.length; i += size)
    bodies.push(remove.slice(i, i + size).map((id) => ({ op: 'remove', path: `members[value eq ${JSON.stringify(id)}]` })));
  for (let i = 0; i < add.length; i += size)
    bodies.push([{ op: 'add', path: 'members', value: add.slice(i, i + size).map((value) => ({ value })) }]);
  return bodies;
}

/** A string as a SCIM filter literal. */
export function literal(value: string): string {
  return JSON.stringify(value);
}

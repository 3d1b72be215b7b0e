import type { CloudObject, ObjectTypeName } from '../../model';
import { GROUP_SCHEMA, USER_SCHEMA, mapGroup, mapUser, resourceOf } from './scim-mapping';

/**
 * What the read-only SCIM view reads of the cloud directory besides its listing
 * (store/cloud-directory.ts): pages by position, and the name index kept by the apply chunks.
 */
export interface ScimDirectoryIndex {
  /** The ids of the type at positions `offset` to `offset + count - 1` (in id order), and how many the type has. */
  page(configurationId: string, type: ObjectTypeName, offset: number, count: number): Promise<{ total: number; ids: string[] }>;
  /**
   * The ids of the type whose SCIM name (a user's userName, a group's displayName) is `name`,
   * regardless of case; null when the index cannot answer (objects applied before it existed).
   */
  byName(configurationId: string, type: ObjectTypeName, name: string): Promise<string[] | null>;
  /** The objects with these ids (those held), member ids resolved. */
  objects(configurationId: string, ids: readonly string[]): Promise<CloudObject[]>;
}

/** A SCIM filter this view answers: one `eq` on a known attribute. */
export interface ScimEqFilter {
  attribute: 'userName' | 'displayName' | 'externalId' | 'id';
  value: string;
}

const FILTER = /^\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

/** Parses `userName eq "x"` (and displayName, externalId, id); null for anything else. */
export function parseEqFilter(text: string, type: ObjectTypeName): ScimEqFilter | null {
  const m = FILTER.exec(text);
  if (!m) return null;
  const known = type === 'user' ? ['userName', 'displayName', 'externalId', 'id'] : ['displayName', 'externalId', 'id'];
  const attribute = known.find((k) => k.toLowerCase() === m[1]!.toLowerCase()) as ScimEqFilter['attribute'] | undefined;
  if (!attribute) return null;
  let value: string;
  try {
    value = JSON.parse(`"${m[2]!}"`) as string;
  } catch {
    return null;
  }
  return { attribute, value };
}

/**
 * An object of the built-in cloud directory as a SCIM resource, by the default mapping
 * (OpenLDAP or AD, as the object's attributes say): `id` and `externalId` are the source id.
 */
export function scimResourceOf(o: CloudObject, baseUrl: string): Record<string, unknown> {
  const meta = { resourceType: o.type === 'group' ? 'Group' : 'User', lastModified: o.updatedAt };
  if (o.type === 'group') {
    const mapped = mapGroup(o.id, o.attributes, null);
    const flat = 'flat' in mapped ? mapped.flat : { displayName: o.dn, externalId: o.id };
    return {
      ...resourceOf(flat, GROUP_SCHEMA),
      id: o.id,
      members: o.memberIds.map((value) => ({ value, $ref: `${baseUrl}/Users/${value}` })),
      meta: { ...meta, location: `${baseUrl}/Groups/${o.id}` },
    };
  }
  const mapped = mapUser(o.id, o.attributes, o.disabled, null);
  const flat = 'flat' in mapped ? mapped.flat : { userName: o.dn, externalId: o.id, active: !o.disabled };
  return { ...resourceOf(flat, USER_SCHEMA), id: o.id, meta: { ...meta, location: `${baseUrl}/Users/${o.id}` } };
}

/** True when a resource matches the filter (userName is case-insensitive, as SCIM defines it). */
export function matchesFilter(resource: Record<string, unknown>, filter: ScimEqFilter): boolean {
  const v = resource[filter.attribute];
  if (typeof v !== 'string') return false;
  return filter.attribute === 'userName' ? v.toLowerCase() === filter.value.toLowerCase() : v === filter.value;
}

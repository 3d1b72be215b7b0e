import type { ObjectTypeName } from '../../model';
import type { UnitOfWork } from '../target';
import type { Flat } from './scim-mapping';

/** What the SCIM target keeps of one object it provisioned. */
export interface ScimRecord {
  /** The service provider's `id` of the resource. */
  id: string;
  type: ObjectTypeName;
  /** The DN the object had when sent (member and manager DNs resolve through it). */
  dn: string;
  /** What was last sent, flat: a PATCH carries only what differs from it. */
  sent: Flat;
  /** Groups: the member ids last sent. */
  members?: string[];
  /**
   * Groups: the member DNs the source listed (lower-cased), resolved or not. A DN that names
   * no provisioned object yet waits here (and in the records' listing) until one gets an id.
   */
  memberDns?: string[];
}

/** What one chunk changes in the target's records, committed with the chunk. */
export interface ScimRecordWrites {
  /** Records to keep (with their DNs). */
  put: ReadonlyArray<[objectId: string, record: ScimRecord]>;
  /** Records to drop. */
  remove: readonly string[];
  /** DNs that no longer name a record. */
  staleDns: readonly string[];
  /** `[member DN (lower-cased), group object id]` pairs the groups' member lists gained and lost. */
  listed: { add: ReadonlyArray<[string, string]>; remove: ReadonlyArray<[string, string]> };
  /** Groups whose provider-side members could not be brought in line (a request failed), and groups settled again. */
  unsettled: { add: readonly string[]; remove: readonly string[] };
}

/**
 * The SCIM target's records per configuration (store/scim-record-store.ts implements them).
 * Writes join the chunk's commit, so that the target's ids are kept exactly when the
 * pipeline records the chunk as applied.
 */
export interface ScimRecords {
  get(configurationId: string, objectIds: readonly string[]): Promise<(ScimRecord | null)[]>;
  /** How many records the configuration keeps (users and groups). */
  count(configurationId: string): Promise<number>;
  /** The service provider's ids of the objects with these DNs (case-insensitive), null where none. */
  idsByDn(configurationId: string, dns: readonly string[]): Promise<(string | null)[]>;
  /**
   * The groups (object ids) whose source member list names each DN (lower-cased), resolved or
   * not; `[]` where none. Null when no group lists any DN (nothing to look up).
   */
  groupsListing(configurationId: string, dns: readonly string[]): Promise<string[][] | null>;
  /** Groups whose members a failed request left out of line with their records (reconciled by the next chunk). */
  unsettledGroups(configurationId: string): Promise<string[]>;
  /** Queues the writes on the chunk's commit. */
  write(unit: UnitOfWork, configurationId: string, writes: ScimRecordWrites): void;
  /** Forgets every record of the configuration (the resources stay in the service provider). */
  removeAll(configurationId: string): Promise<void>;
}

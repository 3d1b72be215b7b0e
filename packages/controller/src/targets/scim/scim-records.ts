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
  /** Queues the writes on the chunk's commit: records to keep (with their DNs), records to drop, DNs that no longer name one. */
  write(
    unit: UnitOfWork,
    configurationId: string,
    put: ReadonlyArray<[objectId: string, record: ScimRecord]>,
    remove: readonly string[],
    staleDns: readonly string[],
  ): void;
  /** Forgets every record of the configuration (the resources stay in the service provider). */
  removeAll(configurationId: string): Promise<void>;
}

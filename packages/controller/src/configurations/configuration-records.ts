import type { AuditEntry, ConfigurationState, StoredConfiguration } from '../model';

/** An audit entry as a change records it (the log adds its id and time). */
export type AuditRecord = Omit<AuditEntry, 'id' | 'at'>;

/**
 * The configurations' records (store/configuration-store.ts implements it). Each change is
 * one transaction with the audit entry that records it.
 */
export interface ConfigurationRecords {
  list(): Promise<StoredConfiguration[]>;
  /** NotFoundError when there is none. */
  get(id: string): Promise<StoredConfiguration>;
  state(id: string): Promise<ConfigurationState>;
  /** Stores a new configuration, in state `pending`. */
  create(cfg: StoredConfiguration, entry: AuditRecord): Promise<void>;
  /**
   * Overwrites an existing configuration's settings. `resetSynced` (a new target): in the same
   * transaction, forgets what was synced (the synced index, its per-type counts, what is owed
   * to the target, the committed cycle), so that the next cycle is FULL and creates everything.
   */
  update(cfg: StoredConfiguration, entry: AuditRecord, options?: { resetSynced?: boolean }): Promise<void>;
  /**
   * Removes the configuration and what is held for it: settings, state, active agent, cycle
   * history, synced index, retries and provisioning log (not the cycles' records:
   * CycleRecords.removeAllCycles, nor the target's objects).
   */
  remove(id: string, entry: AuditRecord): Promise<void>;
}

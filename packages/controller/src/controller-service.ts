import type { KeptObject, RejectResult, TriageService } from './cycles/triage';
import type { ScimEqFilter } from './targets/scim/scim-view';
import type {
  Actor,
  Agent,
  AllowDeletesResult,
  AuditEntry,
  CloudObject,
  Configuration,
  ConfigurationInput,
  ConfigurationPatch,
  ConfigurationStatus,
  Cycle,
  DeleteApproval,
  NotificationEventView,
  StagedDelete,
  StagedDeleteGroup,
  ObjectTypeName,
  Page,
  ProvisioningAction,
  ProvisioningLogEntry,
  Preview,
} from './model';

/** A page of held deletes, with their total and the quarantined cycle holding them (null: none). */
export type StagedDeletePage = Page<StagedDelete> & { total: number; cycleId: string | null };
/** The held deletes grouped. */
export interface StagedDeleteGroups {
  groups: StagedDeleteGroup[];
  total: number;
  cycleId: string | null;
}

/**
 * What the admin surface (HTTP API, CLI through it, portal through it) asks of the
 * engine. Every method validates its input and throws the errors of ./errors.ts
 * (ValidationError naming the field, NotFoundError, ConflictError for the wrong state).
 * Methods that change state take the Actor and write the audit log themselves.
 */
export interface ControllerService {
  /** ConflictError (SG_ERR_NAME_TAKEN) when another agent has the name. */
  registerAgent(input: { name: string }, actor: Actor): Promise<{ id: string; token: string }>;
  /**
   * Removes an agent: its token stops working, its live session closes with AGENT_REVOKED,
   * configurations stop naming it (answered in `configurationIds`), a cycle it ran fails.
   */
  deleteAgent(id: string, actor: Actor): Promise<{ id: string; configurationIds: string[] }>;
  /** A new token for an agent (shown once); the old one stops working and its session closes. */
  rotateAgentToken(id: string, actor: Actor): Promise<{ id: string; token: string }>;
  listAgents(): Promise<Agent[]>;
  getAgent(id: string): Promise<Agent>;

  listConfigurations(): Promise<Configuration[]>;
  createConfiguration(input: ConfigurationInput, actor: Actor): Promise<Configuration>;
  getConfiguration(id: string): Promise<Configuration>;
  updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration>;
  deleteConfiguration(id: string, actor: Actor): Promise<void>;

  getStatus(id: string): Promise<ConfigurationStatus>;
  /** 409 (ConflictError) while quarantined or while a cycle runs; 409 when no agent serving it is connected. */
  startCycle(id: string, actor: Actor): Promise<{ cycleId: string }>;
  listCycles(id: string, page: { limit?: number; cursor?: string }): Promise<Page<Cycle>>;
  listProvisioningLogs(
    id: string,
    query: { action?: ProvisioningAction; cycleId?: string; dn?: string; limit?: number; cursor?: string },
  ): Promise<Page<ProvisioningLogEntry>>;

  /**
   * Applies the quarantined cycle exactly once and answers what happened (see
   * AllowDeletesResult). ConflictError when not quarantined (or another call won);
   * ControllerError SG_ERR_APPLY_FAILED when the released cycle's apply failed.
   */
  allowDeletes(id: string, actor: Actor, body?: unknown): Promise<AllowDeletesResult>;
  /**
   * reject-deletes `{}` or `{objectIds, reason}`: those staged deletes become kept objects;
   * once none is left staged the rest of the cycle is applied (cycles/triage.ts).
   */
  rejectDeletes(id: string, body: unknown, actor: Actor): Promise<RejectResult>;
  /** The kept objects, sorted by object id (`limit` default 100, `cursor`). */
  listKeptObjects(id: string, query: { limit?: number; cursor?: string }): Promise<Page<KeptObject> & { total: number }>;
  /** Deletes kept objects `{objectIds, reason}` from the target (audited). */
  deleteKeptObjects(id: string, body: unknown, actor: Actor): Promise<KeptDeleteResult>;
  /** Discards the quarantined cycle and starts a new one. ConflictError when not quarantined. */
  restart(id: string, actor: Actor): Promise<{ discardedCycleId: string; cycleId: string | null }>;

  /**
   * The deletes the configuration's quarantine holds (none while not quarantined): a page
   * (`limit` default 100, `cursor`), or with `groupBy` (cause, parent, type) every group with
   * its count and a sample. ValidationError naming groupBy, limit or cursor.
   */
  listStagedDeletes(
    id: string,
    query: { groupBy?: string; limit?: number; cursor?: string },
  ): Promise<StagedDeletePage | StagedDeleteGroups>;

  /**
   * A pre-approval `{maxDeletes, expiresInHours, reason}` (audited): the next cycle the guard
   * would quarantine with at most maxDeletes deletes, before it expires, is applied, once.
   */
  createDeleteApproval(id: string, body: unknown, actor: Actor): Promise<DeleteApproval>;
  listDeleteApprovals(id: string): Promise<{ items: DeleteApproval[] }>;
  /** NotFoundError for an unknown id; ConflictError SG_ERR_APPROVAL_SPENT when used or revoked already. */
  revokeDeleteApproval(id: string, approvalId: string, actor: Actor): Promise<void>;

  /**
   * Starts a preview of a configuration patch (as for PATCH, `{}` allowed; audited): the
   * agent reads the patched scope, nothing is applied. ValidationError naming the field;
   * ConflictError SG_ERR_NO_AGENT (no agent connected) or SG_ERR_AGENT_UNSUPPORTED (too old).
   */
  startPreview(id: string, patch: unknown, actor: Actor): Promise<{ previewId: string }>;
  /** A preview's state and result; NotFoundError for an unknown or expired one. */
  getPreview(id: string, previewId: string): Promise<Preview>;

  /** The configuration's newest notification events (at most `limit`, default 20, at most 100) with their deliveries. */
  listNotifications(id: string, query: { limit?: number }): Promise<{ items: NotificationEventView[] }>;
  /**
   * Sends a `notification.test` event to every email recipient and webhook of the
   * configuration (audited); ConflictError SG_ERR_NO_NOTIFICATIONS when it has none.
   */
  testNotifications(id: string, actor: Actor): Promise<{ eventId: string; deliveries: number }>;

  listObjects(
    id: string,
    query: { type?: ObjectTypeName; limit?: number; cursor?: string },
  ): Promise<{ total: number } & Page<CloudObject>>;

  listAudit(query: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>>;

  /** The cloud directory's users or groups as SCIM 2.0 resources (the read-only /scim/v2 view). */
  listScimResources(
    id: string,
    type: ObjectTypeName,
    query: { filter: ScimEqFilter | null; startIndex: number; count: number; baseUrl: string },
  ): Promise<{ totalResults: number; resources: Record<string, unknown>[] }>;

  /**
   * Writes one audit entry for an action that no other method records: API token create
   * and revoke (the admin surface owns tokens, src/auth).
   */
  recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;

  /** True when Redis answers. */
  ping(): Promise<boolean>;
}

/** POST .../kept-objects/delete's answer. */
export type KeptDeleteResult = Awaited<ReturnType<TriageService['deleteKept']>>;

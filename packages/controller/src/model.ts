/**
 * The controller's public JSON shapes: what the HTTP API answers, the CLI prints and the
 * portal shows. Names follow ../../../../shared/docs/contract.md; change them only with it.
 * Times are ISO 8601 strings in UTC.
 */

import type { TrippedRule } from './guard/decide';

export type { TrippedRule };

export type ObjectTypeName = 'user' | 'group';

export interface SourceSettings {
  /** Search base, an LDAP DN. */
  baseDn: string;
  /** Additional LDAP filter; '' for none. */
  filter: string;
  /** Object types in scope, at least one. */
  objectTypes: ObjectTypeName[];
  /** Extra attributes to synchronise; [] for the agent's default set. */
  attributes: string[];
  /** OpenLDAP: attribute whose presence (value not FALSE/0) marks an account disabled; '' for none. */
  disabledAttribute: string;
}

export interface AccidentalDeleteSettings {
  /** Default true. */
  enabled: boolean;
  /** Whole number >= 1, default 500. Reached when a cycle's deletes >= threshold. */
  threshold: number;
  /** Count accounts disabled at the source as deletes. Default false. */
  countDisables: boolean;
  /**
   * Reached when a cycle's deletes >= this share (percent, > 0 and <= 100) of the objects
   * the target holds for the configuration before the cycle. null (the default): off.
   */
  percentage: number | null;
  /** `percentage` and the per-type percentages apply only while the target holds (of the type) >= this. Default 100. */
  minimumObjects: number;
  /** Limits per object type (`type:user`, `type:group`); null (the default) or a type left out: none. */
  perType: PerTypeDeleteLimits | null;
  /** Deletes applied in the last `hours` plus this cycle's deletes >= `threshold`. null (the default): off. */
  window: DeleteWindow | null;
  /** Objects whose delete (or counted disable) always quarantines. null (the default): none. */
  protected: ProtectedObjectSettings | null;
  /**
   * Reached when the memberships a cycle removes from groups that stay (groups updated, not
   * deleted) >= `threshold`. null (the default): off.
   */
  memberRemovals: MemberRemovalLimit | null;
  /**
   * What a quarantine holds back: `cycle` (the default: nothing of the cycle is applied) or
   * `deletes` (the delete lane: creates and updates are applied at once, the deletes are
   * held, and later cycles keep running, adding their deletes to the held set;
   * cycles/delete-lane.ts). `deletes` cannot be combined with `memberRemovals`, whose
   * removals are updates.
   */
  hold: HoldMode;
  /**
   * Admin tokens that must allow the deletes before a quarantined cycle is released: 1 (the
   * default) or 2 (two different tokens; the first allow-deletes answers 202 with
   * `approvalsNeeded`).
   */
  approvals: 1 | 2;
}

/** The limits of one object type; a limit that is null is off. */
export interface TypeDeleteLimits {
  /** Whole number >= 1: reached when the type's deletes >= threshold. */
  threshold: number | null;
  /** Percent (> 0, <= 100) of the type's objects held, from `minimumObjects` of the type on. */
  percentage: number | null;
}

export interface PerTypeDeleteLimits {
  user?: TypeDeleteLimits | null;
  group?: TypeDeleteLimits | null;
}

export interface DeleteWindow {
  /** Whole hours, 1 to 720 (30 days). */
  hours: number;
  /** Whole number >= 1. */
  threshold: number;
}

export type HoldMode = 'cycle' | 'deletes';

export interface MemberRemovalLimit {
  /** Whole number >= 1. */
  threshold: number;
}

export interface ProtectedObjectSettings {
  /** DNs: the object of the DN and everything under it (case-insensitive, on RDN boundaries). At most 100. */
  dnSuffixes: string[];
  /** Object ids as the agent reports them. At most 1,000. */
  objectIds: string[];
}

export type ConfigurationState = 'pending' | 'healthy' | 'quarantined' | 'error';

/** Where a configuration's cycles are applied: the built-in cloud directory (the default) or a SCIM 2.0 service provider. */
export type TargetSettings = CloudDirectoryTargetSettings | ScimTargetSettings;

export interface CloudDirectoryTargetSettings {
  type: 'cloudDirectory';
}

/**
 * A SCIM 2.0 target as the API shows it: secrets are write-only (`token: null, tokenSet: true`).
 * Stored, the secrets are sealed with SYNCGUARD_SECRET_KEY ({@link StoredScimAuth}).
 */
export interface ScimTargetSettings {
  type: 'scim';
  /** The service provider's base URL (http or https), e.g. `https://app.example.com/scim/v2`. */
  baseUrl: string;
  auth: ScimAuthView;
  /** `delete` (the default): DELETE the resource; `deactivate`: PATCH `active: false` (users; groups are deleted). */
  deleteMode: 'delete' | 'deactivate';
  /**
   * How a resource is changed: `patch` (the default) sends PATCH with only what changed;
   * `put` (for providers without PATCH) replaces the whole resource (RFC 7644 3.5.1), a
   * group's members whole, and `deactivate` too.
   */
  updateMethod: 'patch' | 'put';
  /** Requests in flight at once, 1 to 64. Default 4. */
  concurrency: number;
  /** Most requests per second (token bucket), or null (the default): no limit but the peer's 429s. */
  maxRequestsPerSecond: number | null;
  /** Quarantine with `TargetFailures` when at least this percent of a cycle's operations fail (and at least 50). Default 40. */
  failureQuarantinePercent: number;
  /** Seconds one request may take before it is retried. Default 30. */
  requestTimeoutSeconds: number;
  /** Overrides of the default mapping (see docs/scim.md); null: the default for the directory. */
  mapping: ScimMappingSettings | null;
}

export type ScimAuthView =
  | { type: 'bearer'; token: null; tokenSet: boolean }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecret: null; clientSecretSet: boolean; scope: string | null };

/** The mapping of source attributes to SCIM attributes. */
export interface ScimMappingSettings {
  /** `openldap`, `ad`, or `auto` (the default): AD when an object carries `objectGUID` or `sAMAccountName`. */
  directory: 'auto' | 'openldap' | 'ad';
  /** SCIM attribute -> source attribute (null: not sent), over the directory's defaults. */
  user: Record<string, string | null>;
  group: Record<string, string | null>;
}

export type StoredScimAuth =
  | { type: 'bearer'; tokenSealed: string }
  | { type: 'oauth2'; tokenUrl: string; clientId: string; clientSecretSealed: string; scope: string | null };

/** A SCIM target as stored: its secrets sealed (AES-256-GCM with SYNCGUARD_SECRET_KEY). */
export type StoredScimTargetSettings = Omit<ScimTargetSettings, 'auth'> & { auth: StoredScimAuth };
export type StoredTargetSettings = CloudDirectoryTargetSettings | StoredScimTargetSettings;

export interface Configuration {
  id: string;
  name: string;
  agentIds: string[];
  source: SourceSettings;
  /** Seconds between scheduled cycles, >= 10. Default 120. */
  syncIntervalSeconds: number;
  accidentalDeletes: AccidentalDeleteSettings;
  /** Where quarantine notifications go; null for nobody. Counts as one of `notifications.emails`. */
  notificationEmail: string | null;
  /** Where cycles are applied. Default `{type: 'cloudDirectory'}`. */
  target: TargetSettings;
  /** Email recipients and signed webhooks of the configuration's events (webhook secrets never shown). */
  notifications: { emails: string[]; webhooks: WebhookView[] };
  state: ConfigurationState;
  createdAt: string;
  updatedAt: string;
}

/**
 * A configuration as stored: its settings without the state, which is kept apart, and with
 * its target's secrets sealed.
 */
export type StoredConfiguration = Omit<Configuration, 'state' | 'notifications' | 'target'> & {
  /** Absent in configurations stored before notifications: none but `notificationEmail`. */
  notifications?: NotificationSettings;
  /** Absent in configurations stored before targets: the cloud directory. */
  target?: StoredTargetSettings;
};

/** Body of POST /configurations; PATCH takes any subset (nested objects merge). */
export interface ConfigurationInput {
  name: string;
  agentIds?: string[];
  source: Partial<SourceSettings> & { baseDn: string };
  syncIntervalSeconds?: number;
  accidentalDeletes?: Partial<AccidentalDeleteSettings>;
  notificationEmail?: string | null;
  notifications?: NotificationSettingsInput;
  /** A SCIM target's `auth` takes the secrets in clear (`token`, `clientSecret`); reads never show them. */
  target?: Record<string, unknown>;
}

export type ConfigurationPatch = Partial<Omit<ConfigurationInput, 'source'>> & { source?: Partial<SourceSettings> };

/**
 * Where a configuration's events go. At most 20 email addresses (`notificationEmail`
 * counted with them) and 5 webhooks.
 */
export interface NotificationSettings {
  emails: string[];
  webhooks: WebhookSettings[];
}

/** A webhook as stored: its secret signs every body (HMAC-SHA256). */
export interface WebhookSettings {
  /** http:// or https:// URL; unique within the configuration. */
  url: string;
  /**
   * The secret (16 to 256 characters, write-only: reads answer null and `secretSet`), sealed
   * with SYNCGUARD_SECRET_KEY (secrets/secret-box.ts) for this configuration and URL.
   */
  secretSealed?: string;
  /** The secret in clear, as the build before sealing stored it: read, and sealed by the configuration's next change. */
  secret?: string;
}

/** A webhook as the API shows it: the secret is never read back. */
export interface WebhookView {
  url: string;
  secret: null;
  secretSet: boolean;
}

/**
 * `notifications` in a POST or PATCH body (the lists replace the stored ones). A webhook
 * whose `secret` is left out or null keeps the secret stored for the same URL.
 */
export interface NotificationSettingsInput {
  emails?: string[];
  webhooks?: { url: string; secret?: string | null }[];
}

/** The events a configuration notifies; `notification.test` is only sent by the test call. */
export type NotificationEventName =
  | 'quarantine.started'
  | 'quarantine.released'
  | 'quarantine.rejected'
  | 'quarantine.restarted'
  | 'cycle.failed'
  | 'notification.test';

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'cancelled';

/** One delivery of an event to one endpoint (an email address or a webhook URL). */
export interface NotificationDelivery {
  channel: 'email' | 'webhook';
  /** The email address or the webhook URL. */
  to: string;
  /** pending (being tried, or waiting for a retry), delivered, failed (every attempt failed), cancelled (the endpoint was removed meanwhile). */
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  /** Webhooks: the HTTP status of the last answer, null when none came. */
  responseStatus: number | null;
  deliveredAt: string | null;
}

/** An event and its deliveries, as the status and GET .../notifications show them. */
export interface NotificationEventView {
  /** The event id: the webhook's `id` and `X-Syncguard-Delivery`. */
  id: string;
  event: NotificationEventName;
  at: string;
  cycleId: string | null;
  deliveries: NotificationDelivery[];
}

export type CycleState = 'running' | 'applied' | 'quarantined' | 'failed' | 'discarded';
/** `release`: the cycle that applies a delete lane's held set (allow-deletes), without an agent. */
/**
 * `release`: the cycle that applies a delete lane's held set (allow-deletes), without an agent.
 * `retry`: a cycle brought forward because operations of the one before were still transient
 * (the target throttled or failed them through every attempt of its client).
 */
export type CycleTrigger = 'schedule' | 'manual' | 'restart' | 'agent-connected' | 'release' | 'retry';

export interface CycleCounts {
  create: number;
  update: number;
  delete: number;
  /** Operations the target did not apply (logged as failures; tried again by the next cycles). */
  failed: number;
}

/** How an agent found a cycle's changes (its LDAP_CHANGE_TRACKING and what the directory allowed). */
export type ChangeTrackingName = 'scan' | 'accesslog' | 'usn' | 'dirsync';

export interface Cycle {
  id: string;
  configurationId: string;
  state: CycleState;
  mode: 'delta' | 'full';
  /** How the agent found what changed: `scan` (the whole scope), `accesslog`, `usn` or `dirsync`; null before the agent said. */
  changeTracking?: ChangeTrackingName | null;
  /**
   * A full consistency read (the agent's LDAP_FULL_SCAN_INTERVAL: the change log, then a scan):
   * the changes the scan found that the log did not show; null when the cycle made none.
   */
  drift?: number | null;
  trigger: CycleTrigger;
  agentId: string | null;
  baseCycleId: string | null;
  startedAt: string;
  /** Set when the state becomes applied, quarantined, failed or discarded. */
  completedAt: string | null;
  counts: CycleCounts;
  /** With the delete lane open: the deletes this cycle added to the held set (not applied). */
  heldDeletes?: number;
  /** Of `counts.failed`, the operations whose last error was transient (429, 503, 5xx, timeouts); only when some were. */
  transient?: number;
  /** When the next cycle was brought forward to (trigger `retry`), because of those transient failures; only when it was. */
  retryAt?: string;
  /** Why a cycle failed or was discarded. */
  error: { code: string; message: string } | null;
  /** The pre-approval (POST .../delete-approvals) that let this cycle's deletes through without quarantine; null if none. */
  approvalId?: string | null;
}

/**
 * A pre-approval of a planned change: the next cycle that the delete guard would quarantine
 * with at most `maxDeletes` deletes, before `expiresAt`, is applied instead, once.
 */
export interface DeleteApproval {
  id: string;
  maxDeletes: number;
  reason: string;
  createdAt: string;
  expiresAt: string;
  /** Who made it (the token's name). */
  createdBy: string;
  /** active (waiting for its cycle), used, expired, or revoked (DELETE). */
  state: 'active' | 'used' | 'expired' | 'revoked';
  usedAt: string | null;
  /** The cycle it let through. */
  cycleId: string | null;
  /** That cycle's deletes. */
  usedDeletes: number | null;
}

export type NotificationStatus = 'none' | 'pending' | 'sent' | 'failed';

export interface Quarantine {
  /**
   * `TooManyDeletes`: the delete guard held the cycle before anything was applied.
   * `TargetFailures`: the target refused at least `failureQuarantinePercent` (and at least 50)
   * of the cycle's operations; its apply stopped there (`deleteCount` is then the failed
   * operations and `threshold` the limit they reached).
   */
  reason: 'TooManyDeletes' | 'TargetFailures';
  deleteCount: number;
  threshold: number;
  /** Every rule of the delete policy that tripped, with the value the cycle reached and the limit. */
  trippedBy: TrippedRule[];
  /**
   * How many cycles found this quarantine so far. With `hold: "deletes"`, the cycle that
   * opened the delete lane and every later cycle that ran while it was open; with
   * `hold: "cycle"`, the quarantined cycle and the quarantined cycles before it that restart
   * discarded in a row (restart, quarantined again: 2), since no cycle runs during one.
   */
  seriesCount: number;
  /** What the quarantine holds back: the whole cycle, or (the delete lane) only the deletes. */
  hold: HoldMode;
  cycleId: string;
  since: string;
  /** The quarantine email: 'none' when no notificationEmail is set; 'failed' after the last retry failed. */
  notification: { status: NotificationStatus; attempts: number; lastError: string | null; sentAt: string | null };
}

/**
 * What allow-deletes did: the released cycle was applied (HTTP 200), or it is still being
 * applied after the controller's releaseWaitMs (HTTP 202: the status and the cycle show
 * its progress and its outcome). A failed apply is an error answer, not one of these.
 */
export type AllowDeletesResult =
  /** `kept`: staged deletes this call made kept objects (a partial release; 0 for all). */
  | { state: 'applied'; cycleId: string; deleted: number; kept?: number }
  | { state: 'applying'; cycleId: string; deleteCount: number; kept?: number }
  /** With `approvals: 2`: this token's approval is recorded; another admin token must allow too. */
  | { state: 'awaitingApproval'; cycleId: string; approvalsNeeded: number };

export interface ConfigurationStatus {
  state: ConfigurationState;
  quarantine: Quarantine | null;
  lastCycle: Cycle | null;
  /** The newest events (at most 5) and the state of their deliveries. */
  notifications?: NotificationEventView[];
}

export type ProvisioningAction = 'Create' | 'Update' | 'Delete' | 'StagedDelete';
export type ProvisioningStatus = 'success' | 'failure' | 'skipped' | 'staged';

/**
 * Why a delete is one: the agent's word (deleted, moved out of the base, no longer matching
 * the filter), a disable counted as a delete (`countDisables`), the configuration's scope
 * changed, or not known.
 */
export type DeleteCauseName = 'deleted' | 'movedOutOfScope' | 'filteredOut' | 'disabled' | 'scopeChanged' | 'unknown';

/** A delete the guard holds (GET .../staged-deletes): the object as the target holds it. */
export interface StagedDelete {
  objectId: string;
  objectType: ObjectTypeName;
  /** As the target holds the object (before the change). */
  dn: string;
  /** `dn` without its first RDN; '' for a DN of one RDN. */
  parentDn: string;
  cause: DeleteCauseName;
  /** A move out of scope: where the agent found the object, when it knows. */
  newDn?: string;
}

/** GET .../staged-deletes?groupBy=: one group, its count over every held delete, and the first few of it. */
export interface StagedDeleteGroup {
  key: string;
  count: number;
  sample: StagedDelete[];
}

export interface ProvisioningLogEntry {
  id: string;
  cycleId: string;
  at: string;
  action: ProvisioningAction;
  status: ProvisioningStatus;
  objectType: ObjectTypeName;
  objectId: string;
  dn: string;
  details: string | null;
  /** Delete and StagedDelete entries: why the object is deleted. */
  cause?: DeleteCauseName;
  /** A delete moved out of scope: the object's DN now, where the agent found it. */
  newDn?: string;
}

export interface Agent {
  id: string;
  name: string;
  status: 'connected' | 'disconnected';
  lastSeenAt: string | null;
  version: string | null;
  hostname: string | null;
  configurationIds: string[];
  createdAt: string;
}

/** An object of the built-in cloud directory. */
export interface CloudObject {
  id: string;
  type: ObjectTypeName;
  dn: string;
  attributes: Record<string, string[]>;
  disabled: boolean;
  /** Groups: member DNs as the source lists them. */
  memberDns: string[];
  /** Groups: member object ids, for members the cloud directory holds. */
  memberIds: string[];
  updatedAt: string;
}

export type Role = 'admin' | 'reader';

/** Who made a call: the API token used (the bootstrap token is `{id: 'bootstrap', name: 'bootstrap-admin'}`). */
export interface Actor {
  tokenId: string;
  name: string;
  role: Role;
}

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor: { tokenId: string; name: string };
  /** e.g. 'allow-deletes', 'restart', 'configuration.create', 'configuration.update', 'configuration.delete', 'agent.register', 'agent.delete', 'agent.rotate-token', 'token.create', 'token.revoke', 'cycle.start' */
  action: string;
  target: { type: string; id: string };
  details: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass as `cursor` for the next page. null on the last page. */
  nextCursor: string | null;
}

/** A delete a preview found (GET .../previews/{previewId}: `deletes.sample`). */
export interface PreviewDeleteView {
  objectId: string;
  objectType: ObjectTypeName;
  dn: string;
  cause: DeleteCauseName;
}

/**
 * A preview of a configuration change (GET .../previews/{previewId}). `counts`,
 * `wouldQuarantine` and `deletes` are null until it is complete; `error` is set when it failed.
 */
export interface Preview {
  previewId: string;
  configurationId: string;
  state: 'running' | 'complete' | 'failed';
  startedAt: string;
  completedAt: string | null;
  /** Objects the agent read in the proposed scope so far. */
  objects: number;
  counts: { create: number; update: number; delete: number } | null;
  /** The delete guard would stop the change's first cycle (no pre-approval covering it). */
  wouldQuarantine: boolean | null;
  trippedBy: TrippedRule[];
  /** A pre-approval that would let the deletes through (it is not taken by the preview). */
  approvalId: string | null;
  deletes: { total: number; sample: PreviewDeleteView[] } | null;
  /** Rules of the policy the preview cannot weigh (`memberRemovals`: it reads no member lists). */
  notPreviewed: string[];
  error: { code: string; message: string } | null;
}

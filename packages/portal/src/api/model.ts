/**
 * The JSON shapes the portal reads from the controller's HTTP API. They mirror
 * packages/controller/src/model.ts (the source of truth, named in the contract); the
 * portal keeps its own copy so that the browser bundle does not depend on the controller
 * package and its Node-only imports. Only the fields the portal uses are listed.
 */

export type ObjectTypeName = 'user' | 'group';
export type ConfigurationState = 'pending' | 'healthy' | 'quarantined' | 'error';
export type CycleState = 'running' | 'applied' | 'quarantined' | 'failed' | 'discarded';
export type NotificationStatus = 'none' | 'pending' | 'sent' | 'failed';
export type ProvisioningAction = 'Create' | 'Update' | 'Delete' | 'StagedDelete';
export type ProvisioningStatus = 'success' | 'failure' | 'skipped' | 'staged';
export type Role = 'admin' | 'reader';

export interface AccidentalDeleteSettings {
  enabled: boolean;
  threshold: number;
  countDisables?: boolean;
}

export interface Configuration {
  id: string;
  name: string;
  agentIds: string[];
  source: { baseDn: string; filter: string; objectTypes: ObjectTypeName[] };
  syncIntervalSeconds: number;
  accidentalDeletes: AccidentalDeleteSettings;
  notificationEmail: string | null;
  state: ConfigurationState;
  createdAt?: string;
  updatedAt?: string;
}

export interface ConfigurationPatch {
  notificationEmail?: string | null;
  accidentalDeletes?: Partial<AccidentalDeleteSettings>;
}

export interface CycleCounts {
  create: number;
  update: number;
  delete: number;
}

export interface Cycle {
  id: string;
  configurationId?: string;
  state: CycleState;
  mode?: 'delta' | 'full';
  trigger?: string;
  agentId?: string | null;
  startedAt: string;
  completedAt: string | null;
  counts: CycleCounts;
  error?: { code: string; message: string } | null;
}

export interface Quarantine {
  reason: string;
  deleteCount: number;
  threshold: number;
  cycleId: string;
  since: string;
  notification?: { status: NotificationStatus; attempts: number; lastError: string | null; sentAt: string | null };
}

export interface ConfigurationStatus {
  state: ConfigurationState;
  quarantine: Quarantine | null;
  lastCycle: Cycle | null;
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
}

export interface Agent {
  id: string;
  name: string;
  status: 'connected' | 'disconnected';
  lastSeenAt: string | null;
  version: string | null;
  hostname: string | null;
  configurationIds: string[];
  createdAt?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface AllowDeletesResult {
  cycleId: string;
  deleted: number;
}

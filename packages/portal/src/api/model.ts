/**
 * The JSON shapes the portal reads from the controller's HTTP API: the controller's own
 * model types (packages/controller/src/model.ts, named in the contract). The import is
 * type-only, so nothing of the controller package reaches the browser bundle.
 */
export type {
  AccidentalDeleteSettings,
  Agent,
  Configuration,
  ConfigurationPatch,
  ConfigurationState,
  ConfigurationStatus,
  Cycle,
  CycleCounts,
  DeleteApproval,
  CycleState,
  NotificationDelivery,
  NotificationEventView,
  NotificationStatus,
  StagedDelete,
  StagedDeleteGroup,
  ObjectTypeName,
  Page,
  Preview,
  PreviewDeleteView,
  ProvisioningAction,
  ProvisioningLogEntry,
  ProvisioningStatus,
  Quarantine,
  Role,
} from '@syncguard/controller';

/** Answer of POST /configurations/{id}/allow-deletes: applied (200), or still applying (202). */
export type { AllowDeletesResult } from '@syncguard/controller';

/** Triage (issue 18): reject-deletes' answer, a kept object, kept-objects/delete's answer. */
export type { KeptDeleteResult, KeptObject, RejectResult } from '@syncguard/controller';

export { ApiClient, ApiError } from './api-client';
export {
  TestSystem,
  startSystem,
  CONTROLLER_MAIN,
  AGENT_MAIN,
  CTL_MAIN,
  type SystemOptions,
  type ConfigurationBody,
  type DeletePolicyBody,
  type TrippedRuleView,
  type StatusView,
  type CycleView,
  type CloudObjectView,
  type LogEntryView,
  type NotificationEventView,
} from './system';

export { ApiClient, ApiError } from './api-client';
export {
  TestSystem,
  startSystem,
  CONTROLLER_MAIN,
  AGENT_MAIN,
  CTL_MAIN,
  defaultRedisTopology,
  type SystemOptions,
  type ControllerReplica,
  type RedisTopologyName,
  type TestRedis,
  type ConfigurationBody,
  type DeletePolicyBody,
  type TrippedRuleView,
  type StatusView,
  type CycleView,
  type CloudObjectView,
  type LogEntryView,
  type NotificationEventView,
} from './system';
export { addMixedTree, type MixedTree } from './trees';

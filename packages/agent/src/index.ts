/** @syncguard/agent: the on-premises daemon that reads LDAP and streams changes to the controller. */
export { Agent, AGENT_VERSION, type AgentState, type AgentExit, type AgentCreateOptions } from './agent';
export {
  compileAgentOptions,
  parseDuration,
  type AgentOptions,
  type CompiledAgentOptions,
  type Duration,
  type LogLevel,
} from './agent-options';
export { AgentError, AgentErrorCodes, SettingError, isAgentError, type AgentErrorCode } from './errors';
export { resolveSettings, SETTINGS } from './settings';
export { mapEntry, contentHash, guidToString, type SourceObject } from './ldap/entry-mapper';

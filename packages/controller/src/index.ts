/**
 * @syncguard/controller: the syncguard controller as a library. `createServer()` builds
 * one (HTTP API and agent WebSocket on one port, BullMQ workers, Redis); the
 * `syncguard-controller` program (main.ts) runs it.
 */
export { createServer, type ControllerServer, type CreateServerExtras } from './server';
export { compileControllerOptions, type ControllerOptions, type CompiledControllerOptions } from './controller-options';
export type { ControllerService, KeptDeleteResult } from './controller-service';
export type { KeptObject, RejectResult } from './cycles/triage';
export { CONTROLLER_SETTINGS, type ControllerSetting } from './settings';
export * from './errors';
export * from './model';
export { ControllerMetrics } from './metrics';
export { hashAgentToken } from './gateway/agent-gateway';

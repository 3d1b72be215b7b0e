import type { CycleOwner, CycleRun } from '../cycles/cycle-records';
import type { ChangeTrackingName, StoredConfiguration } from '../model';
import type { CompleteCycleResult, PersistBatchResult } from '../store/scripts';

/** An agent's stored record. */
export interface AgentRecord {
  id: string;
  name: string;
  createdAt: string;
  lastSeenAt: string | null;
  version: string | null;
  hostname: string | null;
  /** Optional capabilities the agent listed in its last hello (e.g. `preview`). */
  features: string[];
}

/**
 * The agents' records (store/agent-store.ts implements it): agents, their token hashes and
 * unique names, sessions, cursors, each configuration's active agent, and the controllers'
 * liveness keys.
 */
export interface AgentRecords {
  exists(agentId: string): Promise<boolean>;
  /** Claims the name and records the agent in one step; false when the name is taken. */
  register(agent: { id: string; name: string; tokenHash: string; createdAt: Date }): Promise<boolean>;
  /** Agent ids, oldest first. */
  ids(): Promise<string[]>;
  read(agentId: string): Promise<AgentRecord | null>;
  name(agentId: string): Promise<string | null>;
  /** Claims `name` for the agent unless another agent holds it. */
  claimName(name: string, agentId: string): Promise<void>;
  /** The agent's name and token hash, or null when it is not registered. */
  credentials(agentId: string): Promise<{ name: string; tokenHash: string } | null>;
  /** Removes the agent while its token hash is `tokenHash`; false when it changed. */
  remove(agent: { id: string; tokenHash: string; name: string }): Promise<boolean>;
  /** Replaces the token hash while it is `oldHash`; false when the agent is gone or it changed. */
  rotateToken(agentId: string, oldHash: string, newHash: string): Promise<boolean>;
  /** Writes `fields` on the agent's record while its token hash is `tokenHash`; false when revoked. */
  touch(agentId: string, tokenHash: string, fields: Record<string, string>): Promise<boolean>;

  /** The value of the agent's session key (`{controllerId}/{sessionId}/{format}`), or null. */
  sessionHolder(agentId: string): Promise<string | null>;
  /** Sets the agent's session key to `value` for `ttlMs`; answers the value it replaced. */
  takeSession(agentId: string, value: string, ttlMs: number): Promise<string | null>;
  /** Extends the session key for `ttlMs` while it holds `value`; false when another session took it. */
  extendSession(agentId: string, value: string, ttlMs: number): Promise<boolean>;
  /** Deletes the session key while it holds `value`; false when it did not. */
  endSession(agentId: string, value: string): Promise<boolean>;
  /** Sets the agent's cursors (configuration id -> committed cycle id) to `cursors`, in one transaction. */
  replaceCursors(agentId: string, cursors: Record<string, string>): Promise<void>;
  dropCursor(agentId: string, configurationId: string): Promise<void>;

  activeAgent(configurationId: string): Promise<string | null>;
  /** Makes `agentId` the active agent while there is none or it is `staleAgentId`. */
  claimActive(configurationId: string, agentId: string, staleAgentId: string): Promise<boolean>;
  /** Clears the active agent while it is `agentId`; false when it was not. */
  releaseActive(configurationId: string, agentId: string): Promise<boolean>;

  controllerAlive(controllerId: string): Promise<boolean>;
  /** Sets the controller's liveness key for `ttlMs`. */
  markControllerAlive(controllerId: string, ttlMs: number): Promise<void>;
  clearControllerAlive(controllerId: string): Promise<void>;
}

/** The cycle records an agent's session reads and writes (store/cycle-store.ts implements it). */
export interface SessionCycles {
  currentCycleId(configurationId: string): Promise<string | null>;
  run(cycleId: string): Promise<CycleRun>;
  owner(cycleId: string): Promise<CycleOwner>;
  phase(cycleId: string): Promise<string | null>;
  /** Stages a batch when the cycle is this agent's, streaming and within its limits (one script). */
  persistBatch(
    cycleId: string,
    sequence: number,
    stored: { changes: Buffer; summaries: string; objectIds: readonly string[] },
    owner: { configurationId: string; agentId: string },
    limits: { maxCycleBatches: number; maxCycleBytes: number },
  ): Promise<{ result: PersistBatchResult; acked: number }>;
  /** Records CycleComplete (one script). */
  complete(
    cycleId: string,
    lastSequence: number,
    totals: string,
    mode: string,
    changeTracking: ChangeTrackingName | null,
    /** A full consistency read's drift (changes the log did not show); null when none was made. */
    drift: number | null,
  ): Promise<CompleteCycleResult>;
}

/** The configurations as agents read and change them (store/configuration-store.ts implements it). */
export interface AgentConfigurations {
  list(): Promise<StoredConfiguration[]>;
  /** The configurations whose `agentIds` name the agent, oldest first (read through the agent's index, not the whole list). */
  forAgent(agentId: string): Promise<StoredConfiguration[]>;
  /** Overwrites the settings of an existing configuration. */
  save(cfg: StoredConfiguration): Promise<void>;
}

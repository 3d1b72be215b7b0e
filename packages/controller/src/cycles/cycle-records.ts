import type { StartCycleResult } from '../store/scripts';
import type { AuditEntry, ConfigurationState, Cycle, Quarantine, StoredConfiguration } from '../model';
import type { OutboxEvent } from './cycle-events';
import type { CyclePhase } from './cycle-phase';

/** The fields of a configuration's state hash that starting, settling and restarting cycles read. */
export interface CycleStateFields {
  state: ConfigurationState | null;
  currentCycleId: string | null;
  lastCycleId: string | null;
  committedCycleId: string | null;
  /** The source scope (JSON of the configuration's `source`) of the committed cycle. */
  committedScope: string | null;
  /** A delete lane is open (cycles/delete-lane.ts): cycles run while quarantined. */
  lane: boolean;
}

/** Where a cycle is and whose it is: its record's fields, null where absent (no record: all null). */
export interface CycleRun {
  phase: string | null;
  configurationId: string | null;
  agentId: string | null;
  startedAt: string | null;
  /** When its agent's last frame arrived (ms, as text). */
  lastFrameAt: string | null;
  /** Set by CycleComplete: the sequence of the cycle's last batch. */
  lastSequence: string | null;
}

/** Who a cycle belongs to, null where its record has no such field (or there is no record). */
export interface CycleOwner {
  configurationId: string | null;
  agentId: string | null;
}

/**
 * The stored cycles and each configuration's cycle state (store/cycle-store.ts implements
 * it): records, the phase moves the services make (each one atomic script), history.
 */
export interface CycleRecords {
  /** The cycle as the API shows it, or null when there is no record. */
  read(cycleId: string): Promise<Cycle | null>;
  run(cycleId: string): Promise<CycleRun>;
  owner(cycleId: string): Promise<CycleOwner>;
  phase(cycleId: string): Promise<string | null>;
  /** The message of the error a failed or discarded cycle recorded. */
  errorMessage(cycleId: string): Promise<string | undefined>;

  stateFields(configurationId: string): Promise<CycleStateFields>;
  currentCycleId(configurationId: string): Promise<string | null>;
  /** State, quarantine (with its notification, while quarantined) and last cycle, for the status. */
  status(
    configurationId: string,
  ): Promise<{ state: ConfigurationState; quarantine: Quarantine | null; lastCycleId: string | null }>;
  /** The same with the last cycle itself, state and cycle as of one moment. */
  statusWithLastCycle(
    configurationId: string,
  ): Promise<{ state: ConfigurationState; quarantine: Quarantine | null; lastCycle: Cycle | null }>;
  /** The held quarantine, or null when the configuration is not quarantined. */
  quarantine(configurationId: string): Promise<Omit<Quarantine, 'notification'> | null>;

  /** Records a new streaming cycle and makes it current, unless quarantined or one runs. */
  start(configurationId: string, cycleId: string, startedAtMs: number, fields: Record<string, string>): Promise<StartCycleResult>;
  /** Clears the configuration's currentCycleId while it is `cycleId`. */
  clearCurrent(configurationId: string, cycleId: string): Promise<void>;
  /** `from` -> failed, the configuration in `error`, while the cycle is current; false when it was not in `from`. */
  markFailed(
    configurationId: string,
    cycleId: string,
    from: readonly CyclePhase[],
    error: { code: string; message: string },
    completedAt: string,
    /** The event the move reports (`cycle.failed`), written to the outbox with it. */
    event?: OutboxEvent,
  ): Promise<boolean>;
  /** quarantined -> applying (allow-deletes), while the cycle is current; `event` written to the outbox with the move. */
  release(configurationId: string, cycleId: string, by: string, at: string, event?: OutboxEvent): Promise<boolean>;
  /** Records an admin token's approval of a quarantined cycle; answers how many different tokens approved. */
  approve(cycleId: string, tokenId: string): Promise<number>;
  /** quarantined -> discarded (restart): the configuration back to `nextState`, its quarantine gone. */
  discard(
    configurationId: string,
    cycleId: string,
    error: { code: string; message: string },
    completedAt: string,
    nextState: ConfigurationState,
    /** The discarded quarantine's seriesCount, which the next quarantine continues. */
    seriesCount?: number,
    /** The event the move reports (`quarantine.restarted`), written to the outbox with it. */
    event?: OutboxEvent,
  ): Promise<boolean>;
  /**
   * Releases the open delete lane into a new `release` cycle `cycleId` (phase applying, its
   * plan the held set): the deletes released, 0 when no lane is open, -1 while a cycle is current.
   */
  releaseLane(configurationId: string, cycleId: string, by: string, at: string, event?: OutboxEvent): Promise<number>;
  /** Discards the open delete lane (restart): 1, 0 when no lane is open, -1 while a cycle is current; `event` written with it. */
  discardLane(configurationId: string, nextState: ConfigurationState, seriesCount: number, event?: OutboxEvent): Promise<number>;
  /** Removes what was staged for the cycle (batches, seen, plan). */
  dropStaged(cycleId: string): Promise<void>;

  /** Ids of cycles started at `startedAtMs`. */
  startedAt(configurationId: string, startedAtMs: string): Promise<string[]>;
  /** Up to `count` cycles started before `upper` (a ZRANGE bound: `+inf` or `(<ms>`), newest first, with their start. */
  newestFirst(configurationId: string, upper: string, count: number): Promise<{ id: string; score: string }[]>;
  /** Up to `count` ids of cycles started before `cutoffMs`, oldest first. */
  startedBefore(configurationId: string, cutoffMs: number, count: number): Promise<string[]>;
  /** The current, last and committed cycle ids of the configuration (kept by pruning). */
  heldCycleIds(configurationId: string): Promise<string[]>;
  /** Removes the cycles' records and staged keys and their history entries, in one transaction. */
  removeCycles(configurationId: string, cycleIds: readonly string[]): Promise<void>;
  /** Removes the records and staged keys of every cycle of the configuration. */
  removeAllCycles(configurationId: string): Promise<void>;
}

/** What cycles keep of agents' records (store/agent-store.ts implements it). */
export interface AgentCursors {
  /** The cycle the agent last committed for the configuration. */
  cursor(agentId: string, configurationId: string): Promise<string | null>;
  setCursor(agentId: string, configurationId: string, cycleId: string): Promise<void>;
  /** Clears the configuration's active agent while it is `agentId`; false when it was not. */
  releaseActive(configurationId: string, agentId: string): Promise<boolean>;
}

/** The configurations as cycles read them (store/configuration-store.ts implements it). */
export interface ConfigurationReader {
  list(): Promise<StoredConfiguration[]>;
  load(id: string): Promise<StoredConfiguration | null>;
  /** NotFoundError when there is none. */
  get(id: string): Promise<StoredConfiguration>;
}

/** Where the services record who did what (store/audit-log.ts implements it). */
export interface AuditTrail {
  record(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void>;
}

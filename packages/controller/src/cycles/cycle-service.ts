import { AbortReason, CycleMode, ObjectType, type Scope } from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import type { SourceSettings, StoredConfiguration } from '../model';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import type { ControllerMetrics } from '../metrics';
import type { Actor, ConfigurationStatus, Cycle, CycleTrigger, Page, ProvisioningAction, ProvisioningLogEntry } from '../model';
import { limitOf } from '../page-limit';
import { isLogCursor, type ProvisioningLog } from '../store/provisioning-log';
import type { PipelineQueues } from '../pipeline/queues';
import { StartCycleResult } from '../store/scripts';
import { newCycleId } from './cycle-id';
import { ENDED_PHASES, isCyclePhase, type CyclePhase } from './cycle-phase';
import type { AgentCursors, AuditTrail, ConfigurationReader, CycleRecords } from './cycle-records';
import { NO_EVENTS, outboxEvent, type CycleEvents } from './cycle-events';

/** A configuration's source as the agent reads it (StartCycle's and StartPreview's scope). */
export function wireScope(source: SourceSettings): Scope {
  return {
    baseDn: source.baseDn,
    filter: source.filter,
    objectTypes: source.objectTypes.map((t) => (t === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER)),
    attributes: source.attributes,
    disabledAttribute: source.disabledAttribute,
  };
}

/** What cycles need to know of agents (the agent registry answers it). */
export interface AgentPresence {
  /** Connected to some replica, which is alive. */
  isConnected(agentId: string): Promise<boolean>;
  /** The agent that gets StartCycle for the configuration, or null when none serving it is connected. */
  activeAgent(cfg: StoredConfiguration): Promise<string | null>;
}

export interface CycleServiceDeps {
  records: CycleRecords;
  cursors: AgentCursors;
  options: CompiledControllerOptions;
  logger: Logger;
  metrics: ControllerMetrics;
  audit: AuditTrail;
  plog: ProvisioningLog;
  configs: ConfigurationReader;
  agents: AgentPresence;
  queues: PipelineQueues;
  link: AgentChannel;
  /** Where cycle.failed is reported. */
  events?: CycleEvents;
}

/**
 * Cycles: starting one (which agent, DELTA or FULL), settling one that can no longer finish,
 * failing one, the history and the status. Evaluation and apply are the pipeline's
 * (CycleProcessor); the quarantine commands are QuarantineService's.
 */
export class CycleService {
  constructor(private readonly deps: CycleServiceDeps) {}

  // ---------------------------------------------------------------- status, cycles, logs

  async readCycle(cycleId: string): Promise<Cycle | null> {
    return this.deps.records.read(cycleId);
  }

  async getStatus(id: string): Promise<ConfigurationStatus> {
    await this.deps.configs.get(id);
    return this.deps.records.statusWithLastCycle(id);
  }

  async startCycle(id: string, actor: Actor): Promise<{ cycleId: string }> {
    const cycleId = await this.startCycleFor(id, 'manual');
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'cycle.start',
      target: { type: 'configuration', id },
      details: { cycleId },
    });
    return { cycleId };
  }

  /**
   * Starts a cycle: picks the active agent, decides DELTA or FULL and sends StartCycle.
   * ConflictError while quarantined (SG_ERR_QUARANTINED), while a cycle runs
   * (SG_ERR_CYCLE_RUNNING) or when no agent serving the configuration is connected (SG_ERR_NO_AGENT).
   */
  async startCycleFor(id: string, trigger: CycleTrigger): Promise<string> {
    const cfg = await this.deps.configs.get(id);
    const st = await this.deps.records.stateFields(id);
    if (st.state === 'quarantined' && !st.lane)
      throw new ConflictError('SG_ERR_QUARANTINED', `configuration ${id} is quarantined: allow the deletes or restart it`);
    const agentId = await this.deps.agents.activeAgent(cfg);
    if (st.currentCycleId) await this.settleCurrent(cfg, st.currentCycleId, agentId);
    if (!agentId) throw new ConflictError('SG_ERR_NO_AGENT', `no agent serving configuration ${id} is connected`);
    const base = st.committedCycleId ?? '';
    const cursor = await this.deps.cursors.cursor(agentId, id);
    const scope = JSON.stringify(cfg.source);
    const full = base === '' || cursor !== base || st.committedScope !== scope;
    const cycleId = newCycleId(id);
    const now = Date.now();
    const result = await this.deps.records.start(id, cycleId, now, {
      phase: 'streaming',
      configurationId: id,
      agentId,
      mode: full ? 'full' : 'delta',
      trigger,
      baseCycleId: base,
      scope,
      startedAt: new Date(now).toISOString(),
      acked: '0',
      lastFrameAt: String(now),
    });
    if (result === StartCycleResult.QUARANTINED)
      throw new ConflictError('SG_ERR_QUARANTINED', `configuration ${id} is quarantined`);
    if (result === StartCycleResult.CYCLE_RUNNING)
      throw new ConflictError('SG_ERR_CYCLE_RUNNING', `a cycle of configuration ${id} is running`);
    await this.deps.link.send(agentId, {
      type: 'startCycle',
      value: {
        configurationId: id,
        cycleId,
        mode: full ? CycleMode.CYCLE_MODE_FULL : CycleMode.CYCLE_MODE_DELTA,
        baseCycleId: base,
        scope: wireScope(cfg.source),
      },
    });
    this.deps.logger.info({ configurationId: id, cycleId, agentId, mode: full ? 'full' : 'delta', trigger }, 'cycle started');
    await this.pruneHistory(id).catch((error: unknown) => {
      this.deps.logger.warn({ err: error, configurationId: id }, 'old cycle records not removed');
    });
    return cycleId;
  }

  /**
   * Removes cycle records that started before the history retention, except the current,
   * last and committed cycles (a long quarantine keeps its cycle).
   */
  async pruneHistory(id: string, now = Date.now()): Promise<number> {
    const cutoff = now - this.deps.options.historyRetentionDays * 86_400_000;
    const keep = new Set(await this.deps.records.heldCycleIds(id));
    let removed = 0;
    for (;;) {
      const old = await this.deps.records.startedBefore(id, cutoff, 500);
      const gone = old.filter((c) => !keep.has(c));
      if (gone.length === 0) return removed;
      await this.deps.records.removeCycles(id, gone);
      removed += gone.length;
      if (old.length < 500) return removed;
    }
  }

  /**
   * Clears a current cycle that can no longer finish: ended already, its agent gone and
   * another active, or silent past cycleTimeoutMs. Otherwise throws SG_ERR_CYCLE_RUNNING.
   */
  private async settleCurrent(cfg: StoredConfiguration, cycleId: string, activeAgentId: string | null): Promise<void> {
    const { phase, agentId, lastFrameAt } = await this.deps.records.run(cycleId);
    if (!isCyclePhase(phase) || ENDED_PHASES.includes(phase)) {
      await this.deps.records.clearCurrent(cfg.id, cycleId);
      return;
    }
    if (phase === 'complete' || phase === 'applying') {
      // Waiting for its job; should the job have been lost (a crash between the state
      // change and the enqueue), queue it again. Running it twice is harmless.
      await this.deps.queues.enqueueCycle(cycleId, 'recover');
    }
    if (phase === 'streaming') {
      const silent = Date.now() - Number(lastFrameAt ?? 0) > this.deps.options.cycleTimeoutMs;
      const orphaned = agentId !== activeAgentId && !(agentId && (await this.deps.agents.isConnected(agentId)));
      if (silent || orphaned) {
        await this.failCycle(cfg.id, cycleId, {
          code: 'ABANDONED',
          message: silent ? 'the agent sent nothing for too long' : 'the agent left; another took over',
        });
        if (agentId) {
          await this.deps.link.send(agentId, {
            type: 'cycleAborted',
            value: { configurationId: cfg.id, cycleId, reason: AbortReason.ABORT_REASON_ABANDONED, message: 'cycle abandoned' },
          });
        }
        return;
      }
    }
    throw new ConflictError('SG_ERR_CYCLE_RUNNING', `cycle ${cycleId} of configuration ${cfg.id} is still running`);
  }

  /** streaming -> failed: nothing applied, staged batches removed, configuration state `error`. */
  async failCycle(
    configurationId: string,
    cycleId: string,
    error: { code: string; message: string },
    from: readonly CyclePhase[] = ['streaming', 'complete'],
  ): Promise<boolean> {
    const now = new Date().toISOString();
    const event = outboxEvent({ event: 'cycle.failed', configurationId, cycleId }, now);
    const moved = await this.deps.records.markFailed(configurationId, cycleId, from, error, now, event);
    // The staged batches go first: the event is in the outbox already (any controller queues it).
    await this.deps.records.dropStaged(cycleId);
    if (moved) {
      this.deps.metrics.cycles.inc({ outcome: 'failed' });
      this.deps.logger.warn({ configurationId, cycleId, error }, 'cycle failed');
      await (this.deps.events ?? NO_EVENTS).dispatch(configurationId);
    }
    return moved;
  }

  /**
   * Cycle history, newest first. The cursor is `<startedAt ms>:<cycle id>` of the last cycle
   * of the page (cycles with the same start time follow in reverse id order, as Redis sorts
   * them), so that cycles started meanwhile do not shift the pages.
   */
  async listCycles(id: string, page: { limit?: number; cursor?: string }): Promise<Page<Cycle>> {
    await this.deps.configs.get(id);
    const limit = limitOf(page.limit, 50);
    const after = page.cursor === undefined ? null : /^(\d+):(\S+)$/.exec(page.cursor);
    if (page.cursor !== undefined && !after) throw new ValidationError('cursor', 'is not a cursor of this list');
    const found: { id: string; score: string }[] = [];
    let upper = '+inf';
    if (after) {
      const [, score, last] = after as unknown as [string, string, string];
      // Cycles of the same start time that come after the cursor's one (Redis: reverse id order).
      const tied = (await this.deps.records.startedAt(id, score))
        .filter((c) => c < last)
        .sort()
        .reverse();
      found.push(...tied.map((c) => ({ id: c, score })));
      upper = `(${score}`;
    }
    if (found.length <= limit) {
      found.push(...(await this.deps.records.newestFirst(id, upper, limit + 1 - found.length)));
    }
    const pageIds = found.slice(0, limit);
    const items = (await Promise.all(pageIds.map((c) => this.readCycle(c.id)))).filter((c): c is Cycle => c !== null);
    const last = pageIds[pageIds.length - 1];
    return { items, nextCursor: found.length > limit && last ? `${last.score}:${last.id}` : null };
  }

  async listProvisioningLogs(
    id: string,
    query: { action?: ProvisioningAction; cycleId?: string; dn?: string; limit?: number; cursor?: string },
  ): Promise<Page<ProvisioningLogEntry>> {
    await this.deps.configs.get(id);
    if (query.action !== undefined && !['Create', 'Update', 'Delete', 'StagedDelete'].includes(query.action)) {
      throw new ValidationError('action', 'must be one of Create, Update, Delete, StagedDelete');
    }
    if (query.cursor !== undefined && !isLogCursor(query.cursor))
      throw new ValidationError('cursor', 'is not a cursor of this list');
    return this.deps.plog.list(id, { ...query, limit: limitOf(query.limit, 50) });
  }

  // ---------------------------------------------------------------- scheduler and pipeline hooks

  /**
   * At start: re-queues cycles that wait for processing (complete, or applying after
   * allow-deletes) in case their job was lost with a crashed controller.
   */
  async recover(): Promise<void> {
    for (const cfg of await this.deps.configs.list()) {
      const current = await this.deps.records.currentCycleId(cfg.id);
      if (!current) continue;
      const phase = await this.deps.records.phase(current);
      if (phase === 'complete' || phase === 'applying') await this.deps.queues.enqueueCycle(current, 'recover');
    }
  }

  /**
   * A scheduler tick, or the cycle brought forward after transient failures (`retry`): start a
   * cycle unless one runs or the configuration is quarantined.
   */
  async tick(configurationId: string, trigger: 'schedule' | 'retry' = 'schedule'): Promise<void> {
    try {
      await this.startCycleFor(configurationId, trigger);
    } catch (error) {
      if (error instanceof NotFoundError) {
        await this.deps.queues.unschedule(configurationId);
        return;
      }
      if (!(error instanceof ConflictError)) throw error;
    }
  }

  /**
   * The cycle's job failed for good (every attempt used): the cycle fails and the agent
   * is told CycleAborted. Whatever part of an apply was done is in the synced index
   * (written atomically with the target), so the next cycle converges from there.
   */
  async giveUpCycle(cycleId: string, cause: Error): Promise<void> {
    const { configurationId: cfgId, agentId } = await this.deps.records.owner(cycleId);
    if (!cfgId) return;
    const failed = await this.failCycle(cfgId, cycleId, { code: 'CONTROLLER_ERROR', message: cause.message }, [
      'complete',
      'applying',
    ]);
    if (failed && agentId) {
      await this.deps.link.send(agentId, {
        type: 'cycleAborted',
        value: {
          configurationId: cfgId,
          cycleId,
          reason: AbortReason.ABORT_REASON_CONTROLLER_ERROR,
          message: 'the controller could not process the cycle',
        },
      });
    }
  }

  async sendCommitted(agentId: string, configurationId: string, cycleId: string): Promise<void> {
    if (!agentId) return;
    await this.deps.cursors.setCursor(agentId, configurationId, cycleId);
    await this.deps.link.send(agentId, { type: 'cycleCommitted', value: { configurationId, cycleId } });
  }

  /**
   * After an agent was deleted (AgentRegistry.deleteAgent): it is no longer active for
   * `configurations`, a cycle it was running fails with AGENT_REVOKED, and another connected
   * agent of the configuration starts a new one.
   */
  async agentRemoved(id: string, name: string, configurationIds: readonly string[]): Promise<void> {
    const configs = (await Promise.all(configurationIds.map((c) => this.deps.configs.load(c)))).filter(
      (c): c is StoredConfiguration => c !== null,
    );
    const agent = { name };
    for (const cfg of configs) {
      await this.deps.cursors.releaseActive(cfg.id, id);
      const current = await this.deps.records.currentCycleId(cfg.id);
      if (!current) continue;
      const { phase, agentId: owner } = await this.deps.records.run(current);
      if (phase !== 'streaming' || owner !== id) continue;
      await this.failCycle(cfg.id, current, {
        code: 'AGENT_REVOKED',
        message: `agent ${agent.name} was deleted during the cycle`,
      });
      await this.startCycleFor(cfg.id, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'no cycle after the agent was deleted');
      });
    }
  }
}

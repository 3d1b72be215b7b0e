import { AbortReason } from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import { ConflictError, ControllerError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import type { ControllerMetrics } from '../metrics';
import type { Actor, AllowDeletesResult, Quarantine } from '../model';
import type { PipelineQueues } from '../pipeline/queues';
import { newCycleId } from './cycle-id';
import { ENDED_PHASES, isCyclePhase, type CyclePhase } from './cycle-phase';
import type { AuditTrail, ConfigurationReader, CycleRecords } from './cycle-records';
import type { CycleService } from './cycle-service';
import { NO_EVENTS, outboxEvent, type CycleEvents } from './cycle-events';

export interface QuarantineServiceDeps {
  records: CycleRecords;
  options: CompiledControllerOptions;
  logger: Logger;
  metrics: ControllerMetrics;
  audit: AuditTrail;
  configs: ConfigurationReader;
  cycles: CycleService;
  queues: PipelineQueues;
  link: AgentChannel;
  /**
   * Where quarantine.released and quarantine.restarted are reported: each is written to the
   * outbox by its transition (cycles/cycle-events.ts `outboxEvent`), then `dispatch`ed.
   */
  events?: CycleEvents;
}

/**
 * The admins' answers to a quarantine: allow the deletes (apply the held cycle, exactly once)
 * or restart (discard it and read the source again). Each is one atomic transition of the
 * cycle, so of two concurrent calls one wins and the other gets 409; each is audited.
 */
export class QuarantineService {
  private readonly events: CycleEvents;

  constructor(private readonly deps: QuarantineServiceDeps) {
    this.events = deps.events ?? NO_EVENTS;
  }

  // ---------------------------------------------------------------- quarantine decisions

  private async quarantineOf(id: string): Promise<Omit<Quarantine, 'notification'>> {
    const q = await this.deps.records.quarantine(id);
    if (!q) throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined`);
    return q;
  }

  /** `reason`: the admin's words, recorded in the audit entry. */
  async allowDeletes(id: string, actor: Actor, reason: string | null = null): Promise<AllowDeletesResult> {
    const cfg = await this.deps.configs.get(id);
    const q = await this.quarantineOf(id);
    if (q.reason === 'TargetFailures')
      throw new ConflictError(
        'SG_ERR_TARGET_FAILURES',
        `configuration ${id} is quarantined because its target refused ${q.deleteCount} operations, not for deletes: fix the target, then restart it`,
      );
    const now = new Date().toISOString();
    const needed = cfg.accidentalDeletes.approvals ?? 1;
    if (needed > 1) {
      // Two different admin tokens: the same token twice counts once.
      const approvals = await this.deps.records.approve(q.cycleId, actor.tokenId);
      if (approvals < needed) {
        await this.deps.audit.record({
          actor: { tokenId: actor.tokenId, name: actor.name },
          action: 'allow-deletes.approve',
          target: { type: 'configuration', id },
          details: { cycleId: q.cycleId, deleteCount: q.deleteCount, approvals, approvalsNeeded: needed - approvals, reason },
        });
        return { state: 'awaitingApproval', cycleId: q.cycleId, approvalsNeeded: needed - approvals };
      }
    }
    if (q.hold === 'deletes') return this.releaseLane(id, q, actor, now, reason);
    // The one atomic step that decides which call releases the cycle; its event is written with it.
    const event = outboxEvent(
      { event: 'quarantine.released', configurationId: id, cycleId: q.cycleId, quarantine: q, actor: actor.name },
      now,
    );
    const won = await this.deps.records.release(id, q.cycleId, actor.name, now, event);
    if (!won)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'allow-deletes',
      target: { type: 'configuration', id },
      details: { cycleId: q.cycleId, deleteCount: q.deleteCount, threshold: q.threshold, all: true, reason },
    });
    this.deps.logger.warn(
      { configurationId: id, cycleId: q.cycleId, deleteCount: q.deleteCount, by: actor.name },
      'deletes allowed',
    );
    await this.events.dispatch(id);
    await this.deps.queues.enqueueCycle(q.cycleId, 'release');
    const phase = await this.waitForPhase(q.cycleId, ENDED_PHASES, this.deps.options.releaseWaitMs);
    switch (phase) {
      case 'applied':
        return { state: 'applied', cycleId: q.cycleId, deleted: q.deleteCount };
      case 'failed':
      case 'discarded': {
        const reason = await this.deps.records.errorMessage(q.cycleId);
        throw new ControllerError(
          'SG_ERR_APPLY_FAILED',
          `the deletes of cycle ${q.cycleId} were released, but applying the cycle failed${reason ? `: ${reason}` : ''}; ` +
            'nothing more of it will be applied, and the next cycle reads the source again',
          { status: 500 },
        );
      }
      default:
        return { state: 'applying', cycleId: q.cycleId, deleteCount: q.deleteCount };
    }
  }

  /**
   * allow-deletes of a delete lane (cycles/delete-lane.ts): exactly the held set goes into a
   * new `release` cycle, applied as any cycle is. Waits (up to releaseWaitMs) for a running
   * cycle to end first, since the set is only taken while no cycle is current.
   */
  private async releaseLane(
    id: string,
    q: Omit<Quarantine, 'notification'>,
    actor: Actor,
    now: string,
    reason: string | null,
  ): Promise<AllowDeletesResult> {
    // In the configuration's slot, as every cycle id (store/keys.ts, "Hash tags"): RELEASE_LANE
    // writes the new cycle with the configuration's state in one script.
    const cycleId = newCycleId(id);
    const event = outboxEvent(
      { event: 'quarantine.released', configurationId: id, cycleId: q.cycleId, quarantine: q, actor: actor.name },
      now,
    );
    const released = await this.whileNoCycle(id, () => this.deps.records.releaseLane(id, cycleId, actor.name, now, event));
    if (released === 0)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'allow-deletes',
      target: { type: 'configuration', id },
      details: {
        cycleId,
        laneCycleId: q.cycleId,
        hold: 'deletes',
        deleteCount: released,
        seriesCount: q.seriesCount,
        all: true,
        reason,
      },
    });
    this.deps.logger.warn(
      { configurationId: id, cycleId, laneCycleId: q.cycleId, deleteCount: released, by: actor.name },
      'held deletes allowed',
    );
    await this.events.dispatch(id);
    await this.deps.queues.enqueueCycle(cycleId, 'release');
    const phase = await this.waitForPhase(cycleId, ENDED_PHASES, this.deps.options.releaseWaitMs);
    if (phase === 'applied') return { state: 'applied', cycleId, deleted: released };
    if (phase === 'failed' || phase === 'discarded') {
      const reason = await this.deps.records.errorMessage(cycleId);
      throw new ControllerError(
        'SG_ERR_APPLY_FAILED',
        `the held deletes were released into cycle ${cycleId}, but applying it failed${reason ? `: ${reason}` : ''}; ` +
          'the objects not deleted are deletes again for the next FULL cycle',
        { status: 500 },
      );
    }
    return { state: 'applying', cycleId, deleteCount: released };
  }

  /** Runs a delete-lane step, which answers -1 while a cycle is current, until it runs (at most releaseWaitMs). */
  private async whileNoCycle(id: string, step: () => Promise<number>): Promise<number> {
    const deadline = Date.now() + this.deps.options.releaseWaitMs;
    for (;;) {
      const result = await step();
      if (result !== -1) return result;
      if (Date.now() >= deadline)
        throw new ConflictError(
          'SG_ERR_CYCLE_RUNNING',
          `a cycle of configuration ${id} is running; the delete lane is changed only between cycles: try again when it ended`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits until the cycle is in one of `phases` (or gone), at most `timeoutMs`; answers its phase then. */
  private async waitForPhase(cycleId: string, phases: readonly CyclePhase[], timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const phase = await this.deps.records.phase(cycleId);
      if (!isCyclePhase(phase) || phases.includes(phase) || Date.now() >= deadline) return phase;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async restart(id: string, actor: Actor): Promise<{ discardedCycleId: string; cycleId: string | null }> {
    await this.deps.configs.get(id);
    const q = await this.quarantineOf(id);
    const st = await this.deps.records.stateFields(id);
    if (q.hold === 'deletes') return this.restartLane(id, q, actor, st.committedCycleId ? 'healthy' : 'pending');
    const now = new Date().toISOString();
    const won = await this.deps.records.discard(
      id,
      q.cycleId,
      { code: 'DISCARDED', message: `discarded by ${actor.name} (restart)` },
      now,
      st.committedCycleId ? 'healthy' : 'pending',
      q.seriesCount,
      outboxEvent(
        { event: 'quarantine.restarted', configurationId: id, cycleId: q.cycleId, quarantine: q, actor: actor.name },
        now,
      ),
    );
    if (!won)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    this.deps.metrics.cycles.inc({ outcome: 'discarded' });
    await this.deps.records.dropStaged(q.cycleId);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'restart',
      target: { type: 'configuration', id },
      details: { discardedCycleId: q.cycleId, deleteCount: q.deleteCount },
    });
    await this.events.dispatch(id);
    const { agentId } = await this.deps.records.owner(q.cycleId);
    if (agentId) {
      await this.deps.link.send(agentId, {
        type: 'cycleAborted',
        value: {
          configurationId: id,
          cycleId: q.cycleId,
          reason: AbortReason.ABORT_REASON_DISCARDED,
          message: `discarded by ${actor.name}`,
        },
      });
    }
    return { discardedCycleId: q.cycleId, cycleId: await this.startAfterRestart(id) };
  }

  /** restart of a delete lane: the held set is discarded (nothing of it applied) and a FULL cycle reads the source again. */
  private async restartLane(
    id: string,
    q: Omit<Quarantine, 'notification'>,
    actor: Actor,
    nextState: 'healthy' | 'pending',
  ): Promise<{ discardedCycleId: string; cycleId: string | null }> {
    const event = outboxEvent({
      event: 'quarantine.restarted',
      configurationId: id,
      cycleId: q.cycleId,
      quarantine: q,
      actor: actor.name,
    });
    const done = await this.whileNoCycle(id, () => this.deps.records.discardLane(id, nextState, q.seriesCount, event));
    if (done === 0)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'restart',
      target: { type: 'configuration', id },
      details: { laneCycleId: q.cycleId, hold: 'deletes', discardedDeletes: q.deleteCount },
    });
    await this.events.dispatch(id);
    return { discardedCycleId: q.cycleId, cycleId: await this.startAfterRestart(id) };
  }

  private async startAfterRestart(id: string): Promise<string | null> {
    try {
      return await this.deps.cycles.startCycleFor(id, 'restart');
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.deps.logger.warn({ configurationId: id, err: error }, 'no cycle started after restart');
      return null;
    }
  }
}

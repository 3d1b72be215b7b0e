import { AbortReason } from '@syncguard/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../store/audit-log';
import type { CompiledControllerOptions } from '../controller-options';
import { ConflictError, ControllerError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import type { ControllerMetrics } from '../metrics';
import type { Actor, AllowDeletesResult } from '../model';
import type { PipelineQueues } from '../pipeline/queues';
import type { ConfigurationStore } from '../store/configuration-store';
import type { Keys } from '../store/keys';
import { decodeQuarantine, type StoredQuarantine } from '../store/quarantine-codec';
import type { Scripts } from '../store/scripts';
import { ENDED_PHASES, isCyclePhase, type CyclePhase } from './cycle-phase';
import type { CycleService } from './cycle-service';

export interface QuarantineServiceDeps {
  redis: Redis;
  keys: Keys;
  scripts: Scripts;
  options: CompiledControllerOptions;
  logger: Logger;
  metrics: ControllerMetrics;
  audit: AuditLog;
  configs: ConfigurationStore;
  cycles: CycleService;
  queues: PipelineQueues;
  link: AgentChannel;
}

/**
 * The admins' answers to a quarantine: allow the deletes (apply the held cycle, exactly once)
 * or restart (discard it and read the source again). Each is one atomic transition of the
 * cycle, so of two concurrent calls one wins and the other gets 409; each is audited.
 */
export class QuarantineService {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly configs: ConfigurationStore;
  private readonly cycles: CycleService;
  private readonly queues: PipelineQueues;
  private readonly link: AgentChannel;

  constructor(private readonly deps: QuarantineServiceDeps) {
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.configs = deps.configs;
    this.cycles = deps.cycles;
    this.queues = deps.queues;
    this.link = deps.link;
  }

  // ---------------------------------------------------------------- quarantine decisions

  private async quarantineOf(id: string): Promise<StoredQuarantine> {
    const st = await this.redis.hgetall(this.keys.state(id));
    if (st.state !== 'quarantined' || !st.quarantine) {
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined`);
    }
    return decodeQuarantine(st.quarantine);
  }

  async allowDeletes(id: string, actor: Actor): Promise<AllowDeletesResult> {
    await this.configs.get(id);
    const q = await this.quarantineOf(id);
    const now = new Date().toISOString();
    // The one atomic step that decides which call releases the cycle.
    const won = await this.deps.scripts.transition(
      this.keys.cycle(q.cycleId),
      this.keys.state(id),
      { from: ['quarantined'], to: 'applying' },
      {
        cycle: { released: '1', releasedBy: actor.name, releasedAt: now },
        requireCurrent: true,
        cycleId: q.cycleId,
      },
    );
    if (!won)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'allow-deletes',
      target: { type: 'configuration', id },
      details: { cycleId: q.cycleId, deleteCount: q.deleteCount, threshold: q.threshold },
    });
    this.deps.logger.warn(
      { configurationId: id, cycleId: q.cycleId, deleteCount: q.deleteCount, by: actor.name },
      'deletes allowed',
    );
    await this.queues.enqueueCycle(q.cycleId, 'release');
    const phase = await this.waitForPhase(q.cycleId, ENDED_PHASES, this.deps.options.releaseWaitMs);
    switch (phase) {
      case 'applied':
        return { state: 'applied', cycleId: q.cycleId, deleted: q.deleteCount };
      case 'failed':
      case 'discarded': {
        const error = await this.redis.hget(this.keys.cycle(q.cycleId), 'error');
        const reason = error ? (JSON.parse(error) as { message?: string }).message : undefined;
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

  /** Waits until the cycle is in one of `phases` (or gone), at most `timeoutMs`; answers its phase then. */
  private async waitForPhase(cycleId: string, phases: readonly CyclePhase[], timeoutMs: number): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const phase = await this.redis.hget(this.keys.cycle(cycleId), 'phase');
      if (!isCyclePhase(phase) || phases.includes(phase) || Date.now() >= deadline) return phase;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async restart(id: string, actor: Actor): Promise<{ discardedCycleId: string; cycleId: string | null }> {
    await this.configs.get(id);
    const q = await this.quarantineOf(id);
    const st = await this.redis.hgetall(this.keys.state(id));
    const won = await this.deps.scripts.transition(
      this.keys.cycle(q.cycleId),
      this.keys.state(id),
      { from: ['quarantined'], to: 'discarded' },
      {
        cycle: {
          completedAt: new Date().toISOString(),
          error: JSON.stringify({ code: 'DISCARDED', message: `discarded by ${actor.name} (restart)` }),
        },
        state: { state: st.committedCycleId ? 'healthy' : 'pending' },
        stateDel: ['currentCycleId', 'quarantine', 'notification'],
        requireCurrent: true,
        cycleId: q.cycleId,
      },
    );
    if (!won)
      throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined (already released or restarted)`);
    this.deps.metrics.cycles.inc({ outcome: 'discarded' });
    await this.redis.del(...this.keys.staged(q.cycleId));
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'restart',
      target: { type: 'configuration', id },
      details: { discardedCycleId: q.cycleId, deleteCount: q.deleteCount },
    });
    const agentId = await this.redis.hget(this.keys.cycle(q.cycleId), 'agentId');
    if (agentId) {
      await this.link.send(agentId, {
        type: 'cycleAborted',
        value: {
          configurationId: id,
          cycleId: q.cycleId,
          reason: AbortReason.ABORT_REASON_DISCARDED,
          message: `discarded by ${actor.name}`,
        },
      });
    }
    let cycleId: string | null = null;
    try {
      cycleId = await this.cycles.startCycleFor(id, 'restart');
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.deps.logger.warn({ configurationId: id, err: error }, 'no cycle started after restart');
    }
    return { discardedCycleId: q.cycleId, cycleId };
  }
}

import { randomUUID } from 'node:crypto';
import { AbortReason } from '@syncguard/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../store/audit-log';
import type { CompiledControllerOptions } from '../controller-options';
import { ENDED_PHASES, isCyclePhase } from '../cycles/cycle-phase';
import type { CycleService } from '../cycles/cycle-service';
import { applyConfigurationPatch, validateConfigurationInput } from './configuration-validation';
import { ConflictError, ValidationError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import type { Actor, Configuration, ConfigurationPatch, StoredConfiguration } from '../model';
import type { PipelineQueues } from '../pipeline/queues';
import type { ConfigurationStore } from '../store/configuration-store';
import type { Keys } from '../store/keys';
import type { Target } from '../targets/target';

/** What configurations need to know of agents (the agent registry answers it). */
export interface AgentDirectory {
  /** True when the agent is registered. */
  exists(agentId: string): Promise<boolean>;
}

export interface ConfigurationServiceDeps {
  redis: Redis;
  keys: Keys;
  options: CompiledControllerOptions;
  logger: Logger;
  audit: AuditLog;
  target: Target;
  configs: ConfigurationStore;
  agents: AgentDirectory;
  cycles: CycleService;
  queues: PipelineQueues;
  link: AgentChannel;
}

/** Configurations: create, change, remove (with everything held for them), each audited and scheduled. */
export class ConfigurationService {
  private readonly redis: Redis;
  private readonly keys: Keys;
  private readonly configs: ConfigurationStore;
  private readonly agents: AgentDirectory;
  private readonly cycles: CycleService;
  private readonly queues: PipelineQueues;
  private readonly link: AgentChannel;

  constructor(private readonly deps: ConfigurationServiceDeps) {
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.configs = deps.configs;
    this.agents = deps.agents;
    this.cycles = deps.cycles;
    this.queues = deps.queues;
    this.link = deps.link;
  }

  private async withState(cfg: StoredConfiguration): Promise<Configuration> {
    return { ...cfg, state: await this.configs.state(cfg.id) };
  }

  async listConfigurations(): Promise<Configuration[]> {
    return Promise.all((await this.configs.list()).map((c) => this.withState(c)));
  }

  private async checkAgents(agentIds: string[]): Promise<void> {
    for (const id of agentIds) {
      if (!(await this.agents.exists(id))) throw new ValidationError('agentIds', `unknown agent ${id}`);
    }
  }

  async createConfiguration(input: unknown, actor: Actor): Promise<Configuration> {
    const cfg = validateConfigurationInput(input, randomUUID(), new Date().toISOString());
    await this.checkAgents(cfg.agentIds);
    const tx = this.redis.multi();
    tx.set(this.keys.config(cfg.id), JSON.stringify(cfg));
    tx.zadd(this.keys.configs, Date.parse(cfg.createdAt), cfg.id);
    tx.hset(this.keys.state(cfg.id), 'state', 'pending');
    await this.deps.audit.record(
      {
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'configuration.create',
        target: { type: 'configuration', id: cfg.id },
        details: { name: cfg.name },
      },
      tx,
    );
    await tx.exec();
    await this.queues.schedule(cfg);
    if (this.deps.options.schedule) {
      // The first cycle starts now when an agent is connected, instead of waiting for the
      // scheduler's first job to be picked up; that job then finds the cycle running.
      await this.cycles.startCycleFor(cfg.id, 'schedule').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'could not start the first cycle');
      });
    }
    return { ...cfg, state: 'pending' };
  }

  async getConfiguration(id: string): Promise<Configuration> {
    return this.withState(await this.configs.get(id));
  }

  async updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration> {
    const current = await this.configs.get(id);
    const next = applyConfigurationPatch(current, patch, new Date().toISOString());
    await this.checkAgents(next.agentIds);
    const tx = this.redis.multi();
    tx.set(this.keys.config(id), JSON.stringify(next));
    await this.deps.audit.record(
      {
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'configuration.update',
        target: { type: 'configuration', id },
        details: { changed: Object.keys(patch ?? {}) },
      },
      tx,
    );
    await tx.exec();
    if (next.syncIntervalSeconds !== current.syncIntervalSeconds) await this.queues.schedule(next);
    return this.withState(next);
  }

  async deleteConfiguration(id: string, actor: Actor): Promise<void> {
    const cfg = await this.configs.get(id);
    const st = await this.redis.hgetall(this.keys.state(id));
    await this.queues.unschedule(id);
    if (st.currentCycleId) {
      const c = await this.redis.hmget(this.keys.cycle(st.currentCycleId), 'agentId', 'phase');
      if (c[0] && isCyclePhase(c[1]) && !ENDED_PHASES.includes(c[1])) {
        await this.link.send(c[0], {
          type: 'cycleAborted',
          value: {
            configurationId: id,
            cycleId: st.currentCycleId,
            reason: AbortReason.ABORT_REASON_ABANDONED,
            message: 'configuration deleted',
          },
        });
      }
    }
    const cycleIds = await this.redis.zrange(this.keys.cycles(id), 0, -1);
    for (let i = 0; i < cycleIds.length; i += 500) {
      const part = cycleIds.slice(i, i + 500);
      await this.redis.del(...part.flatMap((c) => [this.keys.cycle(c), ...this.keys.staged(c)]));
    }
    await this.deps.target.removeAll(id);
    const tx = this.redis.multi();
    tx.del(
      this.keys.config(id),
      this.keys.state(id),
      this.keys.active(id),
      this.keys.cycles(id),
      this.keys.index(id),
      this.keys.retry(id),
      this.keys.plog(id),
    );
    tx.zrem(this.keys.configs, id);
    await this.deps.audit.record(
      {
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'configuration.delete',
        target: { type: 'configuration', id },
        details: { name: cfg.name },
      },
      tx,
    );
    await tx.exec();
  }
}

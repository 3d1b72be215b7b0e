import { randomUUID } from 'node:crypto';
import { AbortReason } from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import { ENDED_PHASES, isCyclePhase } from '../cycles/cycle-phase';
import type { CycleRecords } from '../cycles/cycle-records';
import type { CycleService } from '../cycles/cycle-service';
import { applyConfigurationPatch, validateConfigurationInput } from './configuration-validation';
import { publicNotifications } from './notification-settings';
import { ConflictError, ValidationError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import type { Actor, Configuration, ConfigurationPatch, StoredConfiguration } from '../model';
import type { PipelineQueues } from '../pipeline/queues';
import type { ConfigurationRecords } from './configuration-records';
import type { SecretBox } from '../secrets/secret-box';
import { targetView } from '../targets/target-settings';

/** What configurations need to know of agents (the agent registry answers it). */
export interface AgentDirectory {
  /** True when the agent is registered. */
  exists(agentId: string): Promise<boolean>;
}

export interface ConfigurationServiceDeps {
  cycleRecords: CycleRecords;
  options: CompiledControllerOptions;
  logger: Logger;
  /** Removes what the configuration's target holds for it (Targets, in targets/target-resolver.ts). */
  targets: { removeAll(cfg: StoredConfiguration): Promise<void> };
  configs: ConfigurationRecords;
  agents: AgentDirectory;
  cycles: CycleService;
  queues: PipelineQueues;
  link: AgentChannel;
  /** Seals target secrets; null without SYNCGUARD_SECRET_KEY (SCIM targets are then refused). */
  secrets: SecretBox | null;
}

/** Which target a configuration writes to: a change of it is a new target (the cloud directory, or a SCIM base URL). */
function targetIdentity(cfg: StoredConfiguration): string {
  const t = cfg.target;
  return !t || t.type === 'cloudDirectory' ? 'cloudDirectory' : `scim ${t.baseUrl}`;
}

/** A stored configuration as the API shows it: its target's secrets replaced by whether they are set. */
export function configurationView(cfg: StoredConfiguration, state: Configuration['state']): Configuration {
  return { ...cfg, notifications: publicNotifications(cfg), target: targetView(cfg.target), state };
}

/** Configurations: create, change, remove (with everything held for them), each audited and scheduled. */
export class ConfigurationService {
  constructor(private readonly deps: ConfigurationServiceDeps) {}

  private async withState(cfg: StoredConfiguration): Promise<Configuration> {
    return configurationView(cfg, await this.deps.configs.state(cfg.id));
  }

  async listConfigurations(): Promise<Configuration[]> {
    return Promise.all((await this.deps.configs.list()).map((c) => this.withState(c)));
  }

  private async checkAgents(agentIds: string[]): Promise<void> {
    for (const id of agentIds) {
      if (!(await this.deps.agents.exists(id))) throw new ValidationError('agentIds', `unknown agent ${id}`);
    }
  }

  async createConfiguration(input: unknown, actor: Actor): Promise<Configuration> {
    const cfg = validateConfigurationInput(input, randomUUID(), new Date().toISOString(), this.deps.secrets);
    await this.checkAgents(cfg.agentIds);
    await this.deps.configs.create(cfg, {
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'configuration.create',
      target: { type: 'configuration', id: cfg.id },
      details: { name: cfg.name },
    });
    await this.deps.queues.schedule(cfg);
    if (this.deps.options.schedule) {
      // The first cycle starts now when an agent is connected, instead of waiting for the
      // scheduler's first job to be picked up; that job then finds the cycle running.
      await this.deps.cycles.startCycleFor(cfg.id, 'schedule').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'could not start the first cycle');
      });
    }
    return configurationView(cfg, 'pending');
  }

  async getConfiguration(id: string): Promise<Configuration> {
    return this.withState(await this.deps.configs.get(id));
  }

  async updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration> {
    const current = await this.deps.configs.get(id);
    const next = applyConfigurationPatch(current, patch, new Date().toISOString(), this.deps.secrets);
    await this.checkAgents(next.agentIds);
    const newTarget = targetIdentity(current) !== targetIdentity(next);
    if (newTarget) {
      // A new target holds nothing yet: what was synced is forgotten, and the next cycle (FULL) creates everything there.
      const st = await this.deps.cycleRecords.stateFields(id);
      if (st.currentCycleId || st.state === 'quarantined')
        throw new ConflictError(
          'SG_ERR_CYCLE_RUNNING',
          `configuration ${id} has a running or quarantined cycle: let it end (or restart it) before changing its target`,
        );
    }
    await this.deps.configs.update(
      next,
      {
        actor: { tokenId: actor.tokenId, name: actor.name },
        action: 'configuration.update',
        target: { type: 'configuration', id },
        details: { changed: Object.keys(patch ?? {}), ...(newTarget ? { newTarget: true } : {}) },
      },
      { resetSynced: newTarget },
    );
    if (newTarget) await this.deps.targets.removeAll(current);
    if (next.syncIntervalSeconds !== current.syncIntervalSeconds) await this.deps.queues.schedule(next);
    return this.withState(next);
  }

  async deleteConfiguration(id: string, actor: Actor): Promise<void> {
    const cfg = await this.deps.configs.get(id);
    const st = await this.deps.cycleRecords.stateFields(id);
    await this.deps.queues.unschedule(id);
    if (st.currentCycleId) {
      const { agentId, phase } = await this.deps.cycleRecords.run(st.currentCycleId);
      if (agentId && isCyclePhase(phase) && !ENDED_PHASES.includes(phase)) {
        await this.deps.link.send(agentId, {
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
    await this.deps.cycleRecords.removeAllCycles(id);
    await this.deps.targets.removeAll(cfg);
    await this.deps.configs.remove(id, {
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'configuration.delete',
      target: { type: 'configuration', id },
      details: { name: cfg.name },
    });
  }
}

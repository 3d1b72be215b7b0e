import { isLogCursor } from '../pipeline/provisioning-log';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  AbortReason,
  ChangeTracking,
  CloseCode,
  CycleErrorCode,
  CycleMode,
  ErrorCode,
  ObjectType,
  type AgentHello,
  type Assignment,
  type CycleComplete,
  type CycleFailed,
} from '@syncguard/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log';
import { ENDED_PHASES, cycleState, isCyclePhase, type CyclePhase } from '../cycles/cycle-phase';
import type { CompiledControllerOptions } from '../controller-options';
import type { ControllerService } from '../controller-service';
import { ConflictError, ControllerError, NotFoundError, ValidationError } from '../errors';
import { hashAgentToken, type AgentGateway } from '../gateway/agent-gateway';
import type { AgentSession, SessionError, SessionHandler, StagedBatch } from '../gateway/agent-session';
import type { ControllerMetrics } from '../metrics';
import type {
  Actor,
  Agent,
  AllowDeletesResult,
  AuditEntry,
  CloudObject,
  Configuration,
  ConfigurationPatch,
  ConfigurationState,
  ConfigurationStatus,
  Cycle,
  CycleCounts,
  CycleTrigger,
  ObjectTypeName,
  Page,
  ProvisioningAction,
  ProvisioningLogEntry,
  Quarantine,
} from '../model';
import type { PipelineQueues } from '../pipeline/queues';
import { encodeStoredBatch } from '../pipeline/stored-batch';
import type { ProvisioningLog } from '../pipeline/provisioning-log';
import type { Keys } from '../store/keys';
import { NO_NOTIFICATION, decodeNotification, decodeQuarantine, type StoredQuarantine } from '../store/quarantine-codec';
import type { Scripts } from '../store/scripts';
import type { Target } from '../targets/target';
import { applyConfigurationPatch, validateConfigurationInput, type StoredConfiguration } from './configuration-validation';

export interface EngineDeps {
  redis: Redis;
  keys: Keys;
  scripts: Scripts;
  options: CompiledControllerOptions;
  logger: Logger;
  metrics: ControllerMetrics;
  target: Target;
  audit: AuditLog;
  plog: ProvisioningLog;
  controllerId: string;
}

const PRIVATE_ACTOR = { tokenId: 'controller', name: 'controller' };

/** A new agent token: `sga_` and 256 random bits; Redis keeps only its SHA-256. */
function newAgentToken(): string {
  return `sga_${randomBytes(32).toString('base64url')}`;
}

function limitOf(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw new ValidationError('limit', 'must be a whole number from 1 to 1000');
  return limit;
}

function cycleErrorName(code: CycleErrorCode): string {
  return (CycleErrorCode as unknown as Record<number, string>)[code] ?? `CYCLE_ERROR_${code}`;
}

/**
 * A controller refreshes its liveness key this often, and the key lives this long: a
 * process whose event loop stalls for up to 12 s (a long GC, a starved CPU) still counts as
 * alive, and one that crashed is known dead within 15 s.
 */
const LIVENESS_INTERVAL_MS = 3000;
/** Third part of a session key's value `{controllerId}/{sessionId}/2`: its controller keeps a liveness key. */
const SESSION_FORMAT = '2';
const LIVENESS_TTL_MS = 15_000;

/**
 * The engine behind the admin surface and the agent gateway: implements
 * ControllerService on Redis, starts cycles, stages batches and moves cycles through
 * their phases (see CycleProcessor for evaluation and apply).
 */
export class Engine implements ControllerService, SessionHandler {
  private gateway!: AgentGateway;
  private queues!: PipelineQueues;
  private readonly redis: Redis;
  private readonly keys: Keys;
  /** When each session's AgentHello arrived (ms), to tell cycles sent before it from cycles sent on it. */
  private readonly helloAt = new WeakMap<AgentSession, number>();

  constructor(private readonly deps: EngineDeps) {
    this.redis = deps.redis;
    this.keys = deps.keys;
  }

  attach(gateway: AgentGateway, queues: PipelineQueues): void {
    this.gateway = gateway;
    this.queues = queues;
  }

  // ---------------------------------------------------------------- agents

  async registerAgent(input: { name: string }, actor: Actor): Promise<{ id: string; token: string }> {
    if (typeof input?.name !== 'string' || input.name.trim() === '')
      throw new ValidationError('name', 'must be a non-empty string');
    const name = input.name.trim();
    const id = randomUUID();
    const token = newAgentToken();
    // Name claim and agent creation in one script: of two registrations of a name, one wins.
    const created = await this.deps.scripts.registerAgent(
      {
        names: this.keys.agentNames,
        agent: this.keys.agent(id),
        agents: this.keys.agents,
        token: this.keys.agentToken(hashAgentToken(token)),
      },
      { id, name, tokenHash: hashAgentToken(token), createdAt: new Date() },
    );
    if (!created) throw new ConflictError('SG_ERR_NAME_TAKEN', `name: an agent named ${name} exists`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'agent.register',
      target: { type: 'agent', id },
      details: { name },
    });
    return { id, token };
  }

  /**
   * Names of agents registered before names were unique: each is claimed for its oldest
   * agent (idempotent, run at start). A later registration of a taken name gets 409; agents
   * that already share a name keep it (the CLI then asks for the id).
   */
  async claimAgentNames(): Promise<void> {
    for (const id of await this.redis.zrange(this.keys.agents, 0, -1)) {
      const name = await this.redis.hget(this.keys.agent(id), 'name');
      if (name) await this.redis.hsetnx(this.keys.agentNames, name, id);
    }
  }

  private async storedAgent(id: string): Promise<{ name: string; tokenHash: string }> {
    const [name, tokenHash] = await this.redis.hmget(this.keys.agent(id), 'name', 'tokenHash');
    if (!tokenHash) throw new NotFoundError('agent', id);
    return { name: name ?? '', tokenHash };
  }

  /**
   * Removes an agent: its token stops working at once, its live session (on any replica) is
   * closed with AGENT_REVOKED, and configurations no longer name it. A cycle it was running
   * fails (code AGENT_REVOKED) and another connected agent of the configuration takes over.
   */
  async deleteAgent(id: string, actor: Actor): Promise<{ id: string; configurationIds: string[] }> {
    let agent = await this.storedAgent(id);
    // Retried when a rotation changed the token between the read and the delete.
    while (
      !(await this.deps.scripts.deleteAgent(
        {
          agent: this.keys.agent(id),
          agents: this.keys.agents,
          token: this.keys.agentToken(agent.tokenHash),
          cursors: this.keys.agentCursors(id),
          names: this.keys.agentNames,
        },
        { id, tokenHash: agent.tokenHash, name: agent.name },
      ))
    ) {
      agent = await this.storedAgent(id);
    }
    const configs = (await this.storedConfigurations()).filter((c) => c.agentIds.includes(id));
    const now = new Date().toISOString();
    for (const cfg of configs) {
      const next: StoredConfiguration = { ...cfg, agentIds: cfg.agentIds.filter((a) => a !== id), updatedAt: now };
      await this.redis.set(this.keys.config(cfg.id), JSON.stringify(next));
    }
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'agent.delete',
      target: { type: 'agent', id },
      details: { name: agent.name, configurationIds: configs.map((c) => c.id) },
    });
    await this.gateway.revoke(id, '', 'the agent was deleted');
    for (const cfg of configs) {
      await this.deps.scripts.deleteIfEqual(this.keys.active(cfg.id), id);
      const current = await this.redis.hget(this.keys.state(cfg.id), 'currentCycleId');
      if (!current) continue;
      const [phase, owner] = await this.redis.hmget(this.keys.cycle(current), 'phase', 'agentId');
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
    this.deps.logger.warn({ agentId: id, name: agent.name, by: actor.name }, 'agent deleted');
    return { id, configurationIds: configs.map((c) => c.id) };
  }

  /**
   * Gives an agent a new token (answered once): the old one stops working at once and a
   * session authenticated with it (on any replica) is closed with AGENT_REVOKED.
   */
  async rotateAgentToken(id: string, actor: Actor): Promise<{ id: string; token: string }> {
    const agent = await this.storedAgent(id);
    const token = newAgentToken();
    const rotated = await this.deps.scripts.rotateAgentToken(
      {
        agent: this.keys.agent(id),
        oldToken: this.keys.agentToken(agent.tokenHash),
        newToken: this.keys.agentToken(hashAgentToken(token)),
      },
      { id, oldHash: agent.tokenHash, newHash: hashAgentToken(token) },
    );
    if (!rotated) throw new ConflictError('SG_ERR_AGENT_CHANGED', `agent ${id} was deleted or its token rotated meanwhile`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'agent.rotate-token',
      target: { type: 'agent', id },
      details: { name: agent.name },
    });
    await this.gateway.revoke(id, agent.tokenHash, 'the agent token was rotated');
    this.deps.logger.warn({ agentId: id, name: agent.name, by: actor.name }, 'agent token rotated');
    return { id, token };
  }

  async listAgents(): Promise<Agent[]> {
    const ids = await this.redis.zrange(this.keys.agents, 0, -1);
    const configs = await this.storedConfigurations();
    return Promise.all(ids.map((id) => this.agentView(id, configs))).then((a) => a.filter((x): x is Agent => x !== null));
  }

  async getAgent(id: string): Promise<Agent> {
    const agent = await this.agentView(id, await this.storedConfigurations());
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  private async agentView(id: string, configs: StoredConfiguration[]): Promise<Agent | null> {
    const [h, connected] = await Promise.all([this.redis.hgetall(this.keys.agent(id)), this.isConnected(id)]);
    if (!h.id) return null;
    return {
      id,
      name: h.name ?? '',
      status: connected ? 'connected' : 'disconnected',
      lastSeenAt: h.lastSeenAt ?? null,
      version: h.version ?? null,
      hostname: h.hostname ?? null,
      configurationIds: configs.filter((c) => c.agentIds.includes(id)).map((c) => c.id),
      createdAt: h.createdAt ?? '',
    };
  }

  /**
   * Connected: the agent has a session, held by a controller process that is alive (a
   * crashed controller's sessions would otherwise look connected until they expire).
   */
  private async isConnected(agentId: string): Promise<boolean> {
    const holder = await this.redis.get(this.keys.agentSession(agentId));
    if (!holder) return false;
    const [controllerId = '', , version] = holder.split('/');
    // A session written by a controller version without liveness keys (no `/2` suffix: a
    // rolling upgrade) counts until it expires, as it always did.
    if (version !== SESSION_FORMAT || controllerId === this.deps.controllerId) return true;
    return (await this.redis.exists(this.keys.controller(controllerId))) === 1;
  }

  private livenessTimer: NodeJS.Timeout | null = null;

  /** Keeps this process's liveness key (`P:controller:{id}`) while it runs. */
  async startLiveness(): Promise<void> {
    const beat = () => this.redis.set(this.keys.controller(this.deps.controllerId), '1', 'PX', LIVENESS_TTL_MS);
    await beat();
    this.livenessTimer = setInterval(() => {
      beat().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'liveness key not refreshed'));
    }, LIVENESS_INTERVAL_MS);
    this.livenessTimer.unref();
  }

  async stopLiveness(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
    await this.redis.del(this.keys.controller(this.deps.controllerId));
  }

  /** The agent that gets StartCycle for a configuration: the current one if connected, else the first connected one. */
  private async activeAgent(cfg: StoredConfiguration): Promise<string | null> {
    const current = await this.redis.get(this.keys.active(cfg.id));
    if (current && cfg.agentIds.includes(current) && (await this.isConnected(current))) return current;
    for (const agentId of cfg.agentIds) {
      if (!(await this.isConnected(agentId))) continue;
      if (await this.deps.scripts.setIfFree(this.keys.active(cfg.id), agentId, current ?? '')) return agentId;
      const now = await this.redis.get(this.keys.active(cfg.id));
      if (now && (await this.isConnected(now))) return now;
    }
    return null;
  }

  // ---------------------------------------------------------------- configurations

  private async storedConfigurations(): Promise<StoredConfiguration[]> {
    const ids = await this.redis.zrange(this.keys.configs, 0, -1);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.keys.config(id)));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as StoredConfiguration);
  }

  async loadConfiguration(id: string): Promise<StoredConfiguration | null> {
    const raw = await this.redis.get(this.keys.config(id));
    return raw ? (JSON.parse(raw) as StoredConfiguration) : null;
  }

  private async stored(id: string): Promise<StoredConfiguration> {
    const cfg = await this.loadConfiguration(id);
    if (!cfg) throw new NotFoundError('configuration', id);
    return cfg;
  }

  private async withState(cfg: StoredConfiguration): Promise<Configuration> {
    const state = ((await this.redis.hget(this.keys.state(cfg.id), 'state')) ?? 'pending') as ConfigurationState;
    return { ...cfg, state };
  }

  async listConfigurations(): Promise<Configuration[]> {
    return Promise.all((await this.storedConfigurations()).map((c) => this.withState(c)));
  }

  private async checkAgents(agentIds: string[]): Promise<void> {
    for (const id of agentIds) {
      if (!(await this.redis.exists(this.keys.agent(id)))) throw new ValidationError('agentIds', `unknown agent ${id}`);
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
      await this.startCycleFor(cfg.id, 'schedule').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'could not start the first cycle');
      });
    }
    return { ...cfg, state: 'pending' };
  }

  async getConfiguration(id: string): Promise<Configuration> {
    return this.withState(await this.stored(id));
  }

  async updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration> {
    const current = await this.stored(id);
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
    const cfg = await this.stored(id);
    const st = await this.redis.hgetall(this.keys.state(id));
    await this.queues.unschedule(id);
    if (st.currentCycleId) {
      const c = await this.redis.hmget(this.keys.cycle(st.currentCycleId), 'agentId', 'phase');
      if (c[0] && isCyclePhase(c[1]) && !ENDED_PHASES.includes(c[1])) {
        await this.gateway.send(c[0], {
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

  // ---------------------------------------------------------------- status, cycles, logs

  async readCycle(cycleId: string): Promise<Cycle | null> {
    const h = await this.redis.hgetall(this.keys.cycle(cycleId));
    if (!h.configurationId) return null;
    return {
      id: cycleId,
      configurationId: h.configurationId,
      state: cycleState(h.phase),
      mode: (h.evaluatedMode ?? h.mode ?? 'full') as 'delta' | 'full',
      changeTracking: (h.changeTracking as Cycle['changeTracking']) || null,
      trigger: (h.trigger ?? 'manual') as CycleTrigger,
      agentId: h.agentId || null,
      baseCycleId: h.baseCycleId || null,
      startedAt: h.startedAt ?? '',
      completedAt: h.completedAt ?? null,
      counts: {
        ...(h.counts ? (JSON.parse(h.counts) as Omit<CycleCounts, 'failed'>) : { create: 0, update: 0, delete: 0 }),
        failed: Number(h.failed ?? 0),
      },
      error: h.error ? (JSON.parse(h.error) as Cycle['error']) : null,
    };
  }

  async getStatus(id: string): Promise<ConfigurationStatus> {
    await this.stored(id);
    const st = await this.redis.hgetall(this.keys.state(id));
    const state = (st.state ?? 'pending') as ConfigurationState;
    let quarantine: Quarantine | null = null;
    if (state === 'quarantined' && st.quarantine) {
      const notification = st.notification ? decodeNotification(st.notification) : { ...NO_NOTIFICATION };
      quarantine = { ...decodeQuarantine(st.quarantine), notification };
    }
    const lastCycle = st.lastCycleId ? await this.readCycle(st.lastCycleId) : null;
    return { state, quarantine, lastCycle };
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
    const cfg = await this.stored(id);
    const st = await this.redis.hgetall(this.keys.state(id));
    if (st.state === 'quarantined')
      throw new ConflictError('SG_ERR_QUARANTINED', `configuration ${id} is quarantined: allow the deletes or restart it`);
    const agentId = await this.activeAgent(cfg);
    if (st.currentCycleId) await this.settleCurrent(cfg, st.currentCycleId, agentId);
    if (!agentId) throw new ConflictError('SG_ERR_NO_AGENT', `no agent serving configuration ${id} is connected`);
    const base = st.committedCycleId ?? '';
    const cursor = await this.redis.hget(this.keys.agentCursors(agentId), id);
    const scope = JSON.stringify(cfg.source);
    const full = base === '' || cursor !== base || st.committedScope !== scope;
    const cycleId = randomUUID();
    const now = Date.now();
    const result = await this.deps.scripts.startCycle(
      this.keys.state(id),
      this.keys.cycle(cycleId),
      this.keys.cycles(id),
      cycleId,
      now,
      {
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
      },
    );
    if (result === 0) throw new ConflictError('SG_ERR_QUARANTINED', `configuration ${id} is quarantined`);
    if (result === -1) throw new ConflictError('SG_ERR_CYCLE_RUNNING', `a cycle of configuration ${id} is running`);
    await this.gateway.send(agentId, {
      type: 'startCycle',
      value: {
        configurationId: id,
        cycleId,
        mode: full ? CycleMode.CYCLE_MODE_FULL : CycleMode.CYCLE_MODE_DELTA,
        baseCycleId: base,
        scope: {
          baseDn: cfg.source.baseDn,
          filter: cfg.source.filter,
          objectTypes: cfg.source.objectTypes.map((t) =>
            t === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER,
          ),
          attributes: cfg.source.attributes,
          disabledAttribute: cfg.source.disabledAttribute,
        },
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
    const keep = new Set(
      (await this.redis.hmget(this.keys.state(id), 'currentCycleId', 'lastCycleId', 'committedCycleId')).filter(
        (c): c is string => !!c,
      ),
    );
    let removed = 0;
    for (;;) {
      const old = await this.redis.zrangebyscore(this.keys.cycles(id), '-inf', `(${cutoff}`, 'LIMIT', 0, 500);
      const gone = old.filter((c) => !keep.has(c));
      if (gone.length === 0) return removed;
      const tx = this.redis.multi();
      tx.zrem(this.keys.cycles(id), ...gone);
      tx.del(...gone.flatMap((c) => [this.keys.cycle(c), ...this.keys.staged(c)]));
      await tx.exec();
      removed += gone.length;
      if (old.length < 500) return removed;
    }
  }

  /**
   * Clears a current cycle that can no longer finish: ended already, its agent gone and
   * another active, or silent past cycleTimeoutMs. Otherwise throws SG_ERR_CYCLE_RUNNING.
   */
  private async settleCurrent(cfg: StoredConfiguration, cycleId: string, activeAgentId: string | null): Promise<void> {
    const [phase, agentId, lastFrameAt] = await this.redis.hmget(this.keys.cycle(cycleId), 'phase', 'agentId', 'lastFrameAt');
    if (!isCyclePhase(phase) || ENDED_PHASES.includes(phase)) {
      await this.redis.eval(
        "if redis.call('HGET', KEYS[1], 'currentCycleId') == ARGV[1] then redis.call('HDEL', KEYS[1], 'currentCycleId') end return 1",
        1,
        this.keys.state(cfg.id),
        cycleId,
      );
      return;
    }
    if (phase === 'complete' || phase === 'applying') {
      // Waiting for its job; should the job have been lost (a crash between the state
      // change and the enqueue), queue it again. Running it twice is harmless.
      await this.queues.enqueueCycle(cycleId, 'recover');
    }
    if (phase === 'streaming') {
      const silent = Date.now() - Number(lastFrameAt ?? 0) > this.deps.options.cycleTimeoutMs;
      const orphaned = agentId !== activeAgentId && !(agentId && (await this.isConnected(agentId)));
      if (silent || orphaned) {
        await this.failCycle(cfg.id, cycleId, {
          code: 'ABANDONED',
          message: silent ? 'the agent sent nothing for too long' : 'the agent left; another took over',
        });
        if (agentId) {
          await this.gateway.send(agentId, {
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
  private async failCycle(
    configurationId: string,
    cycleId: string,
    error: { code: string; message: string },
    from: readonly CyclePhase[] = ['streaming', 'complete'],
  ): Promise<boolean> {
    const moved = await this.deps.scripts.transition(
      this.keys.cycle(cycleId),
      this.keys.state(configurationId),
      { from, to: 'failed' },
      {
        cycle: { completedAt: new Date().toISOString(), error: JSON.stringify(error) },
        state: { state: 'error' },
        stateDel: ['currentCycleId'],
        requireCurrent: true,
        cycleId,
      },
    );
    if (moved) {
      this.deps.metrics.cycles.inc({ outcome: 'failed' });
      this.deps.logger.warn({ configurationId, cycleId, error }, 'cycle failed');
    }
    await this.redis.del(...this.keys.staged(cycleId));
    return moved;
  }

  /**
   * Cycle history, newest first. The cursor is `<startedAt ms>:<cycle id>` of the last cycle
   * of the page (cycles with the same start time follow in reverse id order, as Redis sorts
   * them), so that cycles started meanwhile do not shift the pages.
   */
  async listCycles(id: string, page: { limit?: number; cursor?: string }): Promise<Page<Cycle>> {
    await this.stored(id);
    const limit = limitOf(page.limit, 50);
    const key = this.keys.cycles(id);
    const after = page.cursor === undefined ? null : /^(\d+):(\S+)$/.exec(page.cursor);
    if (page.cursor !== undefined && !after) throw new ValidationError('cursor', 'is not a cursor of this list');
    const found: { id: string; score: string }[] = [];
    let upper = '+inf';
    if (after) {
      const [, score, last] = after as unknown as [string, string, string];
      // Cycles of the same start time that come after the cursor's one (Redis: reverse id order).
      const tied = (await this.redis.zrangebyscore(key, score, score))
        .filter((c) => c < last)
        .sort()
        .reverse();
      found.push(...tied.map((c) => ({ id: c, score })));
      upper = `(${score}`;
    }
    if (found.length <= limit) {
      const rest = await this.redis.zrevrangebyscore(key, upper, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 1 - found.length);
      for (let i = 0; i + 1 < rest.length; i += 2) found.push({ id: rest[i]!, score: rest[i + 1]! });
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
    await this.stored(id);
    if (query.action !== undefined && !['Create', 'Update', 'Delete', 'StagedDelete'].includes(query.action)) {
      throw new ValidationError('action', 'must be one of Create, Update, Delete, StagedDelete');
    }
    if (query.cursor !== undefined && !isLogCursor(query.cursor))
      throw new ValidationError('cursor', 'is not a cursor of this list');
    return this.deps.plog.list(id, { ...query, limit: limitOf(query.limit, 50) });
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
    await this.stored(id);
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
    await this.stored(id);
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
      await this.gateway.send(agentId, {
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
      cycleId = await this.startCycleFor(id, 'restart');
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      this.deps.logger.warn({ configurationId: id, err: error }, 'no cycle started after restart');
    }
    return { discardedCycleId: q.cycleId, cycleId };
  }

  // ---------------------------------------------------------------- objects, audit

  async listObjects(
    id: string,
    query: { type?: ObjectTypeName; limit?: number; cursor?: string },
  ): Promise<{ total: number } & Page<CloudObject>> {
    await this.stored(id);
    if (query.type !== undefined && query.type !== 'user' && query.type !== 'group')
      throw new ValidationError('type', 'must be user or group');
    return this.deps.target.listObjects(id, { type: query.type, limit: limitOf(query.limit, 100), cursor: query.cursor });
  }

  async listAudit(query: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>> {
    if (query.cursor !== undefined && !/^\d+-\d+$/.test(query.cursor))
      throw new ValidationError('cursor', 'is not a cursor of this list');
    return this.deps.audit.list({ limit: limitOf(query.limit, 50), cursor: query.cursor });
  }

  async recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.deps.audit.record(entry);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- scheduler and pipeline hooks

  /**
   * At start: re-queues cycles that wait for processing (complete, or applying after
   * allow-deletes) in case their job was lost with a crashed controller.
   */
  async recover(): Promise<void> {
    for (const cfg of await this.storedConfigurations()) {
      const current = await this.redis.hget(this.keys.state(cfg.id), 'currentCycleId');
      if (!current) continue;
      const phase = await this.redis.hget(this.keys.cycle(current), 'phase');
      if (phase === 'complete' || phase === 'applying') await this.queues.enqueueCycle(current, 'recover');
    }
  }

  /** A scheduler tick: start a cycle unless one runs or the configuration is quarantined. */
  async tick(configurationId: string): Promise<void> {
    try {
      await this.startCycleFor(configurationId, 'schedule');
    } catch (error) {
      if (error instanceof NotFoundError) {
        await this.queues.unschedule(configurationId);
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
    const [cfgId, agentId] = await this.redis.hmget(this.keys.cycle(cycleId), 'configurationId', 'agentId');
    if (!cfgId) return;
    const failed = await this.failCycle(cfgId, cycleId, { code: 'CONTROLLER_ERROR', message: cause.message }, [
      'complete',
      'applying',
    ]);
    if (failed && agentId) {
      await this.gateway.send(agentId, {
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
    await this.redis.hset(this.keys.agentCursors(agentId), configurationId, cycleId);
    await this.gateway.send(agentId, { type: 'cycleCommitted', value: { configurationId, cycleId } });
  }

  // ---------------------------------------------------------------- agent sessions (SessionHandler)

  /** The value of an agent's session key while this session holds it. */
  private sessionValue(session: AgentSession): string {
    return `${this.deps.controllerId}/${session.sessionId}/${SESSION_FORMAT}`;
  }

  private sessionTtlMs(): number {
    return this.deps.options.heartbeatIntervalMs * 3 + 1000;
  }

  /**
   * Makes this session the agent's one (the newest connection wins); a connection it
   * replaces on another replica is closed there with SUPERSEDED.
   */
  private async claimSession(session: AgentSession): Promise<void> {
    const mine = this.sessionValue(session);
    const previous = await this.redis.set(this.keys.agentSession(session.agentId), mine, 'PX', this.sessionTtlMs(), 'GET');
    const [controllerId, sessionId] = (previous ?? '').split('/');
    if (previous && previous !== mine && controllerId !== this.deps.controllerId && sessionId) {
      await this.gateway.supersede(session.agentId, sessionId);
    }
  }

  async hello(session: AgentSession, hello: AgentHello): Promise<Assignment[]> {
    this.helloAt.set(session, Date.now());
    // Deleted or rotated between the upgrade and this hello: refused, nothing written.
    const current = await this.deps.scripts.touchAgent(this.keys.agent(session.agentId), session.tokenHash, {
      lastSeenAt: new Date().toISOString(),
      version: hello.softwareVersion,
      hostname: hello.hostname,
    });
    if (!current) {
      session.revoke('the agent was deleted or its token rotated');
      return [];
    }
    this.gateway.register(session);
    await this.claimSession(session);
    const tx = this.redis.multi();
    tx.del(this.keys.agentCursors(session.agentId));
    const cursors = hello.cursors.filter((c) => c.committedCycleId !== '');
    if (cursors.length > 0) {
      tx.hset(
        this.keys.agentCursors(session.agentId),
        Object.fromEntries(cursors.map((c) => [c.configurationId, c.committedCycleId])),
      );
    }
    await tx.exec();
    const configs = (await this.storedConfigurations()).filter((c) => c.agentIds.includes(session.agentId));
    const out: Assignment[] = [];
    for (const cfg of configs) out.push({ configurationId: cfg.id, active: (await this.activeAgent(cfg)) === session.agentId });
    return out;
  }

  async afterWelcome(session: AgentSession, hello: AgentHello): Promise<void> {
    for (const cursor of hello.cursors) {
      if (cursor.pendingCycleId) await this.sendVerdict(session.agentId, cursor.configurationId, cursor.pendingCycleId, true);
      if (cursor.runningCycleId) await this.sendVerdict(session.agentId, cursor.configurationId, cursor.runningCycleId, false);
    }
    const configs = (await this.storedConfigurations()).filter((c) => c.agentIds.includes(session.agentId));
    // The hello is the truth of what the agent is doing. A cycle started for it before this
    // hello that it does not mention never reached it (its StartCycle went out while the
    // agent only looked connected, e.g. right after a controller crash): fail it now instead
    // of waiting for cycleTimeoutMs, so that a new cycle can start. Cycles started after the
    // hello (a failover racing with this welcome) were sent on this connection: keep them.
    const known = new Set(hello.cursors.flatMap((c) => [c.pendingCycleId, c.runningCycleId]).filter((id) => id !== ''));
    const helloAt = this.helloAt.get(session) ?? 0;
    for (const cfg of configs) {
      const current = await this.redis.hget(this.keys.state(cfg.id), 'currentCycleId');
      if (!current || known.has(current)) continue;
      const [phase, owner, startedAt] = await this.redis.hmget(this.keys.cycle(current), 'phase', 'agentId', 'startedAt');
      if (phase === 'streaming' && owner === session.agentId && Date.parse(startedAt ?? '') < helloAt) {
        await this.failCycle(cfg.id, current, { code: 'ABANDONED', message: 'the agent reconnected without this cycle' });
      }
    }
    for (const cfg of configs) {
      if ((await this.redis.get(this.keys.active(cfg.id))) !== session.agentId) continue;
      await this.startCycleFor(cfg.id, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'could not start a cycle');
      });
    }
  }

  /** Answers an agent's pending or running cycle after a reconnect. */
  private async sendVerdict(agentId: string, configurationId: string, cycleId: string, completed: boolean): Promise<void> {
    const [phase, cfgId, lastSequence] = await this.redis.hmget(
      this.keys.cycle(cycleId),
      'phase',
      'configurationId',
      'lastSequence',
    );
    const abort = (reason: AbortReason, message: string) =>
      this.gateway.send(agentId, { type: 'cycleAborted', value: { configurationId, cycleId, reason, message } });
    if (!phase || cfgId !== configurationId) return abort(AbortReason.ABORT_REASON_ABANDONED, 'unknown cycle');
    switch (phase) {
      case 'applied':
        return this.sendCommitted(agentId, configurationId, cycleId);
      case 'failed':
        return abort(AbortReason.ABORT_REASON_ABANDONED, 'cycle failed');
      case 'discarded':
        return abort(AbortReason.ABORT_REASON_DISCARDED, 'cycle discarded');
      case 'streaming':
        if (completed && !lastSequence) {
          // The agent completed a cycle whose CycleComplete never reached us: it cannot be evaluated.
          await this.failCycle(configurationId, cycleId, { code: 'ABANDONED', message: 'completion lost in a reconnect' });
          return abort(AbortReason.ABORT_REASON_ABANDONED, 'completion lost; a new cycle follows');
        }
        return;
      default:
        // complete, applying, quarantined: the verdict comes later.
        return;
    }
  }

  async batch(
    session: AgentSession,
    batch: StagedBatch,
    wire: { protocolVersion: number; encoded: readonly Uint8Array[] },
  ): Promise<{ ackedThrough: number | null; error: SessionError | null }> {
    const cycleKey = this.keys.cycle(batch.cycleId);
    // The script checks that the cycle is this agent's, for this configuration (one round trip).
    const { result, acked } = await this.deps.scripts.persistBatch(
      cycleKey,
      this.keys.batches(batch.cycleId),
      this.keys.seen(batch.cycleId),
      batch.sequence,
      // The changes are kept as the agent encoded them.
      encodeStoredBatch(batch.changes, wire.encoded, wire.protocolVersion),
      { configurationId: batch.configurationId, agentId: session.agentId },
    );
    if (result === -3) {
      return {
        ackedThrough: null,
        error: { code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${batch.cycleId}`, cycleId: batch.cycleId },
      };
    }
    if (result === -1) {
      return {
        ackedThrough: acked,
        error: {
          code: ErrorCode.ERROR_CODE_SEQUENCE_GAP,
          message: `expected batch ${acked + 1}, got ${batch.sequence}`,
          cycleId: batch.cycleId,
        },
      };
    }
    if (result === -2) {
      return {
        ackedThrough: null,
        error: {
          code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE,
          message: `cycle ${batch.cycleId} no longer runs`,
          cycleId: batch.cycleId,
        },
      };
    }
    // The last batch, after CycleComplete (a resend after a reconnect): the cycle is complete now.
    if (result === 2) await this.queues.enqueueCycle(batch.cycleId, 'complete');
    return { ackedThrough: acked, error: null };
  }

  async complete(session: AgentSession, message: CycleComplete): Promise<SessionError | null> {
    const cycleKey = this.keys.cycle(message.cycleId);
    const [cfgId, owner] = await this.redis.hmget(cycleKey, 'configurationId', 'agentId');
    if (cfgId !== message.configurationId || owner !== session.agentId) {
      return { code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${message.cycleId}`, cycleId: message.cycleId };
    }
    const tracking = changeTrackingName(message.changeTracking);
    if (tracking) await this.redis.hset(cycleKey, 'changeTracking', tracking);
    const r = await this.deps.scripts.completeCycle(
      cycleKey,
      message.lastSequence,
      JSON.stringify(message.totals),
      String(message.mode),
    );
    if (r === 1) await this.queues.enqueueCycle(message.cycleId, 'complete');
    if (r === -1) {
      const phase = await this.redis.hget(cycleKey, 'phase');
      if (phase === 'failed' || phase === 'discarded') {
        return {
          code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE,
          message: `cycle ${message.cycleId} no longer runs`,
          cycleId: message.cycleId,
        };
      }
    }
    return null;
  }

  async failed(session: AgentSession, message: CycleFailed): Promise<void> {
    const cfgId = await this.redis.hget(this.keys.cycle(message.cycleId), 'configurationId');
    if (cfgId !== message.configurationId) return;
    await this.failCycle(cfgId, message.cycleId, { code: cycleErrorName(message.code), message: message.message });
    if (message.code === CycleErrorCode.CYCLE_ERROR_CACHE_MISMATCH) {
      // The agent's cache is not at our committed cycle: the next cycle runs FULL, now.
      await this.redis.hdel(this.keys.agentCursors(session.agentId), cfgId);
      await this.startCycleFor(cfgId, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError)) throw error;
      });
    }
  }

  async alive(session: AgentSession): Promise<void> {
    if (!this.gateway.isCurrent(session)) return;
    const mine = this.sessionValue(session);
    // Extended only while it is this session's; a newer connection elsewhere took it over.
    if (!(await this.deps.scripts.setIfFree(this.keys.agentSession(session.agentId), mine, mine, this.sessionTtlMs()))) {
      session.close(CloseCode.SUPERSEDED, 'superseded by a new connection');
      return;
    }
    // Also catches a revocation whose pub/sub command this replica missed.
    const lastSeenAt = new Date().toISOString();
    if (!(await this.deps.scripts.touchAgent(this.keys.agent(session.agentId), session.tokenHash, { lastSeenAt })))
      session.revoke('the agent was deleted or its token rotated');
  }

  async closed(session: AgentSession): Promise<void> {
    const mine = await this.deps.scripts.deleteIfEqual(this.keys.agentSession(session.agentId), this.sessionValue(session));
    if (!mine) return; // superseded by a newer connection
    await this.deps.scripts.touchAgent(this.keys.agent(session.agentId), session.tokenHash, {
      lastSeenAt: new Date().toISOString(),
    });
    this.deps.logger.info({ agentId: session.agentId }, 'agent disconnected');
    // Fail over: configurations this agent was active for get another connected agent.
    const configs = (await this.storedConfigurations()).filter((c) => c.agentIds.includes(session.agentId));
    for (const cfg of configs) {
      if (!(await this.deps.scripts.deleteIfEqual(this.keys.active(cfg.id), session.agentId))) continue;
      const next = await this.activeAgent(cfg);
      if (!next) continue;
      this.deps.logger.info({ configurationId: cfg.id, agentId: next }, 'agent takes over');
      await this.startCycleFor(cfg.id, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError)) this.deps.logger.warn({ err: error }, 'no cycle after failover');
      });
    }
  }
}

export { PRIVATE_ACTOR };

/** The API name of how the agent found a cycle's changes; null when it did not say (older agents). */
function changeTrackingName(value: ChangeTracking): 'scan' | 'accesslog' | null {
  if (value === ChangeTracking.CHANGE_TRACKING_SCAN) return 'scan';
  if (value === ChangeTracking.CHANGE_TRACKING_ACCESSLOG) return 'accesslog';
  return null;
}

import { randomBytes, randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import { hashAgentToken } from '../gateway/agent-gateway';
import type { Actor, Agent } from '../model';
import type { StoredConfiguration } from '../model';
import type { Logger } from 'pino';
import type { AuditTrail } from '../cycles/cycle-records';
import type { AgentConfigurations, AgentRecords } from './agent-records';

/** A new agent token: `sga_` and 256 random bits; Redis keeps only its SHA-256. */
function newAgentToken(): string {
  return `sga_${randomBytes(32).toString('base64url')}`;
}

/**
 * A controller refreshes its liveness key this often, and the key lives this long: a
 * process whose event loop stalls for up to 12 s (a long GC, a starved CPU) still counts as
 * alive, and one that crashed is known dead within 15 s.
 */
const LIVENESS_INTERVAL_MS = 3000;
/** Third part of a session key's value `{controllerId}/{sessionId}/2`: its controller keeps a liveness key. */
export const SESSION_FORMAT = '2';
const LIVENESS_TTL_MS = 15_000;

export interface AgentRegistryDeps {
  records: AgentRecords;
  audit: AuditTrail;
  logger: Logger;
  controllerId: string;
  configs: AgentConfigurations;
  link: AgentChannel;
}

/**
 * The registered agents: registration, token rotation and removal, whether each is
 * connected (on any replica), and which agent is the active one of a configuration.
 */
export class AgentRegistry {
  constructor(private readonly deps: AgentRegistryDeps) {}

  /** True when the agent is registered. */
  async exists(id: string): Promise<boolean> {
    return this.deps.records.exists(id);
  }

  // ---------------------------------------------------------------- agents

  async registerAgent(input: { name: string }, actor: Actor): Promise<{ id: string; token: string }> {
    if (typeof input?.name !== 'string' || input.name.trim() === '')
      throw new ValidationError('name', 'must be a non-empty string');
    const name = input.name.trim();
    const id = randomUUID();
    const token = newAgentToken();
    // Name claim and agent creation in one script: of two registrations of a name, one wins.
    const created = await this.deps.records.register({ id, name, tokenHash: hashAgentToken(token), createdAt: new Date() });
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
    for (const id of await this.deps.records.ids()) {
      const name = await this.deps.records.name(id);
      if (name) await this.deps.records.claimName(name, id);
    }
  }

  private async storedAgent(id: string): Promise<{ name: string; tokenHash: string }> {
    const agent = await this.deps.records.credentials(id);
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  /**
   * Removes an agent: its token stops working at once, its live session (on any replica) is
   * closed with AGENT_REVOKED, and configurations no longer name it (then
   * CycleService.agentRemoved fails a cycle it was running).
   */
  async deleteAgent(id: string, actor: Actor): Promise<{ id: string; name: string; configurationIds: string[] }> {
    let agent = await this.storedAgent(id);
    // Retried when a rotation changed the token between the read and the delete.
    while (!(await this.deps.records.remove({ id, tokenHash: agent.tokenHash, name: agent.name }))) {
      agent = await this.storedAgent(id);
    }
    const configs = await this.deps.configs.forAgent(id);
    const now = new Date().toISOString();
    for (const cfg of configs) {
      const next: StoredConfiguration = { ...cfg, agentIds: cfg.agentIds.filter((a) => a !== id), updatedAt: now };
      await this.deps.configs.save(next);
    }
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'agent.delete',
      target: { type: 'agent', id },
      details: { name: agent.name, configurationIds: configs.map((c) => c.id) },
    });
    await this.deps.link.revoke(id, '', 'the agent was deleted');
    this.deps.logger.warn({ agentId: id, name: agent.name, by: actor.name }, 'agent deleted');
    return { id, name: agent.name, configurationIds: configs.map((c) => c.id) };
  }

  /**
   * Gives an agent a new token (answered once): the old one stops working at once and a
   * session authenticated with it (on any replica) is closed with AGENT_REVOKED.
   */
  async rotateAgentToken(id: string, actor: Actor): Promise<{ id: string; token: string }> {
    const agent = await this.storedAgent(id);
    const token = newAgentToken();
    const rotated = await this.deps.records.rotateToken(id, agent.tokenHash, hashAgentToken(token));
    if (!rotated) throw new ConflictError('SG_ERR_AGENT_CHANGED', `agent ${id} was deleted or its token rotated meanwhile`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'agent.rotate-token',
      target: { type: 'agent', id },
      details: { name: agent.name },
    });
    await this.deps.link.revoke(id, agent.tokenHash, 'the agent token was rotated');
    this.deps.logger.warn({ agentId: id, name: agent.name, by: actor.name }, 'agent token rotated');
    return { id, token };
  }

  async listAgents(): Promise<Agent[]> {
    const ids = await this.deps.records.ids();
    // One pass over the configurations for every agent (not one per agent).
    const served = new Map<string, string[]>();
    for (const cfg of await this.deps.configs.list())
      for (const agentId of cfg.agentIds) served.set(agentId, [...(served.get(agentId) ?? []), cfg.id]);
    return Promise.all(ids.map((id) => this.agentView(id, served.get(id) ?? []))).then((a) =>
      a.filter((x): x is Agent => x !== null),
    );
  }

  async getAgent(id: string): Promise<Agent> {
    const agent = await this.agentView(
      id,
      (await this.deps.configs.forAgent(id)).map((c) => c.id),
    );
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  private async agentView(id: string, configurationIds: string[]): Promise<Agent | null> {
    const [record, connected] = await Promise.all([this.deps.records.read(id), this.isConnected(id)]);
    if (!record) return null;
    return {
      id,
      name: record.name,
      status: connected ? 'connected' : 'disconnected',
      lastSeenAt: record.lastSeenAt,
      version: record.version,
      hostname: record.hostname,
      configurationIds,
      createdAt: record.createdAt,
    };
  }

  /**
   * Connected: the agent has a session, held by a controller process that is alive (a
   * crashed controller's sessions would otherwise look connected until they expire).
   */
  async isConnected(agentId: string): Promise<boolean> {
    const holder = await this.deps.records.sessionHolder(agentId);
    if (!holder) return false;
    const [controllerId = '', , version] = holder.split('/');
    // A session written by a controller version without liveness keys (no `/2` suffix: a
    // rolling upgrade) counts until it expires, as it always did.
    if (version !== SESSION_FORMAT || controllerId === this.deps.controllerId) return true;
    return this.deps.records.controllerAlive(controllerId);
  }

  private livenessTimer: NodeJS.Timeout | null = null;

  /** Keeps this process's liveness key (`P:controller:{id}`) while it runs. */
  async startLiveness(): Promise<void> {
    const beat = () => this.deps.records.markControllerAlive(this.deps.controllerId, LIVENESS_TTL_MS);
    await beat();
    this.livenessTimer = setInterval(() => {
      beat().catch((error: unknown) => this.deps.logger.warn({ err: error }, 'liveness key not refreshed'));
    }, LIVENESS_INTERVAL_MS);
    this.livenessTimer.unref();
  }

  async stopLiveness(): Promise<void> {
    if (this.livenessTimer) clearInterval(this.livenessTimer);
    this.livenessTimer = null;
    await this.deps.records.clearControllerAlive(this.deps.controllerId);
  }

  /** The agent that gets StartCycle for a configuration: the current one if connected, else the first connected one. */
  async activeAgent(cfg: StoredConfiguration): Promise<string | null> {
    const current = await this.deps.records.activeAgent(cfg.id);
    if (current && cfg.agentIds.includes(current) && (await this.isConnected(current))) return current;
    for (const agentId of cfg.agentIds) {
      if (!(await this.isConnected(agentId))) continue;
      if (await this.deps.records.claimActive(cfg.id, agentId, current ?? '')) return agentId;
      const now = await this.deps.records.activeAgent(cfg.id);
      if (now && (await this.isConnected(now))) return now;
    }
    return null;
  }
}

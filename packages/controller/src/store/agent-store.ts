import type { Redis } from 'ioredis';
import type { AgentRecord, AgentRecords } from '../agents/agent-records';
import type { AgentCursors } from '../cycles/cycle-records';
import type { AgentTokens } from '../gateway/agent-gateway';
import type { Keys } from './keys';
import type { Scripts } from './scripts';

/**
 * Agents in Redis: `P:agent:{id}` records, the `P:agents` zset, token hashes and names,
 * session keys and cursors, each configuration's active agent, and the controllers'
 * liveness keys (`P:controller:{id}`).
 */
export class AgentStore implements AgentRecords, AgentCursors, AgentTokens {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly scripts: Scripts,
  ) {}

  async agentIdForToken(tokenHash: string): Promise<string | null> {
    return this.redis.get(this.keys.agentToken(tokenHash));
  }

  async exists(agentId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.agent(agentId))) === 1;
  }

  async register(agent: { id: string; name: string; tokenHash: string; createdAt: Date }): Promise<boolean> {
    return this.scripts.registerAgent(
      {
        names: this.keys.agentNames,
        agent: this.keys.agent(agent.id),
        agents: this.keys.agents,
        token: this.keys.agentToken(agent.tokenHash),
      },
      agent,
    );
  }

  async ids(): Promise<string[]> {
    return this.redis.zrange(this.keys.agents, 0, -1);
  }

  async read(agentId: string): Promise<AgentRecord | null> {
    const h = await this.redis.hgetall(this.keys.agent(agentId));
    if (!h.id) return null;
    return {
      id: agentId,
      name: h.name ?? '',
      createdAt: h.createdAt ?? '',
      lastSeenAt: h.lastSeenAt ?? null,
      version: h.version ?? null,
      hostname: h.hostname ?? null,
      features: (h.features ?? '').split(',').filter((f) => f !== ''),
    };
  }

  async name(agentId: string): Promise<string | null> {
    return this.redis.hget(this.keys.agent(agentId), 'name');
  }

  async claimName(name: string, agentId: string): Promise<void> {
    await this.redis.hsetnx(this.keys.agentNames, name, agentId);
  }

  async credentials(agentId: string): Promise<{ name: string; tokenHash: string } | null> {
    const [name, tokenHash] = await this.redis.hmget(this.keys.agent(agentId), 'name', 'tokenHash');
    return tokenHash ? { name: name ?? '', tokenHash } : null;
  }

  async remove(agent: { id: string; tokenHash: string; name: string }): Promise<boolean> {
    return this.scripts.deleteAgent(
      {
        agent: this.keys.agent(agent.id),
        agents: this.keys.agents,
        token: this.keys.agentToken(agent.tokenHash),
        cursors: this.keys.agentCursors(agent.id),
        names: this.keys.agentNames,
      },
      agent,
    );
  }

  async rotateToken(agentId: string, oldHash: string, newHash: string): Promise<boolean> {
    return this.scripts.rotateAgentToken(
      { agent: this.keys.agent(agentId), oldToken: this.keys.agentToken(oldHash), newToken: this.keys.agentToken(newHash) },
      { id: agentId, oldHash, newHash },
    );
  }

  async touch(agentId: string, tokenHash: string, fields: Record<string, string>): Promise<boolean> {
    return this.scripts.touchAgent(this.keys.agent(agentId), tokenHash, fields);
  }

  // ---------------------------------------------------------------- sessions and cursors

  async sessionHolder(agentId: string): Promise<string | null> {
    return this.redis.get(this.keys.agentSession(agentId));
  }

  async takeSession(agentId: string, value: string, ttlMs: number): Promise<string | null> {
    return this.redis.set(this.keys.agentSession(agentId), value, 'PX', ttlMs, 'GET');
  }

  async extendSession(agentId: string, value: string, ttlMs: number): Promise<boolean> {
    return this.scripts.setIfFree(this.keys.agentSession(agentId), value, value, ttlMs);
  }

  async endSession(agentId: string, value: string): Promise<boolean> {
    return this.scripts.deleteIfEqual(this.keys.agentSession(agentId), value);
  }

  async replaceCursors(agentId: string, cursors: Record<string, string>): Promise<void> {
    const tx = this.redis.multi();
    tx.del(this.keys.agentCursors(agentId));
    if (Object.keys(cursors).length > 0) tx.hset(this.keys.agentCursors(agentId), cursors);
    await tx.exec();
  }

  async dropCursor(agentId: string, configurationId: string): Promise<void> {
    await this.redis.hdel(this.keys.agentCursors(agentId), configurationId);
  }

  async cursor(agentId: string, configurationId: string): Promise<string | null> {
    return this.redis.hget(this.keys.agentCursors(agentId), configurationId);
  }

  async setCursor(agentId: string, configurationId: string, cycleId: string): Promise<void> {
    await this.redis.hset(this.keys.agentCursors(agentId), configurationId, cycleId);
  }

  // ---------------------------------------------------------------- active agents

  async activeAgent(configurationId: string): Promise<string | null> {
    return this.redis.get(this.keys.active(configurationId));
  }

  async claimActive(configurationId: string, agentId: string, staleAgentId: string): Promise<boolean> {
    return this.scripts.setIfFree(this.keys.active(configurationId), agentId, staleAgentId);
  }

  async releaseActive(configurationId: string, agentId: string): Promise<boolean> {
    return this.scripts.deleteIfEqual(this.keys.active(configurationId), agentId);
  }

  // ---------------------------------------------------------------- controller liveness

  async controllerAlive(controllerId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.controller(controllerId))) === 1;
  }

  async markControllerAlive(controllerId: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.controller(controllerId), '1', 'PX', ttlMs);
  }

  async clearControllerAlive(controllerId: string): Promise<void> {
    await this.redis.del(this.keys.controller(controllerId));
  }
}

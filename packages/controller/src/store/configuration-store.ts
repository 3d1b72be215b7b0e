import type { Redis } from 'ioredis';
import type { AgentConfigurations } from '../agents/agent-records';
import type { AuditRecord, ConfigurationRecords } from '../configurations/configuration-records';
import type { ConfigurationReader } from '../cycles/cycle-records';
import type { StoredConfiguration } from '../model';
import { NotFoundError } from '../errors';
import type { ConfigurationState } from '../model';
import type { AuditLog } from './audit-log';
import type { Keys } from './keys';

/**
 * The configurations' settings in Redis (`P:{C}:config:<id>`, JSON, and the `P:{g}:configs`
 * index) and their state field, as every service reads them; creating, changing and removing
 * one, with its audit entry.
 *
 * A configuration's keys and the global index and audit stream lie in different Redis
 * Cluster slots (keys.ts, "Hash tags"), so each change is two transactions, in the order that
 * a crash between them leaves nothing untrue behind: a new configuration is written before
 * it is listed (a crash leaves an unlisted record, which nothing reads, and the call failed);
 * a change and a removal are audited first and then made (a crash leaves an audit entry of a
 * change that did not happen, never a change that no entry records); a removed configuration
 * leaves the list before its keys go.
 *
 * Each agent's index of the configurations that name it (`P:{agents}:agent:<id>:configs`, a
 * third slot) is a superset of the truth, which is the configuration's `agentIds`: an agent is
 * added to it before a configuration names the agent and removed after the configuration no
 * longer does (or is gone), so a crash between the steps leaves an extra id, which readers
 * skip, never a missing one. `indexAgents` writes it for configurations stored before it existed.
 */
export class ConfigurationStore implements ConfigurationRecords, ConfigurationReader, AgentConfigurations {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly audit: AuditLog,
  ) {}

  /** Every configuration, oldest first. */
  async list(): Promise<StoredConfiguration[]> {
    const ids = await this.redis.zrange(this.keys.configs, 0, -1);
    if (ids.length === 0) return [];
    // One GET per configuration (an MGET may not span Cluster slots), sent together.
    const values: (string | null)[] = [];
    for (let i = 0; i < ids.length; i += 1000)
      values.push(...(await Promise.all(ids.slice(i, i + 1000).map((id) => this.redis.get(this.keys.config(id))))));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as StoredConfiguration);
  }

  async forAgent(agentId: string): Promise<StoredConfiguration[]> {
    const ids = await this.redis.smembers(this.keys.agentConfigs(agentId));
    const configs = (await Promise.all(ids.map((id) => this.load(id)))).filter(
      (c): c is StoredConfiguration => c !== null && c.agentIds.includes(agentId),
    );
    // Oldest first, as list() answers.
    return configs.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Adds the configuration to the indexes of `agentIds` (all in the `{agents}` slot: one pipeline). */
  private async addToAgents(configurationId: string, agentIds: readonly string[]): Promise<void> {
    if (agentIds.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const agentId of agentIds) pipe.sadd(this.keys.agentConfigs(agentId), configurationId);
    throwOnError(await pipe.exec());
  }

  private async removeFromAgents(configurationId: string, agentIds: readonly string[]): Promise<void> {
    if (agentIds.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const agentId of agentIds) pipe.srem(this.keys.agentConfigs(agentId), configurationId);
    throwOnError(await pipe.exec());
  }

  /**
   * Writes every listed configuration into its agents' indexes (idempotent; run at start, for
   * configurations stored by a version without the indexes).
   */
  async indexAgents(configs: readonly StoredConfiguration[]): Promise<void> {
    for (const cfg of configs) await this.addToAgents(cfg.id, cfg.agentIds);
  }

  /** The ids of every configuration, oldest first. */
  async ids(): Promise<string[]> {
    return this.redis.zrange(this.keys.configs, 0, -1);
  }

  async load(id: string): Promise<StoredConfiguration | null> {
    const raw = await this.redis.get(this.keys.config(id));
    return raw ? (JSON.parse(raw) as StoredConfiguration) : null;
  }

  /** The configuration; NotFoundError when there is none. */
  async get(id: string): Promise<StoredConfiguration> {
    const cfg = await this.load(id);
    if (!cfg) throw new NotFoundError('configuration', id);
    return cfg;
  }

  /** Overwrites the settings of an existing configuration. */
  async save(cfg: StoredConfiguration): Promise<void> {
    await this.replace(cfg, async () => {
      await this.redis.set(this.keys.config(cfg.id), JSON.stringify(cfg));
    });
  }

  /** Runs `write` (which stores `cfg`) between adding its new agents to their indexes and removing the agents it dropped. */
  private async replace(cfg: StoredConfiguration, write: () => Promise<void>): Promise<void> {
    const before = (await this.load(cfg.id))?.agentIds ?? [];
    await this.addToAgents(
      cfg.id,
      cfg.agentIds.filter((a) => !before.includes(a)),
    );
    await write();
    await this.removeFromAgents(
      cfg.id,
      before.filter((a) => !cfg.agentIds.includes(a)),
    );
  }

  async state(id: string): Promise<ConfigurationState> {
    return ((await this.redis.hget(this.keys.state(id), 'state')) ?? 'pending') as ConfigurationState;
  }

  async create(cfg: StoredConfiguration, entry: AuditRecord): Promise<void> {
    await this.addToAgents(cfg.id, cfg.agentIds);
    const own = this.redis.multi();
    own.set(this.keys.config(cfg.id), JSON.stringify(cfg));
    own.hset(this.keys.state(cfg.id), 'state', 'pending');
    throwOnError(await own.exec());
    const listed = this.redis.multi();
    listed.zadd(this.keys.configs, Date.parse(cfg.createdAt), cfg.id);
    await this.audit.record(entry, listed);
    throwOnError(await listed.exec());
  }

  async update(cfg: StoredConfiguration, entry: AuditRecord, options: { resetSynced?: boolean } = {}): Promise<void> {
    await this.audit.record(entry);
    await this.replace(cfg, async () => {
      if (!options.resetSynced) {
        await this.redis.set(this.keys.config(cfg.id), JSON.stringify(cfg));
        return;
      }
      // The settings and what a new target forgets share the configuration's slot: one transaction.
      const tx = this.redis.multi();
      tx.set(this.keys.config(cfg.id), JSON.stringify(cfg));
      // UNLINK: the index holds an entry per object (see CycleStore.dropStaged).
      tx.unlink(this.keys.index(cfg.id), this.keys.heldCounts(cfg.id), this.keys.retry(cfg.id));
      tx.hdel(this.keys.state(cfg.id), 'committedCycleId', 'committedScope');
      const results = await tx.exec();
      for (const [error] of results ?? []) if (error) throw error;
    });
  }

  async remove(id: string, entry: AuditRecord): Promise<void> {
    const agentIds = (await this.load(id))?.agentIds ?? [];
    const unlisted = this.redis.multi();
    unlisted.zrem(this.keys.configs, id);
    await this.audit.record(entry, unlisted);
    throwOnError(await unlisted.exec());
    await this.redis.unlink(
      this.keys.config(id),
      this.keys.state(id),
      this.keys.active(id),
      this.keys.cycles(id),
      this.keys.index(id),
      this.keys.heldCounts(id),
      this.keys.appliedDeletes(id),
      this.keys.members(id),
      this.keys.lane(id),
      this.keys.kept(id),
      this.keys.keptApprovals(id),
      this.keys.retry(id),
      this.keys.plog(id),
      this.keys.deleteApprovals(id),
      this.keys.notificationEvents(id),
      this.keys.outbox(id),
    );
    await this.removeFromAgents(id, agentIds);
  }
}

/** A MULTI's results: throws the first command's error (Redis runs the others regardless). */
function throwOnError(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('transaction aborted');
  const failed = results.find(([error]) => error !== null);
  if (failed) throw failed[0]!;
}

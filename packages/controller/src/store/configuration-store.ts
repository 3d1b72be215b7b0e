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
 * The configurations' settings in Redis (`P:config:{id}`, JSON, and the `P:configs` index)
 * and their state field, as every service reads them; creating, changing and removing one
 * (each in one transaction with its audit entry).
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
    const values = await this.redis.mget(...ids.map((id) => this.keys.config(id)));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as StoredConfiguration);
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
    await this.redis.set(this.keys.config(cfg.id), JSON.stringify(cfg));
  }

  async state(id: string): Promise<ConfigurationState> {
    return ((await this.redis.hget(this.keys.state(id), 'state')) ?? 'pending') as ConfigurationState;
  }

  async create(cfg: StoredConfiguration, entry: AuditRecord): Promise<void> {
    const tx = this.redis.multi();
    tx.set(this.keys.config(cfg.id), JSON.stringify(cfg));
    tx.zadd(this.keys.configs, Date.parse(cfg.createdAt), cfg.id);
    tx.hset(this.keys.state(cfg.id), 'state', 'pending');
    await this.audit.record(entry, tx);
    await tx.exec();
  }

  async update(cfg: StoredConfiguration, entry: AuditRecord, options: { resetSynced?: boolean } = {}): Promise<void> {
    const tx = this.redis.multi();
    tx.set(this.keys.config(cfg.id), JSON.stringify(cfg));
    if (options.resetSynced) {
      tx.del(this.keys.index(cfg.id), this.keys.heldCounts(cfg.id), this.keys.retry(cfg.id));
      tx.hdel(this.keys.state(cfg.id), 'committedCycleId', 'committedScope');
    }
    await this.audit.record(entry, tx);
    await tx.exec();
  }

  async remove(id: string, entry: AuditRecord): Promise<void> {
    const tx = this.redis.multi();
    tx.del(
      this.keys.config(id),
      this.keys.state(id),
      this.keys.active(id),
      this.keys.cycles(id),
      this.keys.index(id),
      this.keys.heldCounts(id),
      this.keys.appliedDeletes(id),
      this.keys.members(id),
      this.keys.lane(id),
      this.keys.retry(id),
      this.keys.plog(id),
    );
    tx.zrem(this.keys.configs, id);
    await this.audit.record(entry, tx);
    await tx.exec();
  }
}

import type { Redis } from 'ioredis';
import type { StagedDeleteRecords } from '../cycles/staged-deletes';
import type { Keys } from './keys';

/**
 * The held deletes in Redis: with `hold: "deletes"` the delete lane's set
 * (`P:config:{id}:lane`); otherwise a quarantined cycle's: the last `deleteCount` entries of its plan
 * (`P:cycle:{id}:plan`: creates and updates first, then the deletes).
 */
export class StagedDeleteStore implements StagedDeleteRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async deletes(cycleId: string, offset: number, count: number): Promise<{ total: number; entries: string[] }> {
    const [planSize, deleteCount] = await this.redis.hmget(this.keys.cycle(cycleId), 'planSize', 'deleteCount');
    const total = Number(deleteCount ?? 0);
    if (total === 0 || offset >= total || count <= 0) return { total, entries: [] };
    const first = Number(planSize ?? 0) - total + offset;
    const last = Math.min(first + count, Number(planSize ?? 0)) - 1;
    return { total, entries: await this.redis.lrange(this.keys.plan(cycleId), first, last) };
  }

  async laneDeletes(configurationId: string, offset: number, count: number): Promise<{ total: number; entries: string[] }> {
    // The held set is a hash: its ids sorted make the pages stable while it does not change.
    const ids = (await this.redis.hkeys(this.keys.lane(configurationId))).sort();
    const pageIds = ids.slice(offset, offset + count);
    if (pageIds.length === 0) return { total: ids.length, entries: [] };
    const entries = await this.redis.hmget(this.keys.lane(configurationId), ...pageIds);
    return { total: ids.length, entries: entries.filter((e): e is string => e !== null) };
  }

  async scopeOf(cycleId: string): Promise<string | null> {
    return this.redis.hget(this.keys.cycle(cycleId), 'scope');
  }
}

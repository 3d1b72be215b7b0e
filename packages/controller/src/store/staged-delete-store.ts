import type { Redis } from 'ioredis';
import type { StagedDeleteRecords } from '../cycles/staged-deletes';
import type { Keys } from './keys';

/**
 * A quarantined cycle's held deletes in Redis: the last `deleteCount` entries of its plan
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

  async scopeOf(cycleId: string): Promise<string | null> {
    return this.redis.hget(this.keys.cycle(cycleId), 'scope');
  }
}

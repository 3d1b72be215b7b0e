import type { Redis } from 'ioredis';
import type { DeleteApprovalRecords, StoredDeleteApproval } from '../cycles/delete-approvals';
import type { Keys } from './keys';
import { LuaScript, callScript } from './scripts';

/**
 * Marks a pre-approval used by a cycle (KEYS[1]: the approvals hash; ARGV[1]: approval id,
 * ARGV[2]: cycle id, ARGV[3]: used at (ISO), ARGV[4]: the cycle's deletes, ARGV[5]: now ms).
 * Returns 2 when it was free and is now this cycle's, 1 when this cycle had it already (an
 * evaluation run again), 0 when it is gone, used by another cycle, revoked or expired.
 */
const USE_APPROVAL = new LuaScript(
  'use-delete-approval',
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local a = cjson.decode(raw)
if a.cycleId == ARGV[2] then return 1 end
if a.usedAt ~= cjson.null or a.revokedAt ~= cjson.null or tonumber(a.expiresAtMs) <= tonumber(ARGV[5]) then return 0 end
a.usedAt = ARGV[3]
a.cycleId = ARGV[2]
a.usedDeletes = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(a))
return 2
`,
);

/** Revokes a pre-approval while it is unused (KEYS[1]; ARGV[1]: id, ARGV[2]: revoked at). Returns 1, 0 when used or revoked, -1 when unknown. */
const REVOKE_APPROVAL = new LuaScript(
  'revoke-delete-approval',
  `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return -1 end
local a = cjson.decode(raw)
if a.usedAt ~= cjson.null or a.revokedAt ~= cjson.null then return 0 end
a.revokedAt = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(a))
return 1
`,
);

/** A configuration's pre-approvals in Redis (`P:config:{id}:delete-approvals`). */
export class DeleteApprovalStore implements DeleteApprovalRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async add(configurationId: string, a: StoredDeleteApproval): Promise<void> {
    await this.redis.hset(this.keys.deleteApprovals(configurationId), a.id, JSON.stringify(a));
  }

  async list(configurationId: string): Promise<StoredDeleteApproval[]> {
    const all = await this.redis.hvals(this.keys.deleteApprovals(configurationId));
    return all.map((v) => JSON.parse(v) as StoredDeleteApproval);
  }

  async use(
    configurationId: string,
    approvalId: string,
    cycleId: string,
    usedAt: string,
    deletes: number,
    nowMs: number,
  ): Promise<'taken' | 'already' | 'gone'> {
    const r = await callScript(
      this.redis,
      USE_APPROVAL,
      [this.keys.deleteApprovals(configurationId)],
      [approvalId, cycleId, usedAt, deletes, nowMs],
    );
    return r === 2 ? 'taken' : r === 1 ? 'already' : 'gone';
  }

  async revoke(configurationId: string, approvalId: string, at: string): Promise<'revoked' | 'spent' | 'unknown'> {
    const r = await callScript(this.redis, REVOKE_APPROVAL, [this.keys.deleteApprovals(configurationId)], [approvalId, at]);
    return r === 1 ? 'revoked' : r === 0 ? 'spent' : 'unknown';
  }

  async remove(configurationId: string, approvalIds: readonly string[]): Promise<void> {
    if (approvalIds.length > 0) await this.redis.hdel(this.keys.deleteApprovals(configurationId), ...approvalIds);
  }
}

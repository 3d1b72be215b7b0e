import type { ChainableCommander, Redis } from 'ioredis';
import type { PlannedMembership } from '../cycles/member-removal-counter';
import type { Keys } from './keys';
import { decodeMemberRecord, encodeMemberRecord } from './member-record';
import { queueEncoded } from './resp';

/**
 * The member record (`P:config:{id}:members`): what the pipeline applied of each group's
 * members, for the delete guard's `memberRemovals`. Read by evaluation, written by the apply
 * chunk that applies the group (in that chunk's MULTI, so that it moves with the index).
 */
export class MemberStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** The recorded member keys of each group, null where there is no record (a group applied by an earlier version). */
  async previous(configurationId: string, groupIds: readonly string[]): Promise<(string[] | null)[]> {
    if (groupIds.length === 0) return [];
    const stored = await this.redis.hmget(this.keys.members(configurationId), ...groupIds);
    return stored.map((s) => (s === null ? null : decodeMemberRecord(s)));
  }
}

/**
 * Queues on an apply chunk's transaction the records of the groups it applied: a create or
 * update that carries its member list replaces the record, a delete removes it.
 */
export function queueMemberRecords(
  tx: ChainableCommander,
  keys: Keys,
  configurationId: string,
  applied: readonly PlannedMembership[],
): void {
  const set: string[] = [];
  const del: string[] = [];
  for (const a of applied) {
    if (a.memberDns === null) del.push(a.groupId);
    else set.push(a.groupId, encodeMemberRecord(a.memberDns));
  }
  const key = keys.members(configurationId);
  if (del.length > 0) queueEncoded(tx, 'hdel', [key, ...del]);
  if (set.length > 0) queueEncoded(tx, 'hset', [key, ...set]);
}

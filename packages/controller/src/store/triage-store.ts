import type { Redis } from 'ioredis';
import type { DeleteKeptResult, TriageCycleResult, TriageLaneResult, TriageRecords } from '../cycles/triage';
import { assertTransition } from '../cycles/cycle-phase';
import type { Keys } from './keys';
import { DELETE_KEPT, TRIAGE_CYCLE, TRIAGE_LANE, callScript } from './scripts';

/** The fields of a `release` cycle (no agent), as the delete lane's release writes them. */
function releaseCycleFields(configurationId: string, by: string, now: number): Record<string, string> {
  const at = new Date(now).toISOString();
  return {
    phase: 'applying',
    configurationId,
    agentId: '',
    mode: 'delta',
    trigger: 'release',
    startedAt: at,
    evaluatedMode: 'delta',
    released: '1',
    releasedBy: by,
    releasedAt: at,
  };
}

/**
 * The triage's records in Redis (cycles/triage.ts): the kept set `P:{C}:config:<id>:kept`
 * (store/kept-record.ts), the scripts that split a quarantine's staged deletes, and the
 * approvals of a choice. Every key carries the configuration's tag.
 */
export class TriageStore implements TriageRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  storedQuarantine(configurationId: string): Promise<string | null> {
    return this.redis.hget(this.keys.state(configurationId), 'quarantine');
  }

  async triageCycle(input: Parameters<TriageRecords['triageCycle']>[0]): Promise<TriageCycleResult> {
    assertTransition(['quarantined'], 'applying');
    const r = (await callScript(
      this.redis,
      TRIAGE_CYCLE,
      [
        this.keys.cycle(input.cycleId),
        this.keys.state(input.configurationId),
        this.keys.plan(input.cycleId),
        this.keys.kept(input.configurationId),
        this.keys.outbox(input.configurationId),
      ],
      [
        input.cycleId,
        input.storedQuarantine,
        input.mode,
        input.keptAt,
        input.quarantineAfter,
        input.by,
        input.keptAt,
        input.event.id,
        input.event.entry,
        ...input.objectIds,
      ],
    )) as unknown[];
    if (r[0] === -3) return { outcome: 'unknown', objectId: String(r[1]) };
    if (r[0] !== 1) return { outcome: 'changed' };
    return { outcome: 'done', released: r[1] === 1, kept: Number(r[2]), left: Number(r[3]) };
  }

  async triageLane(input: Parameters<TriageRecords['triageLane']>[0]): Promise<TriageLaneResult> {
    const now = Date.now();
    const cycleId = input.mode === 'apply' ? input.releaseCycleId : '';
    const fields = input.mode === 'apply' ? Object.entries(releaseCycleFields(input.configurationId, input.by, now)) : [];
    const cycleKey = cycleId ? this.keys.cycle(cycleId) : this.keys.cycle(input.laneCycleId);
    const r = (await callScript(
      this.redis,
      TRIAGE_LANE,
      [
        this.keys.state(input.configurationId),
        this.keys.lane(input.configurationId),
        this.keys.kept(input.configurationId),
        cycleKey,
        cycleId ? this.keys.plan(cycleId) : this.keys.plan(input.laneCycleId),
        this.keys.cycles(input.configurationId),
        this.keys.outbox(input.configurationId),
      ],
      [
        input.storedQuarantine,
        input.mode,
        input.keptAt,
        cycleId,
        now,
        input.quarantineAfter,
        input.nextState,
        input.laneCycleId,
        fields.length,
        input.event.id,
        input.event.entry,
        ...fields.flat(),
        ...input.objectIds,
      ],
    )) as unknown[];
    if (r.length === 1 && r[0] === 0) return { outcome: 'changed' };
    if (r.length === 1 && r[0] === -1) return { outcome: 'cycleRunning' };
    if (r[0] === -3) return { outcome: 'unknown', objectId: String(r[1]) };
    return { outcome: 'done', released: Number(r[0]), kept: Number(r[1]), left: Number(r[2]) };
  }

  async deleteKept(input: Parameters<TriageRecords['deleteKept']>[0]): Promise<DeleteKeptResult> {
    const fields = Object.entries(releaseCycleFields(input.configurationId, input.by, Date.now()));
    const r = (await callScript(
      this.redis,
      DELETE_KEPT,
      [
        this.keys.state(input.configurationId),
        this.keys.kept(input.configurationId),
        this.keys.cycle(input.cycleId),
        this.keys.plan(input.cycleId),
        this.keys.cycles(input.configurationId),
        this.keys.keptApprovals(input.configurationId),
      ],
      [input.cycleId, Date.now(), fields.length, ...fields.flat(), ...input.objectIds],
    )) as unknown[];
    if (r[0] === -1) return { outcome: 'cycleRunning' };
    if (r[0] === -2) return { outcome: 'quarantined' };
    if (r[0] === -3) return { outcome: 'unknown', objectId: String(r[1]) };
    return { outcome: 'done', deletes: Number(r[0]) };
  }

  async keptPage(
    configurationId: string,
    after: string | null,
    count: number,
  ): Promise<{ total: number; items: [string, string][] }> {
    // A hash: its ids sorted make pages stable while it changes (the cursor is an id, not an offset).
    const ids = (await this.redis.hkeys(this.keys.kept(configurationId))).sort();
    let from = 0;
    if (after !== null) {
      from = ids.findIndex((id) => id > after);
      if (from < 0) from = ids.length;
    }
    const pageIds = ids.slice(from, from + count);
    if (pageIds.length === 0) return { total: ids.length, items: [] };
    const values = await this.redis.hmget(this.keys.kept(configurationId), ...pageIds);
    const items: [string, string][] = [];
    pageIds.forEach((id, i) => {
      const v = values[i];
      if (v !== null && v !== undefined) items.push([id, v]);
    });
    return { total: ids.length, items };
  }

  async keptHolds(configurationId: string, objectIds: readonly string[]): Promise<boolean[]> {
    if (objectIds.length === 0) return [];
    const found = await this.redis.hmget(this.keys.kept(configurationId), ...objectIds);
    return found.map((f) => f !== null);
  }

  async approveSelection(
    scope: { cycleId: string } | { configurationId: string },
    selection: string,
    tokenId: string,
  ): Promise<number> {
    const key = 'cycleId' in scope ? this.keys.approvals(scope.cycleId) : this.keys.keptApprovals(scope.configurationId);
    const [, members] = (await this.redis.multi().sadd(key, `${selection}:${tokenId}`).smembers(key).exec()) ?? [];
    if (!members || members[0]) throw members?.[0] ?? new Error('approval not recorded');
    return (members[1] as string[]).filter((m) => m.startsWith(`${selection}:`)).length;
  }

  cycleField(cycleId: string, field: string): Promise<string | null> {
    return this.redis.hget(this.keys.cycle(cycleId), field);
  }
}

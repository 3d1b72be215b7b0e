import type { ChainableCommander, Redis } from 'ioredis';
import type { OutboxEvent } from '../cycles/cycle-events';
import type { LaneState } from '../cycles/delete-lane';
import type { Keys } from './keys';
import { decodeQuarantine } from './quarantine-codec';
import { DISCARD_LANE, HOLD_DELETES, RELEASE_LANE, callScript } from './scripts';

/** The delete lane's records in Redis (cycles/delete-lane.ts describes the model). */
export class DeleteLaneStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async state(configurationId: string): Promise<LaneState> {
    const [[lane, series, quarantine], held] = await Promise.all([
      this.redis.hmget(this.keys.state(configurationId), 'lane', 'restartedSeries', 'quarantine'),
      this.redis.hlen(this.keys.lane(configurationId)),
    ]);
    const open = lane === '1';
    return {
      open,
      held,
      quarantine: open && quarantine ? decodeQuarantine(quarantine) : null,
      restartedSeries: Number(series ?? 0) || 0,
    };
  }

  /** For each id, whether the held set holds it. */
  async holds(configurationId: string, ids: readonly string[]): Promise<boolean[]> {
    if (ids.length === 0) return [];
    const found = await this.redis.hmget(this.keys.lane(configurationId), ...ids);
    return found.map((f) => f !== null);
  }

  /** Queues on the evaluation's MULTI: the cycle's deletes (its deletes part) into the held set, `leaving` out of it. */
  static queueHold(
    tx: ChainableCommander,
    keys: Keys,
    configurationId: string,
    cycleId: string,
    deletesPart: string,
    leaving: readonly string[],
  ): void {
    tx.eval(HOLD_DELETES.source, 3, keys.lane(configurationId), deletesPart, keys.cycle(cycleId), ...leaving);
  }

  /** RELEASE_LANE: the deletes released into cycle `cycleId`, 0 without a lane, -1 while a cycle is current. */
  async release(
    configurationId: string,
    cycleId: string,
    startedAtMs: number,
    fields: Record<string, string>,
    event?: OutboxEvent,
  ): Promise<number> {
    const result = await callScript(
      this.redis,
      RELEASE_LANE,
      [
        this.keys.state(configurationId),
        this.keys.lane(configurationId),
        this.keys.cycle(cycleId),
        this.keys.plan(cycleId),
        this.keys.cycles(configurationId),
        this.keys.outbox(configurationId),
      ],
      [cycleId, startedAtMs, event?.id ?? '', event?.entry ?? '', ...Object.entries(fields).flat()],
    );
    return Number(result);
  }

  /** DISCARD_LANE: 1 discarded, 0 without a lane, -1 while a cycle is current; `event` written to the outbox with it. */
  async discard(configurationId: string, nextState: string, seriesCount: number, event?: OutboxEvent): Promise<number> {
    const result = await callScript(
      this.redis,
      DISCARD_LANE,
      [this.keys.state(configurationId), this.keys.lane(configurationId), this.keys.outbox(configurationId)],
      [nextState, seriesCount, event?.id ?? '', event?.entry ?? ''],
    );
    return Number(result);
  }
}

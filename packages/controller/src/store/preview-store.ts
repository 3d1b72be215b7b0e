import type { Redis } from 'ioredis';
import type { PreviewDelete, PreviewIncrements, PreviewRecords } from '../previews/preview-records';
import type { Keys } from './keys';
import { throwOnError } from './evaluation-store';
import { LuaScript, callScript } from './scripts';

/** How long a preview's keys live after their last write: its result can be read for this long. */
export const PREVIEW_TTL_MS = 3600 * 1000;

/**
 * Sets fields of a preview while it is running (KEYS[1]: the record; ARGV: field, value
 * pairs). Returns 1 when it was running (and the fields are set), 0 otherwise (ended or gone).
 */
const SET_IF_RUNNING = new LuaScript(
  'preview-set-if-running',
  `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`,
);

/** A configuration's previews in Redis (`P:{C}:preview:<id>`, `:seen`, `:sample`; all in the configuration's slot). */
export class PreviewStore implements PreviewRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async create(previewId: string, fields: Record<string, string>): Promise<void> {
    const key = this.keys.preview(previewId);
    throwOnError(await this.redis.multi().hset(key, fields).pexpire(key, PREVIEW_TTL_MS).exec());
  }

  async read(previewId: string): Promise<Record<string, string> | null> {
    const h = await this.redis.hgetall(this.keys.preview(previewId));
    return h.state ? h : null;
  }

  async seen(previewId: string, objectIds: readonly string[]): Promise<boolean[]> {
    if (objectIds.length === 0) return [];
    return (await this.redis.smismember(this.keys.previewSeen(previewId), ...objectIds)).map((v) => v === 1);
  }

  async markSeen(previewId: string, objectIds: readonly string[]): Promise<void> {
    if (objectIds.length === 0) return;
    const key = this.keys.previewSeen(previewId);
    throwOnError(
      await this.redis
        .multi()
        .sadd(key, ...objectIds)
        .pexpire(key, PREVIEW_TTL_MS)
        .exec(),
    );
  }

  async addBatch(
    previewId: string,
    batch: {
      sequence: number;
      objectIds: readonly string[];
      objects: number;
      increments: PreviewIncrements;
      sample: PreviewDelete[];
    },
    sampleSize: number,
    nowMs: number,
  ): Promise<void> {
    const record = this.keys.preview(previewId);
    const seen = this.keys.previewSeen(previewId);
    const tx = this.redis.multi();
    if (batch.objectIds.length > 0) tx.sadd(seen, ...batch.objectIds).pexpire(seen, PREVIEW_TTL_MS);
    const inc = batch.increments;
    tx.hincrby(record, 'objects', batch.objects)
      .hincrby(record, 'create', inc.create)
      .hincrby(record, 'update', inc.update)
      .hincrby(record, 'delete', inc.delete)
      .hincrby(record, 'deleteUser', inc.deleteUser)
      .hincrby(record, 'deleteGroup', inc.deleteGroup)
      .hincrby(record, 'protectedDeletes', inc.protectedDeletes)
      .hset(record, 'acked', String(batch.sequence), 'lastFrameAt', String(nowMs))
      .pexpire(record, PREVIEW_TTL_MS);
    this.queueSample(tx, previewId, batch.sample, sampleSize);
    throwOnError(await tx.exec());
  }

  async addSample(previewId: string, sample: readonly PreviewDelete[], sampleSize: number): Promise<void> {
    if (sample.length === 0) return;
    const tx = this.redis.multi();
    this.queueSample(tx, previewId, sample, sampleSize);
    throwOnError(await tx.exec());
  }

  private queueSample(tx: ReturnType<Redis['multi']>, previewId: string, sample: readonly PreviewDelete[], size: number): void {
    if (sample.length === 0) return;
    const key = this.keys.previewSample(previewId);
    tx.rpush(key, ...sample.map((d) => JSON.stringify(d)))
      .ltrim(key, 0, size - 1)
      .pexpire(key, PREVIEW_TTL_MS);
  }

  async sample(previewId: string): Promise<PreviewDelete[]> {
    return (await this.redis.lrange(this.keys.previewSample(previewId), 0, -1)).map((s) => JSON.parse(s) as PreviewDelete);
  }

  async setIfRunning(previewId: string, fields: Record<string, string>): Promise<boolean> {
    const args = Object.entries(fields).flat();
    return (await callScript(this.redis, SET_IF_RUNNING, [this.keys.preview(previewId)], args)) === 1;
  }

  async finish(previewId: string, fields: Record<string, string>): Promise<boolean> {
    const moved = await this.setIfRunning(previewId, fields);
    await this.redis.del(this.keys.previewSeen(previewId));
    return moved;
  }
}

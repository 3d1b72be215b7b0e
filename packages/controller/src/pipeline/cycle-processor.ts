import { randomUUID } from 'node:crypto';
import { ChangeKind, CycleMode, ObjectType, decodeChange } from '@syncguard/protocol';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import type { CycleCounts, ObjectTypeName, ProvisioningAction, Quarantine } from '../model';
import type { Keys } from '../store/keys';
import { queueEncoded } from '../store/resp';
import { ASSEMBLE_PLAN, Scripts } from '../store/scripts';
import {
  attributesObject,
  withoutSecretAttributes,
  type Target,
  type TargetOperation,
  type TargetResult,
} from '../targets/target';
import type { StoredConfiguration } from '../engine/configuration-validation';
import { BUNDLE_SIZE, renderBundle, type NewLogEntry, type ProvisioningLog } from './provisioning-log';
import { type ChangeSummary, StoredBatch, type StoredChange, decodeSummaries, summaryField } from './stored-batch';

/** Hooks the processor calls into the rest of the engine. */
export interface CycleProcessorHooks {
  /** Tells an agent the cycle's verdict (CycleCommitted). */
  committed(agentId: string, configurationId: string, cycleId: string): Promise<void>;
  /** The cycle was quarantined (or found quarantined): make sure its email is on its way. */
  quarantined(configurationId: string, cycleId: string): Promise<void>;
  /** A cycle released by allow-deletes was applied: resume the schedule. */
  released(configurationId: string): Promise<void>;
  loadConfiguration(configurationId: string): Promise<StoredConfiguration | null>;
}

type CycleFields = Record<string, string>;

/** A change's summary and where it is: batch `seq`, position `idx`. */
interface ChangeRef {
  seq: number;
  idx: number;
  summary: ChangeSummary;
}

/** How long the parts of a plan outlive an evaluation that died while writing them. */
const PART_TTL_MS = 24 * 3600 * 1000;

/** A delete plan entry: `d<TAB>id<TAB>type<TAB>dn`. */
function parseDeleteEntry(entry: string): { objectId: string; objectType: ObjectTypeName; dn: string } {
  const [, objectId = '', objectType = 'user', ...dn] = entry.split('\t');
  return { objectId, objectType: objectType as ObjectTypeName, dn: dn.join('\t') };
}

function throwOnError(results: [Error | null, unknown][] | null): void {
  for (const [error] of results ?? []) if (error) throw error;
}

/** One apply chunk: its operations and, once rendered, the target's results (and the recorded writes). */
interface PreparedChunk {
  offset: number;
  ops: (TargetOperation & { hash?: string })[];
  calls: RecordedCall[];
  results: TargetResult[];
}

type RecordedCall = [name: string, args: unknown[]];

/** A stand-in for a MULTI that records the commands queued on it, to be replayed on the real one. */
function recorder(calls: RecordedCall[]): ChainableCommander {
  const proxy: ChainableCommander = new Proxy({} as ChainableCommander, {
    get: (_target, name) => {
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (...args: unknown[]) => {
        calls.push([name, args]);
        return proxy;
      };
    },
  });
  return proxy;
}

function replay(calls: readonly RecordedCall[], tx: ChainableCommander): void {
  const commands = tx as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const [name, args] of calls) commands[name]!(...args);
}

/**
 * A create or update of the plan, made from a stored change. Its attributes and members are
 * decoded only should a target read them: the cloud directory copies the change as it is.
 */
class PlannedChange {
  readonly objectId: string;
  readonly objectType: ObjectTypeName;
  readonly dn: string;
  readonly disabled: boolean;
  readonly hash: string;
  readonly encoded: StoredChange['encoded'];
  readonly json: StoredChange['json'];
  /** A FULL-mode PRESENT carries no attributes: the target keeps what it has. */
  private readonly present: boolean;
  private content?: { attributes: Record<string, string[]>; memberDns: string[] };

  constructor(
    readonly kind: 'create' | 'update',
    private readonly stored: StoredChange,
  ) {
    const [changeKind, objectType, objectId, dn, hash, disabled] = stored.header;
    this.objectId = objectId;
    this.objectType = typeName(objectType);
    this.dn = dn;
    this.disabled = disabled === 1;
    this.hash = hash;
    this.present = changeKind === ChangeKind.CHANGE_KIND_PRESENT;
    this.encoded = this.present ? undefined : stored.encoded;
    this.json = this.present ? undefined : stored.json;
  }

  get attributes(): Record<string, string[]> | null {
    return this.present ? null : this.decoded().attributes;
  }

  get memberDns(): string[] {
    return this.present ? [] : this.decoded().memberDns;
  }

  private decoded(): { attributes: Record<string, string[]>; memberDns: string[] } {
    if (this.content) return this.content;
    const { encoded, json } = this.stored;
    if (encoded) {
      const change = decodeChange(encoded.change);
      this.content = { attributes: attributesObject(change.attributes), memberDns: change.memberDns };
    } else {
      this.content = {
        attributes: withoutSecretAttributes(JSON.parse(json.attributes) as Record<string, string[]>),
        memberDns: JSON.parse(json.memberDns) as string[],
      };
    }
    return this.content;
  }
}

export function typeName(t: ObjectType): ObjectTypeName {
  return t === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user';
}

/**
 * Evaluates and applies one cycle; the body of the `cycles` BullMQ job.
 *
 * Phases of a cycle (field `phase` of its hash): `streaming` (batches arriving) ->
 * `complete` (every batch held; job queued) -> `quarantined` or `applying` -> `applied`;
 * or `failed` / `discarded`. Each step is a guarded transition, so running the job
 * again after a crash continues where the last run stopped:
 *
 * 1. evaluate: reads every batch and the synced index, writes the plan (a list of
 *    operations), counts deletes and either quarantines or moves to `applying`, all in
 *    one MULTI;
 * 2. apply: takes the plan in chunks; each chunk's target writes, index updates,
 *    provisioning-log entries and the progress marker `applied` commit in one MULTI
 *    under WATCH, so a chunk is applied exactly once;
 * 3. finalize: `applied`, the configuration's committed cycle advances, staged data
 *    is removed and the agent is told CycleCommitted (idempotent).
 */
export class CycleProcessor {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly target: Target,
    private readonly plog: ProvisioningLog,
    private readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
    private readonly chunkSize: number,
    private readonly hooks: CycleProcessorHooks,
    private readonly stepDelayMs = 0,
  ) {}

  async process(cycleId: string): Promise<void> {
    let releasedNow = false;
    for (let step = 0; step < 5; step++) {
      const c = await this.redis.hgetall(this.keys.cycle(cycleId));
      switch (c.phase) {
        case 'complete':
          await this.evaluate(cycleId, c);
          break;
        case 'applying':
          await this.apply(cycleId, c);
          releasedNow = (await this.finalize(cycleId, c)) && c.released === '1';
          break;
        case 'applied':
          await this.cleanup(cycleId);
          await this.hooks.committed(c.agentId ?? '', c.configurationId ?? '', cycleId);
          if (releasedNow) {
            // After CycleCommitted, so that the agent's cache has advanced when the next cycle asks for a delta.
            await this.hooks.released(c.configurationId ?? '').catch((error: unknown) => {
              this.logger.warn({ err: error, configurationId: c.configurationId }, 'no cycle started after allow-deletes');
            });
          }
          return;
        case 'quarantined':
          await this.hooks.quarantined(c.configurationId ?? '', cycleId);
          return;
        case 'failed':
        case 'discarded':
          await this.cleanup(cycleId);
          return;
        default:
          // streaming (not ours to process yet) or gone (configuration deleted).
          return;
      }
    }
  }

  /**
   * The summaries of the cycle's batches in sequence order, a few batches at a time, so
   * that memory stays small whatever the size of the cycle.
   */
  private async *summaryGroups(cycleId: string, cycleFields: CycleFields): AsyncGenerator<ChangeRef[]> {
    const last = Number(cycleFields.acked ?? 0);
    for (let from = 1; from <= last; from += 8) {
      const seqs = Array.from({ length: Math.min(8, last - from + 1) }, (_, i) => from + i);
      const stored = await this.redis.hmget(this.keys.batches(cycleId), ...seqs.map(summaryField));
      const refs: ChangeRef[] = [];
      stored.forEach((text, i) => {
        const seq = seqs[i]!;
        if (text === null) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        decodeSummaries(text).forEach((summary, idx) => refs.push({ seq, idx, summary }));
      });
      yield refs;
    }
  }

  /**
   * Builds the seen hash of a cycle some of whose batches were staged without it (by an
   * earlier version of the controller, e.g. during a rolling upgrade): object id -> `seq:idx`
   * of its last change. Without it, the objects of those batches would look unseen, and a
   * FULL cycle would delete them.
   */
  private async rebuildSeen(cycleId: string, c: CycleFields): Promise<void> {
    const seen = this.keys.seen(cycleId);
    await this.redis.del(seen);
    let changes = 0;
    for await (const refs of this.summaryGroups(cycleId, c)) {
      if (refs.length === 0) continue;
      changes += refs.length;
      await this.redis.hset(seen, ...refs.flatMap((r) => [r.summary[2], `${r.seq}:${r.idx}`]));
    }
    const distinct = await this.redis.hlen(seen);
    await this.redis.hset(this.keys.cycle(cycleId), 'seenThrough', c.acked ?? '0', 'duplicates', String(changes - distinct));
    c.seenThrough = c.acked ?? '0';
    c.duplicates = String(changes - distinct);
  }

  private async evaluate(cycleId: string, c: CycleFields): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const cfg = await this.hooks.loadConfiguration(cfgId);
    if (!cfg) return;
    // The plan is written under WATCH: should two runs of this job overlap (a stalled
    // worker that was not dead after all), only the first replaces the plan.
    // Before the WATCH: the rebuild writes the cycle hash (and is the same whoever runs it).
    if (Number(c.seenThrough ?? 0) < Number(c.acked ?? 0)) await this.rebuildSeen(cycleId, c);
    const conn = this.redis.duplicate();
    try {
      await conn.watch(this.keys.cycle(cycleId));
      if ((await conn.hget(this.keys.cycle(cycleId), 'phase')) !== 'complete') return;
      await this.evaluateWatched(cycleId, c, cfg, conn);
    } finally {
      conn.disconnect();
    }
  }

  /**
   * Works out the plan of a complete cycle in one pass over its batches, holding a few
   * batches at a time (never every object: a million-object cycle takes no more memory
   * than a small one). Plan entries go to parts in Redis as they are found (users,
   * groups, deletes, each in batch order); one MULTI under WATCH then puts the plan
   * together, writes the StagedDelete entries of a quarantine, and moves the cycle on.
   */
  private async evaluateWatched(cycleId: string, c: CycleFields, cfg: StoredConfiguration, conn: Redis): Promise<void> {
    const cfgId = cfg.id;
    const full = c.mode === 'full' || c.agentMode === String(CycleMode.CYCLE_MODE_FULL);
    const countDisables = cfg.accidentalDeletes.countDisables;
    const indexKey = this.keys.index(cfgId);
    const seenKey = this.keys.seen(cycleId);
    // Parts of this run's plan, named after the run, so that an overlapping run writes its own.
    const run = randomUUID();
    const part = { u: '', g: '', d: '', ds: '', sd: '' };
    for (const p of ['u', 'g', 'd', 'ds', 'sd'] as const) part[p] = this.keys.planPart(cycleId, run, p);
    const lengths = { u: 0, g: 0, d: 0 };
    const counts: CycleCounts = { create: 0, update: 0, delete: 0 };
    // Appends entries to the parts; a TTL takes the parts away should this run die.
    const write = async (entries: { u: string[]; g: string[]; d: string[] }, deleteIds: string[] = []): Promise<void> => {
      const pipe = this.redis.pipeline();
      for (const p of ['u', 'g', 'd'] as const) {
        if (entries[p].length === 0) continue;
        pipe.rpush(part[p], ...entries[p]).pexpire(part[p], PART_TTL_MS);
        lengths[p] += entries[p].length;
      }
      if (deleteIds.length > 0) pipe.sadd(part.ds, ...deleteIds).pexpire(part.ds, PART_TTL_MS);
      if (pipe.length > 0) throwOnError(await pipe.exec());
    };
    try {
      const indexed = await this.redis.hlen(indexKey);
      const superseded = Number(c.duplicates ?? 0) > 0;
      for await (const refs of this.summaryGroups(cycleId, c)) {
        if (refs.length === 0) continue;
        const ids = refs.map((r) => r.summary[2]);
        // Only what is needed: an empty index (an initial sync) has nothing to compare with.
        const [latest, known] = await Promise.all([
          superseded ? this.redis.hmget(seenKey, ...ids) : null,
          indexed > 0 ? this.redis.hmget(indexKey, ...ids) : null,
        ]);
        const entries = { u: [] as string[], g: [] as string[], d: [] as string[] };
        refs.forEach(({ seq, idx, summary }, i) => {
          // The last change per object wins: an object listed twice keeps its latest view.
          if (latest && latest[i] !== `${seq}:${idx}`) return;
          const [kind, objectType, objectId, dn, hash, disabled] = summary;
          const was = known?.[i] ?? null;
          const inScope = kind !== ChangeKind.CHANGE_KIND_DELETE && !(countDisables && disabled === 1);
          if (!inScope) {
            if (was !== null) entries.d.push(`d\t${objectId}\t${typeName(objectType)}\t${dn}`);
            return;
          }
          const ops = objectType === ObjectType.OBJECT_TYPE_GROUP ? entries.g : entries.u;
          if (was === null) {
            ops.push(`c\t${seq}\t${idx}`);
            counts.create += 1;
          } else if (was !== hash) {
            ops.push(`u\t${seq}\t${idx}`);
            counts.update += 1;
          }
        });
        await write(entries);
      }
      if (full && indexed > 0) {
        // FULL mode: whatever the target holds and the scan did not report is gone from scope.
        let cursor = '0';
        do {
          const [next, kv] = await this.redis.hscan(indexKey, cursor, 'COUNT', 1000);
          cursor = next;
          const ids = kv.filter((_, i) => i % 2 === 0);
          if (ids.length === 0) continue;
          const seen = await this.redis.hmget(seenKey, ...ids);
          let missing = ids.filter((_, i) => seen[i] === null);
          if (missing.length === 0) continue;
          // HSCAN may return an id twice (while the hash is rehashed): each delete counts once.
          const listed = await this.redis.smismember(part.ds, ...missing);
          missing = missing.filter((_, i) => listed[i] === 0);
          if (missing.length === 0) continue;
          const described = await this.target.describe(cfgId, missing);
          const d = missing.map((id, j) => `d\t${id}\t${described[j]?.type ?? 'user'}\t${described[j]?.dn ?? ''}`);
          await write({ u: [], g: [], d }, missing);
        } while (cursor !== '0');
      }
      counts.delete = lengths.d;
      const deleteCount = lengths.d;
      const planSize = lengths.u + lengths.g + lengths.d;

      const guard = cfg.accidentalDeletes;
      const quarantine = guard.enabled && deleteCount >= guard.threshold && c.released !== '1';
      const now = new Date().toISOString();
      const cycleFields = {
        planSize,
        applied: 0,
        deleteCount,
        counts: JSON.stringify(counts),
        evaluatedMode: full ? 'full' : 'delta',
      };
      const preview = quarantine ? await this.redis.lrange(part.d, 0, 19) : [];
      // A quarantine logs every staged delete. The log bundles are rendered here, a chunk at a
      // time, and written to the log inside Redis by the MULTI below (one XADD per 1,000).
      if (quarantine)
        await this.renderStagedDeletes(
          cycleId,
          part.d,
          part.sd,
          `held back: ${deleteCount} deletes >= threshold ${guard.threshold}`,
          now,
        );
      const tx = conn.multi();
      if (quarantine) this.plog.addRendered(tx, cfgId, part.sd);
      tx.eval(ASSEMBLE_PLAN, 6, this.keys.plan(cycleId), part.u, part.g, part.d, part.ds, this.keys.cycle(cycleId));
      if (quarantine) {
        const q: Omit<Quarantine, 'notification'> = {
          reason: 'TooManyDeletes',
          deleteCount,
          threshold: guard.threshold,
          cycleId,
          since: now,
        };
        const notification: Quarantine['notification'] = {
          status: cfg.notificationEmail ? 'pending' : 'none',
          attempts: 0,
          lastError: null,
          sentAt: null,
        };
        const stagedPreview = preview.map((e) => {
          const d = parseDeleteEntry(e);
          return { dn: d.dn, objectType: d.objectType };
        });
        tx.eval(
          ...Scripts.transitionArgs(this.keys.cycle(cycleId), this.keys.state(cfgId), ['complete'], {
            cycle: { ...cycleFields, phase: 'quarantined', completedAt: now, stagedPreview: JSON.stringify(stagedPreview) },
            state: { state: 'quarantined', quarantine: JSON.stringify(q), notification: JSON.stringify(notification) },
          }),
        );
      } else {
        tx.eval(
          ...Scripts.transitionArgs(this.keys.cycle(cycleId), this.keys.state(cfgId), ['complete'], {
            cycle: { ...cycleFields, phase: 'applying' },
          }),
        );
      }
      const results = await tx.exec();
      throwOnError(results);
      const moved = results !== null && results[results.length - 1]?.[1] === 1;
      if (moved && quarantine) {
        this.metrics.cycles.inc({ outcome: 'quarantined' });
        this.metrics.stagedDeletes.inc(deleteCount);
        this.logger.warn(
          { configurationId: cfgId, cycleId, deleteCount, threshold: guard.threshold },
          'cycle quarantined: delete threshold exceeded',
        );
      } else if (moved) {
        this.logger.info({ configurationId: cfgId, cycleId, counts }, 'cycle evaluated');
      }
    } finally {
      // Gone already when the MULTI ran; left over when it did not (or this run failed).
      await this.redis.del(part.u, part.g, part.d, part.ds, part.sd);
    }
  }

  /** Renders a StagedDelete log bundle per chunk of a deletes list, into a list (with a TTL). */
  private async renderStagedDeletes(
    cycleId: string,
    deletesKey: string,
    bundlesKey: string,
    details: string,
    at: string,
  ): Promise<void> {
    for (let offset = 0; ; offset += BUNDLE_SIZE) {
      const entries = await this.redis.lrange(deletesKey, offset, offset + BUNDLE_SIZE - 1);
      if (entries.length === 0) return;
      const bundle = renderBundle(
        cycleId,
        at,
        entries.map((e) => {
          const d = parseDeleteEntry(e);
          return {
            action: 'StagedDelete' as const,
            status: 'staged' as const,
            objectType: d.objectType,
            objectId: d.objectId,
            dn: d.dn,
            details,
          };
        }),
      );
      throwOnError(await this.redis.pipeline().rpush(bundlesKey, bundle).pexpire(bundlesKey, PART_TTL_MS).exec());
      if (entries.length < BUNDLE_SIZE) return;
    }
  }

  private async apply(cycleId: string, c: CycleFields): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const cycleKey = this.keys.cycle(cycleId);
    const planKey = this.keys.plan(cycleId);
    // WATCH needs a connection of its own: other jobs share the main one.
    const conn = this.redis.duplicate();
    const batches = new Map<number, StoredBatch>();
    // A target that only queues its writes on the transaction (the cloud directory) is
    // run ahead: the next chunk's writes are worked out while the current chunk commits,
    // recorded, and queued on that chunk's MULTI when its turn comes. Plan entries name
    // distinct objects, so what a chunk reads is not what the chunk before writes.
    const ahead = this.target.deferredWrites === true;
    const prepare = async (offset: number): Promise<PreparedChunk> => {
      const entries = await this.redis.lrange(planKey, offset, offset + this.chunkSize - 1);
      const chunk: PreparedChunk = {
        offset,
        ops: await this.operations(cycleId, entries, batches),
        calls: [],
        results: [],
      };
      if (ahead) await this.render(cycleId, cfgId, chunk, recorder(chunk.calls));
      return chunk;
    };
    // The next chunk is read, decoded (and rendered) while the current one commits.
    const pending: { next: Promise<PreparedChunk> | null } = { next: null };
    try {
      for (;;) {
        // Sent together: the connection runs WATCH before the read, one round trip for both.
        const [, [phase, appliedRaw, sizeRaw]] = await Promise.all([
          conn.watch(cycleKey),
          conn.hmget(cycleKey, 'phase', 'applied', 'planSize'),
        ]);
        const applied = Number(appliedRaw ?? 0);
        const size = Number(sizeRaw ?? 0);
        if (phase !== 'applying' || applied >= size) {
          await conn.unwatch();
          await pending.next?.catch(() => undefined);
          return;
        }
        let prepared: PreparedChunk | null = pending.next ? await pending.next : null;
        if (prepared?.offset !== applied) prepared = await prepare(applied);
        const chunk = prepared;
        // A plan shorter than its planSize would otherwise be "applied" forever without progress.
        if (chunk.ops.length === 0) throw new Error(`the plan of cycle ${cycleId} ends at ${applied}, before its size ${size}`);
        pending.next = applied + chunk.ops.length < size ? prepare(applied + chunk.ops.length) : null;
        pending.next?.catch(() => undefined); // awaited (and its error surfaced) in the next round
        const tx = conn.multi();
        if (ahead) replay(chunk.calls, tx);
        else await this.render(cycleId, cfgId, chunk, tx);
        tx.hset(cycleKey, 'applied', applied + chunk.ops.length);
        const done = await tx.exec();
        if (done === null) {
          // Someone else moved the cycle on: read again, and work out what was run ahead afresh.
          await pending.next?.catch(() => undefined);
          pending.next = null;
          continue;
        }
        // Redis runs every command of a MULTI even when one fails, and the chunk is marked
        // applied: a failed write (a key of the wrong type, say) must not pass unseen.
        const failed = done.filter(([error]) => error !== null);
        if (failed.length > 0) {
          this.logger.error(
            { cycleId, chunk: applied, errors: failed.map(([error]) => error?.message) },
            'writes of an apply chunk failed',
          );
          throw new Error(`writes of the apply chunk at ${applied} of cycle ${cycleId} failed: ${failed[0]![0]!.message}`);
        }
        if (this.stepDelayMs > 0) await new Promise((r) => setTimeout(r, this.stepDelayMs));
        const counted = new Map<string, number>();
        chunk.ops.forEach((op, i) => {
          const key = `${op.kind}/${chunk.results[i]?.ok ? 'success' : 'failure'}`;
          counted.set(key, (counted.get(key) ?? 0) + 1);
        });
        for (const [key, n] of counted) {
          const [kind, status] = key.split('/');
          this.metrics.changesApplied.inc({ kind, status }, n);
        }
      }
    } finally {
      conn.disconnect();
    }
  }

  /** Queues a chunk's target writes, index updates and provisioning-log entries on `tx`. */
  private async render(cycleId: string, cfgId: string, chunk: PreparedChunk, tx: ChainableCommander): Promise<void> {
    const ops = chunk.ops;
    const results = await this.target.apply(cfgId, ops, tx);
    chunk.results = results;
    const now = new Date().toISOString();
    const indexSet: string[] = [];
    const indexDel: string[] = [];
    const logEntries: NewLogEntry[] = new Array<NewLogEntry>(ops.length);
    ops.forEach((op, i) => {
      const result = results[i] ?? { ok: false, details: 'no result from the target' };
      if (result.ok) {
        if (op.kind === 'delete') indexDel.push(op.objectId);
        else indexSet.push(op.objectId, op.hash ?? '');
      }
      logEntries[i] = {
        cycleId,
        action: (op.kind === 'create' ? 'Create' : op.kind === 'update' ? 'Update' : 'Delete') as ProvisioningAction,
        status: result.ok ? 'success' : 'failure',
        objectType: op.objectType,
        objectId: op.objectId,
        dn: op.dn,
        details: result.details,
      };
    });
    this.plog.addMany(tx, cfgId, logEntries, now);
    if (indexDel.length > 0) queueEncoded(tx, 'hdel', [this.keys.index(cfgId), ...indexDel]);
    if (indexSet.length > 0) queueEncoded(tx, 'hset', [this.keys.index(cfgId), ...indexSet]);
  }

  /** Turns plan entries into target operations, reading the batches they point into. */
  private async operations(
    cycleId: string,
    entries: string[],
    batches: Map<number, StoredBatch>,
  ): Promise<(TargetOperation & { hash?: string })[]> {
    // Each entry is `c|u <seq> <idx>` (a change of a batch) or `d <id> <type> <dn>`.
    const parsed = entries.map((e) => e.split('\t'));
    const needed = new Set<number>();
    for (const parts of parsed) if (parts[0] !== 'd') needed.add(Number(parts[1]));
    // Only the batches this chunk points into are kept (plan order follows batch order).
    for (const seq of batches.keys()) if (!needed.has(seq)) batches.delete(seq);
    const missing = [...needed].filter((s) => !batches.has(s));
    if (missing.length > 0) {
      const key = this.keys.batches(cycleId);
      const [changes, summaries] = await Promise.all([
        this.redis.hmgetBuffer(key, ...missing.map(String)),
        this.redis.hmget(key, ...missing.map(summaryField)),
      ]);
      missing.forEach((seq, i) => {
        const bytes = changes[i];
        if (!bytes) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        batches.set(seq, StoredBatch.decode(bytes, summaries[i] ?? null));
      });
    }
    return parsed.map((parts, i) => {
      if (parts[0] === 'd') {
        return { kind: 'delete', objectId: parts[1]!, objectType: parts[2] as ObjectTypeName, dn: parts.slice(3).join('\t') };
      }
      const stored = batches.get(Number(parts[1]))?.change(Number(parts[2]));
      if (stored === undefined) throw new Error(`plan entry ${entries[i]} of cycle ${cycleId} points nowhere`);
      return new PlannedChange(parts[0] === 'c' ? 'create' : 'update', stored);
    });
  }

  private async finalize(cycleId: string, c: CycleFields): Promise<boolean> {
    const cfgId = c.configurationId ?? '';
    const now = new Date().toISOString();
    const moved = await new Scripts(this.redis).transition(this.keys.cycle(cycleId), this.keys.state(cfgId), ['applying'], {
      cycle: { phase: 'applied', completedAt: now },
      state: { state: 'healthy', committedCycleId: cycleId, committedScope: c.scope ?? '' },
      stateDel: ['currentCycleId', 'quarantine', 'notification'],
    });
    if (!moved) return false;
    this.metrics.cycles.inc({ outcome: 'applied' });
    this.logger.info({ configurationId: cfgId, cycleId, released: c.released === '1' }, 'cycle applied');
    return true;
  }

  async cleanup(cycleId: string): Promise<void> {
    await this.redis.del(...this.keys.staged(cycleId));
  }
}

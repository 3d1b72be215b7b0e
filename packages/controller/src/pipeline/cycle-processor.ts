import { ChangeKind, CycleMode, ObjectType } from '@syncguard/protocol';
import type { ChainableCommander, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import type { CycleCounts, ObjectTypeName, ProvisioningAction, Quarantine } from '../model';
import type { Keys } from '../store/keys';
import { Scripts } from '../store/scripts';
import type { Target, TargetOperation, TargetResult } from '../targets/target';
import type { StoredConfiguration } from '../engine/configuration-validation';
import type { NewLogEntry, ProvisioningLog } from './provisioning-log';
import { decodeStoredChange, decodeSummaries, storedLines, summaryField } from './stored-batch';

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

/** What evaluation keeps of one change. */
interface ChangeSummary {
  seq: number;
  idx: number;
  kind: ChangeKind;
  objectType: ObjectType;
  dn: string;
  hash: string;
  disabled: boolean;
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

interface DeleteOp {
  objectId: string;
  objectType: ObjectTypeName;
  dn: string;
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
   * Reads the cycle's batches in sequence order, a few at a time, keeping only what
   * evaluation needs of each change (not its attributes), so that memory stays small.
   */
  private async readSummaries(cycleId: string, cycleFields: CycleFields): Promise<Map<string, ChangeSummary>> {
    const latest = new Map<string, ChangeSummary>();
    const last = Number(cycleFields.acked ?? 0);
    for (let from = 1; from <= last; from += 8) {
      const seqs = Array.from({ length: Math.min(8, last - from + 1) }, (_, i) => from + i);
      const stored = await this.redis.hmget(this.keys.batches(cycleId), ...seqs.map(summaryField));
      stored.forEach((text, i) => {
        const seq = seqs[i]!;
        if (text === null) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        // The last change per object wins: an object listed twice keeps its latest view.
        decodeSummaries(text).forEach(([kind, objectType, objectId, dn, hash, disabled], idx) =>
          latest.set(objectId, { seq, idx, kind, objectType, dn, hash, disabled: disabled === 1 }),
        );
      });
    }
    return latest;
  }

  private async evaluate(cycleId: string, c: CycleFields): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const cfg = await this.hooks.loadConfiguration(cfgId);
    if (!cfg) return;
    // The plan is written under WATCH: should two runs of this job overlap (a stalled
    // worker that was not dead after all), only the first replaces the plan.
    const conn = this.redis.duplicate();
    try {
      await conn.watch(this.keys.cycle(cycleId));
      if ((await conn.hget(this.keys.cycle(cycleId), 'phase')) !== 'complete') return;
      await this.evaluateWatched(cycleId, c, cfg, conn);
    } finally {
      conn.disconnect();
    }
  }

  private async evaluateWatched(cycleId: string, c: CycleFields, cfg: StoredConfiguration, conn: Redis): Promise<void> {
    const cfgId = cfg.id;
    const full = c.mode === 'full' || c.agentMode === String(CycleMode.CYCLE_MODE_FULL);
    const countDisables = cfg.accidentalDeletes.countDisables;

    const latest = await this.readSummaries(cycleId, c);

    const index = new Map<string, string>();
    if (full) {
      let cursor = '0';
      do {
        const [next, kv] = await this.redis.hscan(this.keys.index(cfgId), cursor, 'COUNT', 2000);
        cursor = next;
        for (let i = 0; i + 1 < kv.length; i += 2) index.set(kv[i]!, kv[i + 1]!);
      } while (cursor !== '0');
    } else {
      const ids = [...latest.keys()];
      for (let i = 0; i < ids.length; i += 1000) {
        const part = ids.slice(i, i + 1000);
        const values = await this.redis.hmget(this.keys.index(cfgId), ...part);
        part.forEach((id, j) => {
          const v = values[j];
          if (v != null) index.set(id, v);
        });
      }
    }

    const userOps: string[] = [];
    const groupOps: string[] = [];
    const deletes: DeleteOp[] = [];
    const counts: CycleCounts = { create: 0, update: 0, delete: 0 };
    for (const [oid, change] of latest) {
      const ref = change;
      const known = index.get(oid);
      const inScope = change.kind !== ChangeKind.CHANGE_KIND_DELETE && !(countDisables && change.disabled);
      if (!inScope) {
        if (known !== undefined) deletes.push({ objectId: oid, objectType: typeName(change.objectType), dn: change.dn });
        continue;
      }
      const ops = change.objectType === ObjectType.OBJECT_TYPE_GROUP ? groupOps : userOps;
      if (known === undefined) {
        ops.push(`c\t${ref.seq}\t${ref.idx}`);
        counts.create += 1;
      } else if (known !== change.hash) {
        ops.push(`u\t${ref.seq}\t${ref.idx}`);
        counts.update += 1;
      }
    }
    if (full) {
      // FULL mode: whatever the target holds and the scan did not report is gone from scope.
      const missing = [...index.keys()].filter((id) => !latest.has(id));
      for (let i = 0; i < missing.length; i += 1000) {
        const part = missing.slice(i, i + 1000);
        const described = await this.target.describe(cfgId, part);
        part.forEach((id, j) => {
          const d = described[j];
          deletes.push({ objectId: id, objectType: d?.type ?? 'user', dn: d?.dn ?? '' });
        });
      }
    }
    counts.delete = deletes.length;
    const plan = [...userOps, ...groupOps, ...deletes.map((d) => `d\t${d.objectId}\t${d.objectType}\t${d.dn}`)];

    const guard = cfg.accidentalDeletes;
    const quarantine = guard.enabled && deletes.length >= guard.threshold && c.released !== '1';
    const now = new Date().toISOString();
    const tx = conn.multi();
    tx.del(this.keys.plan(cycleId));
    for (let i = 0; i < plan.length; i += 1000) tx.rpush(this.keys.plan(cycleId), ...plan.slice(i, i + 1000));
    const cycleFields = {
      planSize: plan.length,
      applied: 0,
      deleteCount: deletes.length,
      counts: JSON.stringify(counts),
      evaluatedMode: full ? 'full' : 'delta',
    };
    if (quarantine) {
      this.plog.addMany(
        tx,
        cfgId,
        deletes.map((d) => ({
          cycleId,
          action: 'StagedDelete' as const,
          status: 'staged' as const,
          objectType: d.objectType,
          objectId: d.objectId,
          dn: d.dn,
          details: `held back: ${deletes.length} deletes >= threshold ${guard.threshold}`,
        })),
        now,
      );
      const q: Omit<Quarantine, 'notification'> = {
        reason: 'TooManyDeletes',
        deleteCount: deletes.length,
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
      tx.eval(
        ...Scripts.transitionArgs(this.keys.cycle(cycleId), this.keys.state(cfgId), ['complete'], {
          cycle: {
            ...cycleFields,
            phase: 'quarantined',
            completedAt: now,
            stagedPreview: JSON.stringify(deletes.slice(0, 20).map((d) => ({ dn: d.dn, objectType: d.objectType }))),
          },
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
    const moved = results !== null && results[results.length - 1]?.[1] === 1;
    if (moved && quarantine) {
      this.metrics.cycles.inc({ outcome: 'quarantined' });
      this.metrics.stagedDeletes.inc(deletes.length);
      this.logger.warn(
        { configurationId: cfgId, cycleId, deleteCount: deletes.length, threshold: guard.threshold },
        'cycle quarantined: delete threshold exceeded',
      );
    } else if (moved) {
      this.logger.info({ configurationId: cfgId, cycleId, counts }, 'cycle evaluated');
    }
  }

  private async apply(cycleId: string, c: CycleFields): Promise<void> {
    const cfgId = c.configurationId ?? '';
    const cycleKey = this.keys.cycle(cycleId);
    const planKey = this.keys.plan(cycleId);
    // WATCH needs a connection of its own: other jobs share the main one.
    const conn = this.redis.duplicate();
    const batches = new Map<number, string[]>();
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
    if (indexDel.length > 0) tx.hdel(this.keys.index(cfgId), ...indexDel);
    if (indexSet.length > 0) tx.hset(this.keys.index(cfgId), ...indexSet);
  }

  /** Turns plan entries into target operations, decoding the batches they point into. */
  private async operations(
    cycleId: string,
    entries: string[],
    batches: Map<number, string[]>,
  ): Promise<(TargetOperation & { hash?: string })[]> {
    const needed = new Set<number>();
    for (const e of entries) {
      const parts = e.split('\t');
      if (parts[0] !== 'd') needed.add(Number(parts[1]));
    }
    // Only the batches this chunk points into are kept (plan order follows batch order).
    for (const seq of batches.keys()) if (!needed.has(seq)) batches.delete(seq);
    const missing = [...needed].filter((s) => !batches.has(s));
    if (missing.length > 0) {
      const stored = await this.redis.hmget(this.keys.batches(cycleId), ...missing.map(String));
      missing.forEach((seq, i) => {
        const text = stored[i];
        if (!text) throw new Error(`batch ${seq} of cycle ${cycleId} is missing`);
        batches.set(seq, storedLines(text));
      });
    }
    return entries.map((e) => {
      const parts = e.split('\t');
      if (parts[0] === 'd') {
        return { kind: 'delete', objectId: parts[1]!, objectType: parts[2] as ObjectTypeName, dn: parts.slice(3).join('\t') };
      }
      const line = batches.get(Number(parts[1]))?.[Number(parts[2])];
      if (line === undefined) throw new Error(`plan entry ${e} of cycle ${cycleId} points nowhere`);
      const { header, attributesJson, memberDnsJson } = decodeStoredChange(line);
      const [kind, objectType, objectId, dn, hash, disabled] = header;
      // A FULL-mode PRESENT carries no attributes: the target keeps what it has.
      const present = kind === ChangeKind.CHANGE_KIND_PRESENT;
      // Parsed only should a target read them; the cloud directory copies the JSON.
      let attributes: Record<string, string[]> | null | undefined = present ? null : undefined;
      let memberDns: string[] | undefined;
      return {
        kind: parts[0] === 'c' ? 'create' : 'update',
        objectId,
        objectType: typeName(objectType),
        dn,
        get attributes(): Record<string, string[]> | null {
          if (attributes === undefined) attributes = JSON.parse(attributesJson) as Record<string, string[]>;
          return attributes;
        },
        disabled: disabled === 1,
        get memberDns(): string[] {
          memberDns ??= JSON.parse(memberDnsJson) as string[];
          return memberDns;
        },
        json: present ? undefined : { attributes: attributesJson, memberDns: memberDnsJson },
        hash,
      };
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
    await this.redis.del(this.keys.batches(cycleId), this.keys.plan(cycleId));
  }
}

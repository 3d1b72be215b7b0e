import { AGENT_FEATURES, CycleErrorCode, type PreviewBatch, type PreviewComplete, type PreviewFailed } from '@syncguard/protocol';
import type { Logger } from 'pino';
import { applyConfigurationPatch } from '../configurations/configuration-validation';
import { newCycleId } from '../cycles/cycle-id';
import type { AuditTrail, ConfigurationReader } from '../cycles/cycle-records';
import { wireScope, type AgentPresence } from '../cycles/cycle-service';
import type { EvaluationRecords } from '../cycles/processing-records';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import { MAX_DN_CHARS, MAX_OBJECT_ID_CHARS } from '../gateway/agent-limits';
import { decide, type DeletePolicy, type TrippedRule } from '../guard/decide';
import { ProtectedMatcher } from '../guard/protected-objects';
import type { AccidentalDeleteSettings, Actor, Preview } from '../model';
import type { SecretBox } from '../secrets/secret-box';
import { decodeIndexEntry, indexHoldsHash } from '../store/index-entry';
import type { PreviewDelete, PreviewIncrements, PreviewRecords } from './preview-records';

/** Deletes a preview shows (`deletes.sample`). */
export const PREVIEW_SAMPLE_SIZE = 20;

/** What previews read of the pipeline's own records (the EvaluationStore answers it). */
export type PreviewReads = Pick<
  EvaluationRecords,
  | 'indexed'
  | 'scanIndex'
  | 'indexSize'
  | 'committedScope'
  | 'appliedDeletesSince'
  | 'lane'
  | 'heldByLane'
  | 'keptCount'
  | 'keptHolds'
>;

export interface PreviewServiceDeps {
  records: PreviewRecords;
  reads: PreviewReads;
  configs: ConfigurationReader;
  agents: AgentPresence & {
    exists(agentId: string): Promise<boolean>;
    /** The optional capabilities the agent listed in its last hello. */
    features(agentId: string): Promise<string[]>;
    /** The agent's current session key value (`{controllerId}/{sessionId}/...`), null when none. */
    session(agentId: string): Promise<string | null>;
  };
  /** The pre-approval that would cover a cycle's deletes now, without taking it. */
  approvals: { covering(configurationId: string, deletes: number, trippedBy: readonly TrippedRule[]): Promise<string | null> };
  link: AgentChannel;
  audit: AuditTrail;
  secrets: SecretBox | null;
  logger: Logger;
  /** A running preview silent this long (no batch, no completion) fails with TIMEOUT (the cycle timeout). */
  silenceMs: number;
}

const failure = (code: string, message: string) => ({ state: 'failed', error: JSON.stringify({ code, message }) });

function cycleErrorName(code: CycleErrorCode): string {
  return (CycleErrorCode as unknown as Record<number, string>)[code] ?? `CYCLE_ERROR_${code}`;
}

/**
 * Previews of a configuration change: the change's scope read from the real source by the
 * configuration's agent (StartPreview), diffed against the synced index as a cycle's
 * evaluation does, and weighed by the delete guard with the changed policy. Nothing is
 * applied, no cycle is started or queued, and the agent's cache does not move.
 *
 * Memory: a batch at a time; the ids seen are a set in Redis, so a preview of a million
 * objects holds no more in the controller than one of a hundred.
 *
 * The counts follow CycleProcessor.evaluateWatched for a FULL cycle of the same scope: an
 * object read is a create when the index lacks it and an update when its hash differs; a
 * delete is an index entry the read did not report, or (countDisables) one reported
 * disabled; objects the delete lane holds already count no more. Retry records add nothing
 * to a FULL cycle's counts (they are planned from the changes, or moot).
 */
export class PreviewService {
  constructor(private readonly deps: PreviewServiceDeps) {}

  /**
   * Starts a preview of `patch` (a configuration patch as for PATCH; `{}` previews the
   * configuration as it is). ValidationError naming the field of a bad patch, as PATCH;
   * ConflictError SG_ERR_NO_AGENT when no agent of the configuration is connected,
   * SG_ERR_AGENT_UNSUPPORTED when it does not read previews (an older agent).
   */
  async start(configurationId: string, patch: unknown, actor: Actor): Promise<{ previewId: string }> {
    const current = await this.deps.configs.get(configurationId);
    const next = applyConfigurationPatch(current, patch ?? {}, new Date().toISOString(), this.deps.secrets);
    for (const id of next.agentIds) {
      if (!(await this.deps.agents.exists(id))) throw new ValidationError('agentIds', `unknown agent ${id}`);
    }
    // The configuration's active agent as it is (not as the patch would name them): choosing
    // one may claim the active-agent key, which a preview must not move for the cycles.
    const agentId = await this.deps.agents.activeAgent(current);
    if (!agentId) throw new ConflictError('SG_ERR_NO_AGENT', `no agent serving configuration ${configurationId} is connected`);
    if (!(await this.deps.agents.features(agentId)).includes(AGENT_FEATURES.preview))
      throw new ConflictError(
        'SG_ERR_AGENT_UNSUPPORTED',
        `agent ${agentId} does not read previews (an older version): upgrade it to preview changes`,
      );
    const [session, lane, kept] = await Promise.all([
      this.deps.agents.session(agentId),
      this.deps.reads.lane(configurationId),
      this.deps.reads.keptCount(configurationId),
    ]);
    const previewId = newCycleId(configurationId);
    const now = Date.now();
    await this.deps.records.create(previewId, {
      configurationId,
      agentId,
      session: session ?? '',
      state: 'running',
      startedAt: new Date(now).toISOString(),
      lastFrameAt: String(now),
      acked: '0',
      objects: '0',
      scope: JSON.stringify(next.source),
      policy: JSON.stringify(next.accidentalDeletes),
      laneHeld: String(lane.held),
      kept: String(kept),
    });
    await this.deps.link.send(agentId, {
      type: 'startPreview',
      value: { configurationId, previewId, scope: wireScope(next.source) },
    });
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'configuration.preview',
      target: { type: 'configuration', id: configurationId },
      details: { previewId, changed: Object.keys((patch ?? {}) as object) },
    });
    this.deps.logger.info({ configurationId, previewId, agentId }, 'preview started');
    return { previewId };
  }

  /** A preview's state and, once complete, its result. NotFoundError for an unknown (or expired) preview. */
  async read(configurationId: string, previewId: string): Promise<Preview> {
    await this.deps.configs.get(configurationId);
    let rec = await this.deps.records.read(previewId);
    if (!rec || rec.configurationId !== configurationId) throw new NotFoundError('preview', previewId);
    if (rec.state === 'running') {
      const why = await this.stalled(rec);
      if (why && (await this.deps.records.finish(previewId, { ...failure(why.code, why.message), completedAt: iso() }))) {
        this.deps.logger.warn({ configurationId, previewId, ...why }, 'preview failed');
      }
      if (why) rec = (await this.deps.records.read(previewId)) ?? rec;
    }
    return this.view(previewId, rec);
  }

  /** Why a running preview can no longer end, or null: its agent's session ended, or it is silent too long. */
  private async stalled(rec: Record<string, string>): Promise<{ code: string; message: string } | null> {
    if (Date.now() - Number(rec.lastFrameAt ?? 0) > this.deps.silenceMs)
      return { code: 'TIMEOUT', message: 'the agent sent nothing for this preview for too long' };
    if (rec.readComplete === '1') return null; // evaluating: the agent's part is done
    const agentId = rec.agentId ?? '';
    const [connected, session] = await Promise.all([this.deps.agents.isConnected(agentId), this.deps.agents.session(agentId)]);
    if (!connected || session !== rec.session)
      return { code: 'AGENT_DISCONNECTED', message: 'the agent disconnected before the preview was read; start it again' };
    return null;
  }

  private async view(previewId: string, rec: Record<string, string>): Promise<Preview> {
    const result = rec.result ? (JSON.parse(rec.result) as PreviewResult) : null;
    const policy = JSON.parse(rec.policy ?? '{}') as AccidentalDeleteSettings;
    return {
      previewId,
      configurationId: rec.configurationId ?? '',
      state: rec.state as Preview['state'],
      startedAt: rec.startedAt ?? '',
      completedAt: rec.completedAt ?? null,
      objects: Number(rec.objects ?? 0),
      counts: result?.counts ?? null,
      wouldQuarantine: result?.wouldQuarantine ?? null,
      trippedBy: result?.trippedBy ?? [],
      approvalId: result?.approvalId ?? null,
      deletes: result ? { total: result.counts.delete, sample: await this.deps.records.sample(previewId) } : null,
      notPreviewed: policy.enabled && policy.memberRemovals ? ['memberRemovals'] : [],
      error: rec.error ? (JSON.parse(rec.error) as { code: string; message: string }) : null,
    };
  }

  // ---------------------------------------------------------------- from the agent's session

  /**
   * A PreviewBatch from `agentId`: counted, and answered with the sequence acknowledged and
   * whether the agent should stop (the preview is not its, not running, or broke the order).
   */
  async batch(agentId: string, batch: PreviewBatch): Promise<{ ackedThrough: number; stop: boolean }> {
    const { previewId } = batch;
    const rec = await this.deps.records.read(previewId);
    if (!rec || rec.configurationId !== batch.configurationId || rec.agentId !== agentId || rec.state !== 'running')
      return { ackedThrough: batch.sequence, stop: true };
    const acked = Number(rec.acked ?? 0);
    if (batch.sequence <= acked) return { ackedThrough: acked, stop: false };
    if (batch.sequence !== acked + 1) {
      await this.fail(previewId, 'SEQUENCE_GAP', `expected preview batch ${acked + 1}, got ${batch.sequence}`);
      return { ackedThrough: acked, stop: true };
    }
    const tooLong = batch.objects.find((o) => o.objectId.length > MAX_OBJECT_ID_CHARS || o.dn.length > MAX_DN_CHARS);
    if (tooLong) {
      await this.fail(
        previewId,
        'LIMIT_EXCEEDED',
        `an object id or DN is longer than the controller takes: ${tooLong.dn.slice(0, 200)}`,
      );
      return { ackedThrough: acked, stop: true };
    }
    const cfgId = batch.configurationId;
    const policy = JSON.parse(rec.policy ?? '{}') as AccidentalDeleteSettings;
    // One report per object: an id listed twice in a batch (or in an earlier one) counts once.
    const first = new Map<string, PreviewBatch['objects'][number]>();
    for (const o of batch.objects) if (!first.has(o.objectId)) first.set(o.objectId, o);
    const ids = [...first.keys()];
    const [known, seen, laneHolds, keptHolds] = await Promise.all([
      this.deps.reads.indexed(cfgId, ids),
      this.deps.records.seen(previewId, ids),
      Number(rec.laneHeld ?? 0) > 0 ? this.deps.reads.heldByLane(cfgId, ids) : null,
      Number(rec.kept ?? 0) > 0 ? this.deps.reads.keptHolds(cfgId, ids) : null,
    ]);
    const counter = new DeleteCounter(policy);
    const inc = counter.increments;
    ids.forEach((id, i) => {
      if (seen[i]) return;
      const o = first.get(id)!;
      const was = known[i] ?? null;
      const inScope = !(policy.countDisables && o.disabled);
      // Held by the delete lane already: out of scope it stays held (not counted again).
      if (laneHolds?.[i] && !inScope) return;
      // A kept object (triage) out of scope trips nothing, as in a real cycle.
      if (keptHolds?.[i] && !inScope) return;
      if (!inScope) {
        if (was !== null) counter.add(id, was, 'disabled');
        return;
      }
      if (was === null) inc.create += 1;
      else if (!indexHoldsHash(was, Buffer.from(o.contentHash).toString('hex'))) inc.update += 1;
    });
    // The sample list keeps its first PREVIEW_SAMPLE_SIZE entries (LTRIM).
    await this.deps.records.addBatch(
      previewId,
      { sequence: batch.sequence, objectIds: ids, objects: batch.objects.length, increments: inc, sample: counter.sample },
      PREVIEW_SAMPLE_SIZE,
      Date.now(),
    );
    return { ackedThrough: batch.sequence, stop: false };
  }

  /** PreviewComplete: every batch counted, the index is compared and the guard asked (in the background). */
  async complete(agentId: string, message: PreviewComplete): Promise<void> {
    const { previewId } = message;
    const rec = await this.deps.records.read(previewId);
    if (!rec || rec.configurationId !== message.configurationId || rec.agentId !== agentId || rec.state !== 'running') return;
    if (Number(rec.acked ?? 0) !== message.lastSequence) {
      await this.fail(previewId, 'BATCHES_MISSING', `the agent sent ${message.lastSequence} batches, ${rec.acked ?? 0} arrived`);
      return;
    }
    if (!(await this.deps.records.setIfRunning(previewId, { readComplete: '1', lastFrameAt: String(Date.now()) }))) return;
    // Not on the session's frame chain: the agent's other frames (a cycle's batches) go on meanwhile.
    this.evaluate(previewId, rec).catch(async (error: unknown) => {
      this.deps.logger.error({ err: error, previewId }, 'preview evaluation failed');
      await this.fail(previewId, 'CONTROLLER_ERROR', 'the controller could not evaluate the preview').catch(() => undefined);
    });
  }

  /** PreviewFailed from the preview's agent: the read did not complete, so no deletes are counted. */
  async failed(agentId: string, message: PreviewFailed): Promise<void> {
    const rec = await this.deps.records.read(message.previewId);
    if (!rec || rec.configurationId !== message.configurationId || rec.agentId !== agentId) return;
    await this.fail(message.previewId, cycleErrorName(message.code), message.message.slice(0, 2000));
  }

  private async fail(previewId: string, code: string, message: string): Promise<void> {
    if (await this.deps.records.finish(previewId, { ...failure(code, message), completedAt: iso() }))
      this.deps.logger.warn({ previewId, code, message }, 'preview failed');
  }

  private async scopeChanged(cfgId: string, scope: string): Promise<boolean> {
    const committed = await this.deps.reads.committedScope(cfgId);
    return committed !== null && scope !== committed;
  }

  /**
   * After a complete read: the index entries the read did not report are deletes (as a FULL
   * cycle finds them), then the delete guard decides with the previewed policy.
   */
  private async evaluate(previewId: string, rec: Record<string, string>): Promise<void> {
    const cfgId = rec.configurationId ?? '';
    const reads = this.deps.reads;
    const policy = JSON.parse(rec.policy ?? '{}') as AccidentalDeleteSettings;
    const [indexed, lane, scopeChanged, kept] = await Promise.all([
      reads.indexSize(cfgId),
      reads.lane(cfgId),
      this.scopeChanged(cfgId, rec.scope ?? ''),
      reads.keptCount(cfgId),
    ]);
    const counter = new DeleteCounter(policy);
    const scanned = { user: 0, group: 0 };
    let room = PREVIEW_SAMPLE_SIZE - (await this.deps.records.sample(previewId)).length;
    let cursor = '0';
    if (indexed > 0) {
      do {
        const [next, kv] = await reads.scanIndex(cfgId, cursor);
        cursor = next;
        const held = new Map<string, string>();
        for (let i = 0; i + 1 < kv.length; i += 2) held.set(kv[i]!, kv[i + 1]!);
        const ids = [...held.keys()];
        if (ids.length === 0) continue;
        const seen = await this.deps.records.seen(previewId, ids);
        // HSCAN may return an id twice: a delete counts once (its id joins the seen set below).
        let missing = ids.filter((_, i) => !seen[i]);
        if (lane.held > 0 && missing.length > 0) {
          const holds = await reads.heldByLane(cfgId, missing);
          missing = missing.filter((_, i) => !holds[i]);
        }
        if (kept > 0 && missing.length > 0) {
          // A kept object is missing from every full read while out of scope: never a delete.
          const isKept = await reads.keptHolds(cfgId, missing);
          missing = missing.filter((_, i) => !isKept[i]);
        }
        for (const id of missing) counter.add(id, held.get(id)!, scopeChanged ? 'scopeChanged' : 'unknown');
        await this.deps.records.markSeen(previewId, missing);
        const fresh = counter.sample.splice(0);
        if (room > 0 && fresh.length > 0) {
          await this.deps.records.addSample(previewId, fresh.slice(0, room), PREVIEW_SAMPLE_SIZE);
          room -= Math.min(room, fresh.length);
        }
        for (const v of held.values()) scanned[v[v.indexOf('\t') + 1] === 'g' ? 'group' : 'user'] += 1;
      } while (cursor !== '0');
    }
    const now = await this.deps.records.read(previewId);
    if (!now || now.state !== 'running') return;
    const n = (field: string) => Number(now[field] ?? 0);
    const deletes = n('delete') + counter.increments.delete;
    const deletesByType = {
      user: n('deleteUser') + counter.increments.deleteUser,
      group: n('deleteGroup') + counter.increments.deleteGroup,
    };
    const nowMs = Date.now();
    const applied =
      policy.enabled && policy.window && deletes > 0
        ? await reads.appliedDeletesSince(cfgId, nowMs - policy.window.hours * 3600 * 1000)
        : [];
    const verdict = decide(
      {
        deletes,
        deletesByType,
        heldByType: scanned,
        held: indexed,
        protectedDeletes: n('protectedDeletes') + counter.increments.protectedDeletes,
        memberRemovals: 0,
      },
      policy as DeletePolicy,
      { released: false, now: nowMs, applied },
    );
    const approvalId = verdict.quarantine ? await this.deps.approvals.covering(cfgId, deletes, verdict.trippedBy) : null;
    const result: PreviewResult = {
      counts: { create: n('create'), update: n('update'), delete: deletes },
      wouldQuarantine: verdict.quarantine && approvalId === null,
      trippedBy: [...verdict.trippedBy],
      approvalId,
    };
    if (await this.deps.records.finish(previewId, { state: 'complete', result: JSON.stringify(result), completedAt: iso() })) {
      this.deps.logger.info({ configurationId: cfgId, previewId, ...result }, 'preview complete');
    }
  }
}

interface PreviewResult {
  counts: { create: number; update: number; delete: number };
  wouldQuarantine: boolean;
  trippedBy: TrippedRule[];
  approvalId: string | null;
}

/** Counts deletes as the guard weighs them (per type, protected) and keeps the first few. */
class DeleteCounter {
  readonly increments: PreviewIncrements = {
    create: 0,
    update: 0,
    delete: 0,
    deleteUser: 0,
    deleteGroup: 0,
    protectedDeletes: 0,
  };
  readonly sample: PreviewDelete[] = [];
  private readonly protection: ProtectedMatcher;

  constructor(policy: AccidentalDeleteSettings) {
    this.protection = new ProtectedMatcher(policy.enabled ? policy.protected : null);
  }

  /** A delete of the object the index holds as `indexed`. */
  add(objectId: string, indexed: string, cause: PreviewDelete['cause']): void {
    const held = decodeIndexEntry(indexed);
    this.increments.delete += 1;
    if (held.objectType === 'group') this.increments.deleteGroup += 1;
    else this.increments.deleteUser += 1;
    if (!this.protection.empty && this.protection.matches(objectId, held.dn)) this.increments.protectedDeletes += 1;
    if (this.sample.length < PREVIEW_SAMPLE_SIZE) this.sample.push({ objectId, objectType: held.objectType, dn: held.dn, cause });
  }
}

function iso(): string {
  return new Date().toISOString();
}

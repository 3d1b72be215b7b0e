/**
 * Triage of a quarantine (issue 18): partial release, reject-deletes and kept objects.
 *
 * - **allow-deletes** with `objectIds` and/or `parentDns` applies exactly the chosen staged
 *   deletes; every other staged delete becomes a **kept object**. A parent DN chooses the
 *   staged deletes whose parent DN it is and those in its subtree (DNs compared lower-cased,
 *   spaces after commas dropped).
 * - **reject-deletes** (`{}`: all, or `objectIds`) makes the chosen deletes kept objects; once
 *   none is left staged, the rest of the quarantined cycle (creates, updates) is applied and
 *   the configuration is healthy (`hold: "deletes"`: the lane closes).
 * - A kept object stays in the target and in the synced index and trips nothing while it is
 *   out of scope: evaluation does not plan (or count) a delete of it, in DELTA and FULL
 *   cycles alike, and it leaves the kept set when a cycle sees it in scope again. It is
 *   deleted only by an explicit `kept-objects/delete` (a `release` cycle, audited).
 *
 * Every choice is one atomic script with the state move it causes (store/scripts.ts:
 * TRIAGE_CYCLE, TRIAGE_LANE, DELETE_KEPT), checked against the quarantine it was made on:
 * a controller that dies after it has either changed nothing or released exactly the chosen
 * deletes into a cycle in `applying`, which the next start recovers and applies once.
 */

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import { ConflictError, ControllerError, ValidationError } from '../errors';
import type { Actor, DeleteCauseName, Page, Quarantine, StagedDelete } from '../model';
import { limitOf } from '../page-limit';
import type { PipelineQueues } from '../pipeline/queues';
import { NO_EVENTS, outboxEvent, type CycleEvents, type OutboxEvent } from './cycle-events';
import { ENDED_PHASES, isCyclePhase } from './cycle-phase';
import type { AuditTrail, ConfigurationReader, CycleRecords } from './cycle-records';
import { parentDnOf, stagedDeleteOf, type StagedDeleteRecords } from './staged-deletes';

/** Ids an audit entry lists; a larger set is recorded as its count and SHA-256. */
export const AUDIT_ID_LIMIT = 100;
/** The most ids (or parent DNs) one triage call takes. */
export const MAX_SELECTION = 100_000;
/** Unknown ids an error message names. */
const NAMED_UNKNOWN = 10;
const READ_CHUNK = 5000;

/** What an admin chose, from a request body. */
export interface TriageSelection {
  readonly objectIds: readonly string[] | null;
  readonly parentDns: readonly string[] | null;
  readonly reason: string | null;
}

/** A kept object as GET .../kept-objects shows it. */
export interface KeptObject extends StagedDelete {
  keptAt: string;
  /** The cycle (or, with `hold: "deletes"`, the lane's first cycle) whose delete it was. */
  cycleId: string;
}

function stringList(body: Record<string, unknown>, field: string): string[] | null {
  const v = body[field];
  if (v === undefined) return null;
  if (!Array.isArray(v)) throw new ValidationError(field, 'must be an array of strings');
  if (v.length === 0) throw new ValidationError(field, 'must name at least one (send {} for all)');
  if (v.length > MAX_SELECTION) throw new ValidationError(field, `must name at most ${MAX_SELECTION}`);
  for (const [i, x] of v.entries())
    if (typeof x !== 'string' || x.length === 0 || x.length > 4096)
      throw new ValidationError(`${field}[${i}]`, 'must be a non-empty string of at most 4096 characters');
  return [...new Set(v as string[])];
}

/**
 * Reads a triage body: `{}`, `{objectIds}`, `{parentDns}` (where `parents` allows them) and an
 * optional `reason` (at most 1000 characters). Types are taken as sent: anything else is a 400.
 */
export function parseTriageBody(body: unknown, allowed: { parents: boolean; requireIds?: boolean }): TriageSelection {
  const b = body === undefined || body === null ? {} : body;
  if (typeof b !== 'object' || Array.isArray(b)) throw new ValidationError('body', 'must be a JSON object');
  const fields = ['objectIds', 'reason', ...(allowed.parents ? ['parentDns'] : [])];
  for (const k of Object.keys(b)) if (!fields.includes(k)) throw new ValidationError(k, 'is not a field of this call');
  const o = b as Record<string, unknown>;
  const reason = o.reason;
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 1000))
    throw new ValidationError('reason', 'must be a string of at most 1000 characters');
  const objectIds = stringList(o, 'objectIds');
  const parentDns = allowed.parents ? stringList(o, 'parentDns') : null;
  if (allowed.requireIds && !objectIds) throw new ValidationError('objectIds', 'is required');
  return { objectIds, parentDns, reason: typeof reason === 'string' && reason.length > 0 ? reason : null };
}

/** A DN compared the way triage compares them: lower-cased, spaces after commas dropped. */
export function normalizeDn(dn: string): string {
  return dn.trim().toLowerCase().replace(/,\s+/g, ',');
}

/** Whether `d` is chosen by the parent DN `parent` (normalized): its parent, or anywhere in its subtree. */
export function underParent(d: Pick<StagedDelete, 'dn'>, parent: string): boolean {
  const dn = normalizeDn(d.dn);
  return normalizeDn(parentDnOf(d.dn)) === parent || dn.endsWith(`,${parent}`);
}

/**
 * Matches a selection against staged deletes, fed a chunk at a time: the ids chosen, and
 * (once every delete was fed) the listed ids that are not staged and the parent DNs that
 * matched none.
 */
export class DeleteChooser {
  readonly chosen = new Set<string>();
  private readonly ids: Set<string>;
  private readonly parents: string[];
  private readonly idsSeen = new Set<string>();
  private readonly parentsHit = new Set<string>();

  constructor(selection: Pick<TriageSelection, 'objectIds' | 'parentDns'>) {
    this.ids = new Set(selection.objectIds ?? []);
    this.parents = [...new Set((selection.parentDns ?? []).map(normalizeDn))];
  }

  add(d: Pick<StagedDelete, 'objectId' | 'dn'>): void {
    if (this.ids.has(d.objectId)) {
      this.chosen.add(d.objectId);
      this.idsSeen.add(d.objectId);
    }
    for (const p of this.parents)
      if (underParent(d, p)) {
        this.chosen.add(d.objectId);
        this.parentsHit.add(p);
      }
  }

  unknownIds(): string[] {
    return [...this.ids].filter((id) => !this.idsSeen.has(id));
  }

  unmatchedParents(): string[] {
    return this.parents.filter((p) => !this.parentsHit.has(p));
  }
}

/** How an audit entry names a set of ids: the ids (sorted) up to AUDIT_ID_LIMIT, else their count and SHA-256. */
export function auditIds(ids: Iterable<string>): { objectIds: string[] } | { objectCount: number; objectIdsSha256: string } {
  const sorted = [...ids].sort();
  if (sorted.length <= AUDIT_ID_LIMIT) return { objectIds: sorted };
  return { objectCount: sorted.length, objectIdsSha256: selectionHash(sorted) };
}

/** SHA-256 (hex) of a set of ids: sorted, one a line. */
export function selectionHash(ids: Iterable<string>, kind = ''): string {
  const h = createHash('sha256');
  if (kind) h.update(`${kind}\n`);
  for (const id of [...ids].sort()) h.update(`${id}\n`);
  return h.digest('hex');
}

function unknownMessage(what: string, items: readonly string[]): string {
  const named = items.slice(0, NAMED_UNKNOWN).join(', ');
  return `${what}: ${named}${items.length > NAMED_UNKNOWN ? ` (and ${items.length - NAMED_UNKNOWN} more)` : ''}`;
}

// ---------------------------------------------------------------------------------- records

/** What the scripts answer (see store/scripts.ts). */
export type TriageCycleResult =
  | { outcome: 'done'; released: boolean; kept: number; left: number }
  | { outcome: 'changed' }
  | { outcome: 'unknown'; objectId: string };
export type TriageLaneResult =
  | { outcome: 'done'; released: number; kept: number; left: number }
  | { outcome: 'changed' | 'cycleRunning' }
  | { outcome: 'unknown'; objectId: string };
export type DeleteKeptResult =
  { outcome: 'done'; deletes: number } | { outcome: 'cycleRunning' | 'quarantined' } | { outcome: 'unknown'; objectId: string };

/** The triage's Redis side (store/triage-store.ts implements it). */
export interface TriageRecords {
  /** The quarantine exactly as stored (the version a choice is checked against), null when none. */
  storedQuarantine(configurationId: string): Promise<string | null>;
  /** TRIAGE_CYCLE: `apply` keeps the listed deletes in the plan (the others kept), `keep` keeps the listed (none: all). */
  triageCycle(input: {
    configurationId: string;
    cycleId: string;
    storedQuarantine: string;
    mode: 'apply' | 'keep';
    objectIds: readonly string[];
    keptAt: string;
    quarantineAfter: string;
    by: string;
    /** Written to the outbox in the same step when the cycle is released (quarantine.released or .rejected). */
    event: OutboxEvent;
  }): Promise<TriageCycleResult>;
  /** TRIAGE_LANE: as triageCycle for the delete lane; `apply` makes release cycle `releaseCycleId`. */
  triageLane(input: {
    configurationId: string;
    laneCycleId: string;
    storedQuarantine: string;
    mode: 'apply' | 'keep';
    objectIds: readonly string[];
    keptAt: string;
    quarantineAfter: string;
    nextState: 'healthy' | 'pending';
    releaseCycleId: string;
    by: string;
    /** Written to the outbox in the same step when the lane closes (quarantine.released or .rejected). */
    event: OutboxEvent;
  }): Promise<TriageLaneResult>;
  /** DELETE_KEPT: a `release` cycle `cycleId` deleting the listed kept objects. */
  deleteKept(input: {
    configurationId: string;
    cycleId: string;
    objectIds: readonly string[];
    by: string;
  }): Promise<DeleteKeptResult>;
  /** Kept objects sorted by id, after `after` (exclusive), at most `count`: [id, stored record] pairs; and how many there are. */
  keptPage(configurationId: string, after: string | null, count: number): Promise<{ total: number; items: [string, string][] }>;
  /** For each id, whether it is a kept object. */
  keptHolds(configurationId: string, objectIds: readonly string[]): Promise<boolean[]>;
  /** Records an approval of a selection (`kind:hash`) by a token; answers how many different tokens approved it. */
  approveSelection(scope: { cycleId: string } | { configurationId: string }, selection: string, tokenId: string): Promise<number>;
  /** A field of a cycle's record. */
  cycleField(cycleId: string, field: string): Promise<string | null>;
}

/** Reads a stored kept record into the API's view (store/kept-record.ts is its codec). */
export type KeptDecoder = (stored: string) => { keptAt: string; cycleId: string; entry: string };

export interface TriageServiceDeps {
  records: TriageRecords;
  staged: StagedDeleteRecords;
  cycles: Pick<CycleRecords, 'quarantine' | 'stateFields' | 'phase' | 'errorMessage'>;
  configs: ConfigurationReader;
  audit: AuditTrail;
  queues: Pick<PipelineQueues, 'enqueueCycle'>;
  options: Pick<CompiledControllerOptions, 'releaseWaitMs'>;
  logger: Logger;
  decodeKept: KeptDecoder;
  newCycleId(configurationId: string): string;
  /** Where quarantine.released and quarantine.rejected are reported. */
  events?: CycleEvents;
}

export type PartialAllowResult =
  | { state: 'applied'; cycleId: string; deleted: number; kept: number }
  | { state: 'applying'; cycleId: string; deleteCount: number; kept: number }
  | { state: 'awaitingApproval'; cycleId: string; approvalsNeeded: number };

export interface RejectResult {
  /** The quarantined cycle (with `hold: "deletes"`, the lane's first cycle). */
  cycleId: string;
  /** Deletes made kept objects by this call. */
  kept: number;
  /** Staged deletes left (the quarantine goes on while some are). */
  left: number;
  /** `applied`/`applying`: the rest of the cycle; `healthy`: the lane closed; `quarantined`: deletes left. */
  state: 'applied' | 'applying' | 'healthy' | 'quarantined';
}

/** The admins' partial answers to a quarantine, and the kept objects (see the module's comment). */
export class TriageService {
  private readonly events: CycleEvents;

  constructor(private readonly deps: TriageServiceDeps) {
    this.events = deps.events ?? NO_EVENTS;
  }

  private async quarantineOf(id: string): Promise<{ q: Omit<Quarantine, 'notification'>; stored: string }> {
    const [q, stored] = await Promise.all([this.deps.cycles.quarantine(id), this.deps.records.storedQuarantine(id)]);
    if (!q || stored === null) throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${id} is not quarantined`);
    if (q.reason === 'TargetFailures')
      throw new ConflictError(
        'SG_ERR_TARGET_FAILURES',
        `configuration ${id} is quarantined because its target refused ${q.deleteCount} operations, not for deletes: fix the target, then restart it`,
      );
    return { q, stored };
  }

  /** Every staged delete of the quarantine, a chunk at a time. */
  private async eachStaged(id: string, q: Omit<Quarantine, 'notification'>, visit: (d: StagedDelete) => void): Promise<void> {
    for (let offset = 0; ; offset += READ_CHUNK) {
      const page =
        q.hold === 'deletes'
          ? await this.deps.staged.laneDeletes(id, offset, READ_CHUNK)
          : await this.deps.staged.deletes(q.cycleId, offset, READ_CHUNK);
      for (const e of page.entries) visit(stagedDeleteOf(e, 'unknown'));
      if (page.entries.length < READ_CHUNK) return;
    }
  }

  /** The staged deletes the selection chooses; 400 naming ids not staged and parent DNs that match none. */
  private async choose(id: string, q: Omit<Quarantine, 'notification'>, selection: TriageSelection): Promise<string[]> {
    const chooser = new DeleteChooser(selection);
    await this.eachStaged(id, q, (d) => chooser.add(d));
    const unknown = chooser.unknownIds();
    if (unknown.length > 0)
      throw new ValidationError('objectIds', unknownMessage('not staged deletes of this quarantine', unknown));
    const unmatched = chooser.unmatchedParents();
    if (unmatched.length > 0)
      throw new ValidationError('parentDns', unknownMessage('match no staged delete of this quarantine', unmatched));
    return [...chooser.chosen];
  }

  /**
   * With `approvals: 2`, records this token's approval of exactly this choice; answers how many
   * more are needed (0: go ahead). Two admins must choose the same set.
   */
  private async approvalsNeeded(
    id: string,
    scope: { cycleId: string } | { configurationId: string },
    kind: string,
    ids: readonly string[],
    actor: Actor,
    details: Record<string, unknown>,
    action: string,
  ): Promise<number> {
    const cfg = await this.deps.configs.get(id);
    const needed = cfg.accidentalDeletes.approvals ?? 1;
    if (needed <= 1) return 0;
    const approvals = await this.deps.records.approveSelection(scope, selectionHash(ids, kind), actor.tokenId);
    if (approvals >= needed) return 0;
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action,
      target: { type: 'configuration', id },
      details: { ...details, approvals, approvalsNeeded: needed - approvals },
    });
    return needed - approvals;
  }

  /** allow-deletes with objectIds and/or parentDns: the chosen deletes applied, the others kept. */
  async allowSome(id: string, selection: TriageSelection, actor: Actor): Promise<PartialAllowResult> {
    await this.deps.configs.get(id);
    const { q, stored } = await this.quarantineOf(id);
    const chosen = await this.choose(id, q, selection);
    const base = {
      cycleId: q.cycleId,
      hold: q.hold,
      ...(selection.parentDns ? { parentDns: selection.parentDns } : {}),
      ...auditIds(chosen),
      reason: selection.reason,
    };
    const waiting = await this.approvalsNeeded(id, { cycleId: q.cycleId }, 'allow', chosen, actor, base, 'allow-deletes.approve');
    if (waiting > 0) return { state: 'awaitingApproval', cycleId: q.cycleId, approvalsNeeded: waiting };
    const now = new Date().toISOString();
    // Written to the outbox by the same script that releases (crash-safe), dispatched after it.
    const event = outboxEvent(
      { event: 'quarantine.released', configurationId: id, cycleId: q.cycleId, quarantine: q, actor: actor.name },
      now,
    );
    let cycleId = q.cycleId;
    let kept: number;
    let deleteCount: number;
    if (q.hold === 'deletes') {
      cycleId = this.deps.newCycleId(id);
      const r = await this.laneStep(id, () =>
        this.deps.records.triageLane({
          configurationId: id,
          laneCycleId: q.cycleId,
          storedQuarantine: stored,
          mode: 'apply',
          objectIds: chosen,
          keptAt: now,
          quarantineAfter: stored,
          nextState: 'healthy',
          releaseCycleId: cycleId,
          by: actor.name,
          event,
        }),
      );
      kept = r.kept;
      deleteCount = r.released;
    } else {
      const r = await this.deps.records.triageCycle({
        configurationId: id,
        cycleId: q.cycleId,
        storedQuarantine: stored,
        mode: 'apply',
        objectIds: chosen,
        keptAt: now,
        quarantineAfter: stored,
        by: actor.name,
        event,
      });
      if (r.outcome === 'unknown')
        throw new ValidationError('objectIds', unknownMessage('not staged deletes of this quarantine', [r.objectId]));
      if (r.outcome !== 'done') throw this.changed(id);
      kept = r.kept;
      deleteCount = chosen.length;
    }
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'allow-deletes',
      target: { type: 'configuration', id },
      details: { ...base, cycleId, ...(cycleId !== q.cycleId ? { laneCycleId: q.cycleId } : {}), deleteCount, kept },
    });
    this.deps.logger.warn(
      { configurationId: id, cycleId, deleteCount, kept, by: actor.name },
      'chosen deletes allowed, the others kept',
    );
    await this.events.dispatch(id);
    await this.deps.queues.enqueueCycle(cycleId, 'release');
    const phase = await this.waitForEnd(cycleId);
    if (phase === 'applied') {
      const applied = Number((await this.deps.records.cycleField(cycleId, 'deletesApplied')) ?? 0);
      return { state: 'applied', cycleId, deleted: applied, kept };
    }
    if (phase === 'failed' || phase === 'discarded') throw await this.applyFailed(cycleId);
    return { state: 'applying', cycleId, deleteCount, kept };
  }

  /** reject-deletes: the chosen (or all) staged deletes become kept objects. */
  async reject(id: string, selection: TriageSelection, actor: Actor): Promise<RejectResult> {
    await this.deps.configs.get(id);
    const { q, stored } = await this.quarantineOf(id);
    const chosen = selection.objectIds ? await this.choose(id, q, selection) : null;
    const count = chosen?.length ?? q.deleteCount;
    const left = q.deleteCount - count;
    const quarantineAfter = JSON.stringify({ ...JSON.parse(stored), deleteCount: Math.max(left, 0) });
    const now = new Date().toISOString();
    // Written by the script only when no delete is left staged (the quarantine ends), dispatched after it.
    const event = outboxEvent(
      { event: 'quarantine.rejected', configurationId: id, cycleId: q.cycleId, quarantine: q, actor: actor.name },
      now,
    );
    let result: RejectResult;
    if (q.hold === 'deletes') {
      const st = await this.deps.cycles.stateFields(id);
      const r = await this.laneStep(id, () =>
        this.deps.records.triageLane({
          configurationId: id,
          laneCycleId: q.cycleId,
          storedQuarantine: stored,
          mode: 'keep',
          objectIds: chosen ?? [],
          keptAt: now,
          quarantineAfter,
          nextState: st.committedCycleId ? 'healthy' : 'pending',
          releaseCycleId: '',
          by: actor.name,
          event,
        }),
      );
      result = { cycleId: q.cycleId, kept: r.kept, left: r.left, state: r.left > 0 ? 'quarantined' : 'healthy' };
    } else {
      const r = await this.deps.records.triageCycle({
        configurationId: id,
        cycleId: q.cycleId,
        storedQuarantine: stored,
        mode: 'keep',
        objectIds: chosen ?? [],
        keptAt: now,
        quarantineAfter,
        by: actor.name,
        event,
      });
      if (r.outcome === 'unknown')
        throw new ValidationError('objectIds', unknownMessage('not staged deletes of this quarantine', [r.objectId]));
      if (r.outcome !== 'done') throw this.changed(id);
      result = { cycleId: q.cycleId, kept: r.kept, left: r.left, state: r.released ? 'applying' : 'quarantined' };
    }
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'reject-deletes',
      target: { type: 'configuration', id },
      details: {
        cycleId: q.cycleId,
        hold: q.hold,
        ...(chosen ? auditIds(chosen) : { all: true, objectCount: result.kept }),
        kept: result.kept,
        left: result.left,
        reason: selection.reason,
      },
    });
    this.deps.logger.warn(
      { configurationId: id, cycleId: q.cycleId, kept: result.kept, left: result.left, by: actor.name },
      'deletes rejected: kept',
    );
    if (result.state !== 'quarantined') await this.events.dispatch(id);
    if (result.state === 'applying') {
      await this.deps.queues.enqueueCycle(q.cycleId, 'release');
      const phase = await this.waitForEnd(q.cycleId);
      if (phase === 'applied') result.state = 'applied';
      else if (phase === 'failed' || phase === 'discarded') throw await this.applyFailed(q.cycleId);
    }
    return result;
  }

  /** GET .../kept-objects: a page, sorted by object id; the cursor is the last id of the page before. */
  async listKept(id: string, query: { limit?: number; cursor?: string }): Promise<Page<KeptObject> & { total: number }> {
    await this.deps.configs.get(id);
    const limit = limitOf(query.limit, 100);
    const page = await this.deps.records.keptPage(id, query.cursor ?? null, limit + 1);
    const items = page.items.slice(0, limit).map(([objectId, stored]): KeptObject => {
      const r = this.deps.decodeKept(stored);
      return { ...stagedDeleteOf(r.entry, 'unknown' as DeleteCauseName), objectId, keptAt: r.keptAt, cycleId: r.cycleId };
    });
    const nextCursor = page.items.length > limit ? (items[items.length - 1]?.objectId ?? null) : null;
    return { items, nextCursor, total: page.total };
  }

  /** POST .../kept-objects/delete: deletes the listed kept objects from the target, audited. */
  async deleteKept(
    id: string,
    selection: TriageSelection,
    actor: Actor,
  ): Promise<
    | { state: 'applied'; cycleId: string; deleted: number }
    | { state: 'applying'; cycleId: string; deleteCount: number }
    | { state: 'awaitingApproval'; cycleId: null; approvalsNeeded: number }
  > {
    await this.deps.configs.get(id);
    const ids = selection.objectIds ?? [];
    const holds = await this.keptHolds(id, ids);
    const unknown = ids.filter((_, i) => !holds[i]);
    if (unknown.length > 0)
      throw new ValidationError('objectIds', unknownMessage('not kept objects of this configuration', unknown));
    const details = { ...auditIds(ids), reason: selection.reason };
    const waiting = await this.approvalsNeeded(
      id,
      { configurationId: id },
      'kept-delete',
      ids,
      actor,
      details,
      'kept-objects.delete.approve',
    );
    if (waiting > 0) return { state: 'awaitingApproval', cycleId: null, approvalsNeeded: waiting };
    const cycleId = this.deps.newCycleId(id);
    const deadline = Date.now() + this.deps.options.releaseWaitMs;
    let r: DeleteKeptResult;
    for (;;) {
      r = await this.deps.records.deleteKept({ configurationId: id, cycleId, objectIds: ids, by: actor.name });
      if (r.outcome !== 'cycleRunning' || Date.now() >= deadline) break;
      await sleep(100);
    }
    if (r.outcome === 'unknown')
      throw new ValidationError('objectIds', unknownMessage('not kept objects of this configuration', [r.objectId]));
    if (r.outcome === 'quarantined')
      throw new ConflictError(
        'SG_ERR_QUARANTINED',
        `configuration ${id} is quarantined: allow, reject or restart its quarantine before deleting kept objects`,
      );
    if (r.outcome !== 'done')
      throw new ConflictError(
        'SG_ERR_CYCLE_RUNNING',
        `a cycle of configuration ${id} is running; kept objects are deleted between cycles: try again when it ended`,
      );
    const deletes = r.deletes;
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'kept-objects.delete',
      target: { type: 'configuration', id },
      details: { ...details, cycleId, deleteCount: deletes },
    });
    this.deps.logger.warn({ configurationId: id, cycleId, deleteCount: deletes, by: actor.name }, 'kept objects deleted');
    await this.deps.queues.enqueueCycle(cycleId, 'release');
    const phase = await this.waitForEnd(cycleId);
    if (phase === 'applied') {
      const applied = Number((await this.deps.records.cycleField(cycleId, 'deletesApplied')) ?? 0);
      return { state: 'applied', cycleId, deleted: applied };
    }
    if (phase === 'failed' || phase === 'discarded') throw await this.applyFailed(cycleId);
    return { state: 'applying', cycleId, deleteCount: deletes };
  }

  private async keptHolds(id: string, ids: readonly string[]): Promise<boolean[]> {
    const out: boolean[] = [];
    for (let i = 0; i < ids.length; i += READ_CHUNK)
      out.push(...(await this.deps.records.keptHolds(id, ids.slice(i, i + READ_CHUNK))));
    return out;
  }

  /** Runs a lane step until no cycle is current (at most releaseWaitMs); 409 otherwise, 400 for an id no longer held. */
  private async laneStep(
    id: string,
    step: () => Promise<TriageLaneResult>,
  ): Promise<{ released: number; kept: number; left: number }> {
    const deadline = Date.now() + this.deps.options.releaseWaitMs;
    for (;;) {
      const r = await step();
      if (r.outcome === 'done') return r;
      if (r.outcome === 'unknown')
        throw new ValidationError('objectIds', unknownMessage('not staged deletes of this quarantine', [r.objectId]));
      if (r.outcome === 'changed') throw this.changed(id);
      if (Date.now() >= deadline)
        throw new ConflictError(
          'SG_ERR_CYCLE_RUNNING',
          `a cycle of configuration ${id} is running; the delete lane is changed only between cycles: try again when it ended`,
        );
      await sleep(100);
    }
  }

  private changed(id: string): ConflictError {
    return new ConflictError(
      'SG_ERR_NOT_QUARANTINED',
      `the quarantine of configuration ${id} changed meanwhile (released, restarted, triaged or grown by a cycle): read the staged deletes again`,
    );
  }

  private async applyFailed(cycleId: string): Promise<ControllerError> {
    const reason = await this.deps.cycles.errorMessage(cycleId);
    return new ControllerError(
      'SG_ERR_APPLY_FAILED',
      `the chosen deletes were released into cycle ${cycleId}, but applying it failed${reason ? `: ${reason}` : ''}`,
      { status: 500 },
    );
  }

  private async waitForEnd(cycleId: string): Promise<string | null> {
    const deadline = Date.now() + this.deps.options.releaseWaitMs;
    for (;;) {
      const phase = await this.deps.cycles.phase(cycleId);
      if (!isCyclePhase(phase) || ENDED_PHASES.includes(phase) || Date.now() >= deadline) return phase;
      await sleep(50);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

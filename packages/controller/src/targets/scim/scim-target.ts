import type { CloudObject, ObjectTypeName, Page, ScimMappingSettings } from '../../model';
import type { Target, TargetOperation, TargetOutcome, UnitOfWork } from '../target';
import { ScimTransientError, describeScimError, type ScimClient, type ScimResponse } from './scim-client';
import {
  ENTERPRISE_SCHEMA,
  GROUP_SCHEMA,
  PATCH_SCHEMA,
  USER_SCHEMA,
  diff,
  flatOf,
  literal,
  mapGroup,
  mapUser,
  memberPatches,
  resourceOf,
  scimPath,
  type Flat,
  type PatchOperation,
} from './scim-mapping';
import type { ScimRecord, ScimRecords } from './scim-records';

/** Settings of one SCIM target that the target itself reads. */
export interface ScimTargetOptions {
  deleteMode: 'delete' | 'deactivate';
  /** `patch` (the default): PatchOp with only what changed; `put`: the whole resource (providers without PATCH). */
  updateMethod?: 'patch' | 'put';
  mapping: ScimMappingSettings | null;
  failureQuarantinePercent: number;
  /** Most member values in one PATCH (or in a POST of a group). Default 500. */
  memberBatchSize?: number;
  /** Objects matched by one GET with an OR filter. Default 20. */
  matchBatchSize?: number;
}

type Upsert = Extract<TargetOperation, { kind: 'create' | 'update' }>;
type Delete = Extract<TargetOperation, { kind: 'delete' }>;
type Resource = Record<string, unknown> & { id: string };

/** A permanent refusal of one object (logged with the HTTP status, scimType and detail). */
class Refused extends Error {}

const endpoint = (type: ObjectTypeName) => (type === 'group' ? '/Groups' : '/Users');

function applied(details: string | null): TargetOutcome {
  return { status: 'applied', details };
}

/** What one chunk changes in the target's records, committed with the chunk. */
class ChunkWrites {
  readonly put = new Map<string, ScimRecord>();
  readonly removed: string[] = [];
  readonly staleDns: string[] = [];
  /** DNs of provisioned objects -> ids (this chunk's, and those looked up for members and managers). */
  readonly dns = new Map<string, string>();
  /** Objects that took a DN in this chunk (created, matched, renamed): groups listing it may be waiting for them. */
  readonly arrived: Array<{ op: number; id: string; dn: string }> = [];
  /** Objects that left a DN: renamed away (`newDn`), or gone from the provider (`newDn` null). */
  readonly departed: Array<{ op: number; id: string; dn: string; newDn: string | null; gone: boolean }> = [];
  readonly listedAdd: Array<[string, string]> = [];
  readonly listedRemove: Array<[string, string]> = [];
  readonly unsettledAdd = new Set<string>();
  readonly unsettledRemove = new Set<string>();

  constructor(private readonly opIndex: ReadonlyMap<string, number>) {}

  keep(op: TargetOperation, record: ScimRecord, before: ScimRecord | null): void {
    this.put.set(op.objectId, record);
    const dn = record.dn.toLowerCase();
    this.dns.set(dn, record.id);
    const i = this.opIndex.get(op.objectId) ?? -1;
    const renamed = before !== null && before.dn.toLowerCase() !== dn;
    if (renamed) {
      this.staleDns.push(before.dn);
      this.departed.push({ op: i, id: before.id, dn: before.dn.toLowerCase(), newDn: dn, gone: false });
    }
    if (!before || renamed || before.id !== record.id) this.arrived.push({ op: i, id: record.id, dn });
  }

  /** `gone`: the provider no longer holds the resource (deleted, or answered 404); false for a deactivated user. */
  forget(op: TargetOperation, before: ScimRecord | null, gone: boolean): void {
    this.put.delete(op.objectId);
    this.removed.push(op.objectId);
    if (!before) return;
    this.staleDns.push(before.dn);
    const i = this.opIndex.get(op.objectId) ?? -1;
    this.departed.push({ op: i, id: before.id, dn: before.dn.toLowerCase(), newDn: null, gone });
    if (before.type === 'group') {
      for (const d of before.memberDns ?? []) this.listedRemove.push([d, op.objectId]);
      this.unsettledRemove.add(op.objectId);
    }
  }
}

/** The outcome of an operation whose work threw. */
function outcomeOf(error: unknown, prefix = ''): TargetOutcome {
  if (error instanceof ScimTransientError)
    return {
      status: 'retry',
      reason: `${prefix}${error.message}`,
      ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    };
  if (error instanceof Refused) return { status: 'failed', reason: `${prefix}${error.message}` };
  return { status: 'failed', reason: `${prefix}unexpected: ${(error as Error).message}` };
}

/** What the members of one group waiting for this chunk's moves need. */
interface MemberFollowUp {
  /** Ids that took a DN the group lists. */
  add: Set<string>;
  /** Ids that left a DN the group lists: `gone` ones are dropped without a request (the provider dropped them). */
  leave: Map<string, { gone: boolean; newDn: string | null }>;
  /** Resolve every listed DN again (an unsettled group). */
  full: boolean;
  /** The operations whose moves these are (they answer for a failed request). */
  ops: Set<number>;
}

/** Members added plus members removed from `had` to `wanted`. */
function countChanges(had: readonly string[], wanted: readonly string[]): number {
  const before = new Set(had);
  const after = new Set(wanted);
  let n = 0;
  for (const id of after) if (!before.has(id)) n += 1;
  for (const id of before) if (!after.has(id)) n += 1;
  return n;
}

/** The minimum number of failed operations for `TargetFailures`, whatever the percentage. */
export const TARGET_FAILURES_MINIMUM = 50;

/**
 * A SCIM 2.0 service provider as a target. Per chunk: the records of what was provisioned
 * are read, objects without one are matched first (`externalId` or `userName` /
 * `displayName`, many per GET with an OR filter, one by one where the provider refuses OR),
 * then users are created or PATCHed with only what changed, then groups (members resolved
 * from the DNs of provisioned objects, in bounded PATCHes), then deletes (DELETE, or PATCH
 * `active: false` in `deactivate` mode). Every call is idempotent, so that a chunk repeated
 * after a crash converges: a create finds its earlier self by matching.
 */
export class ScimTarget implements Target {
  readonly kind = 'scim';
  readonly failureQuarantine: { percent: number; minimum: number };
  /** False once the provider refused an OR filter: match one object per GET from then on. */
  private orFilters = true;
  private readonly memberBatch: number;
  private readonly matchBatch: number;
  /** True for a provider without PATCH: every change is a PUT of the whole resource. */
  private readonly putOnly: boolean;

  constructor(
    readonly client: ScimClient,
    private readonly records: ScimRecords,
    private readonly options: ScimTargetOptions,
  ) {
    this.failureQuarantine = { percent: options.failureQuarantinePercent, minimum: TARGET_FAILURES_MINIMUM };
    this.memberBatch = options.memberBatchSize ?? 500;
    this.matchBatch = options.matchBatchSize ?? 20;
    this.putOnly = options.updateMethod === 'put';
  }

  async apply(cfg: string, operations: readonly TargetOperation[], unit: UnitOfWork): Promise<TargetOutcome[]> {
    const outcomes: TargetOutcome[] = new Array<TargetOutcome>(operations.length);
    const recs = await this.records.get(
      cfg,
      operations.map((op) => op.objectId),
    );
    const w = new ChunkWrites(new Map(operations.map((op, i) => [op.objectId, i])));
    const put = w.put;
    const chunkDns = w.dns;

    const run = async (i: number, work: () => Promise<TargetOutcome>) => {
      try {
        outcomes[i] = await work();
      } catch (error) {
        outcomes[i] = outcomeOf(error);
      }
    };

    const indexes = (pred: (op: TargetOperation) => boolean) =>
      operations.map((op, i) => (pred(op) ? i : -1)).filter((i) => i >= 0);
    const users = indexes((op) => op.kind !== 'delete' && op.objectType === 'user');
    const groups = indexes((op) => op.kind !== 'delete' && op.objectType === 'group');
    const deletes = indexes((op) => op.kind === 'delete');

    // Match what has no record (creates, updates of objects provisioned before the records, deletes).
    const matched = new Map<number, Resource | null>();
    const matchErrors = new Map<number, Error>();
    const unmatched = [...users, ...groups, ...deletes].filter((i) => recs[i] === null);
    // Nothing to match when the provider holds exactly the resources we provisioned (a new
    // application, or one only we write to): then an object without a record is not there.
    // A resource created meanwhile by someone else still answers the POST with 409, which matches.
    if (unmatched.length > 0 && (await this.onlyOurs(cfg))) for (const i of unmatched) matched.set(i, null);
    else
      for (const type of ['user', 'group'] as const) {
        const want = unmatched.filter((i) => operations[i]!.objectType === type);
        await this.matchMany(operations, want, type, matched, matchErrors);
      }
    const matchedOrThrow = (i: number): Resource | null => {
      const e = matchErrors.get(i);
      if (e) throw e;
      return matched.get(i) ?? null;
    };

    // Users, then the managers found in the chunk, then groups, then deletes.
    const managerDns = [
      ...new Set(
        users
          .map((i) => this.userOf(operations[i] as Upsert))
          .flatMap((m) => ('problem' in m || !m.managerDn ? [] : [m.managerDn.toLowerCase()])),
      ),
    ];
    const known = new Map<string, string>();
    const knownIds = await this.records.idsByDn(cfg, managerDns);
    managerDns.forEach((dn, i) => {
      if (knownIds[i]) known.set(dn, knownIds[i]!);
    });
    const lateManagers: Array<{ i: number; dn: string }> = [];
    await Promise.all(
      users.map((i) =>
        run(i, async () => {
          const op = operations[i] as Upsert;
          return this.upsertUser(
            op,
            recs[i] ?? null,
            () => matchedOrThrow(i),
            known,
            (dn) => lateManagers.push({ i, dn }),
            w,
          );
        }),
      ),
    );
    // Managers provisioned in this very chunk: set now that their ids are known.
    await Promise.all(
      lateManagers.map(({ i, dn }) =>
        run(i, async () => {
          const record = put.get(operations[i]!.objectId);
          const managerId = chunkDns.get(dn);
          if (!record || !managerId || outcomes[i]?.status !== 'applied') return outcomes[i]!;
          const path = scimPath('manager');
          const sent = { ...record.sent, [path]: { value: managerId } };
          const res = this.putOnly
            ? await this.replace('user', record.id, sent)
            : await this.patch('user', record.id, [{ op: 'replace', path, value: { value: managerId } }]);
          if (res.status >= 300) throw new Refused(`manager: ${describeScimError(res)}`);
          record.sent = sent;
          return outcomes[i]!;
        }),
      ),
    );

    const memberDns = [...new Set(groups.flatMap((i) => (operations[i] as Upsert).memberDns.map((d) => d.toLowerCase())))].filter(
      (d) => !chunkDns.has(d),
    );
    const memberIds = await this.records.idsByDn(cfg, memberDns);
    memberDns.forEach((dn, i) => {
      if (memberIds[i]) chunkDns.set(dn, memberIds[i]!);
    });
    await Promise.all(
      groups.map((i) =>
        run(i, async () => this.upsertGroup(operations[i] as Upsert, recs[i] ?? null, () => matchedOrThrow(i), w)),
      ),
    );
    await Promise.all(
      deletes.map((i) =>
        run(i, async () => {
          const op = operations[i] as Delete;
          const outcome = await this.remove(op, recs[i] ?? null, () => matchedOrThrow(i));
          w.forget(op, recs[i] ?? null, this.options.deleteMode === 'delete' || op.objectType === 'group');
          return outcome;
        }),
      ),
    );
    // Groups listing the DNs this chunk's objects took or left follow them.
    await this.followMembers(cfg, outcomes, w);
    // Records of objects whose last call failed for good are kept as they were (a 404 drops them: see upsert).
    const kept = new Set([...put.values()].map((r) => r.dn.toLowerCase()));
    this.records.write(unit, cfg, {
      put: [...put.entries()],
      remove: w.removed.filter((id) => !put.has(id)),
      staleDns: w.staleDns.filter((dn) => !kept.has(dn.toLowerCase())),
      listed: { add: w.listedAdd, remove: w.listedRemove },
      unsettled: {
        add: [...w.unsettledAdd],
        remove: [...w.unsettledRemove].filter((g) => !w.unsettledAdd.has(g)),
      },
    });
    return outcomes;
  }

  /**
   * Brings the groups that list a DN this chunk's objects took or left in line, after the
   * chunk's own groups and deletes: an object that took a DN (created, matched, renamed to
   * it) joins the groups waiting for it; one that left a DN leaves the groups listing that DN
   * (a rename: a member PATCH; gone from the provider: dropped from the record, which is what
   * the provider did itself). Groups a failed request left unsettled before are resolved
   * whole again. A failed request leaves the group unsettled and fails the operations whose
   * moves it carried, so that a later cycle runs them (and this) again.
   */
  private async followMembers(cfg: string, outcomes: TargetOutcome[], w: ChunkWrites): Promise<void> {
    const unsettled = await this.records.unsettledGroups(cfg);
    if (w.arrived.length === 0 && w.departed.length === 0 && unsettled.length === 0) return;
    const removed = new Set(w.removed);
    const dns = [...new Set([...w.arrived.map((a) => a.dn), ...w.departed.map((d) => d.dn)])];
    const listing = dns.length > 0 ? await this.records.groupsListing(cfg, dns) : null;
    // Who lists each DN once this chunk is applied: the store's listing, but this chunk's groups as they are now.
    const listers = new Map<string, Set<string>>();
    dns.forEach((dn, i) => listers.set(dn, new Set((listing?.[i] ?? []).filter((g) => !w.put.has(g) && !removed.has(g)))));
    for (const [g, r] of w.put) if (r.type === 'group') for (const dn of r.memberDns ?? []) listers.get(dn)?.add(g);

    const follow = new Map<string, MemberFollowUp>();
    const of = (g: string) => {
      let f = follow.get(g);
      if (!f) follow.set(g, (f = { add: new Set(), leave: new Map(), full: false, ops: new Set() }));
      return f;
    };
    for (const a of w.arrived)
      for (const g of listers.get(a.dn) ?? []) {
        of(g).add.add(a.id);
        of(g).ops.add(a.op);
      }
    for (const d of w.departed)
      for (const g of listers.get(d.dn) ?? []) {
        of(g).leave.set(d.id, { gone: d.gone, newDn: d.newDn });
        of(g).ops.add(d.op);
      }
    for (const g of unsettled) if (!removed.has(g)) of(g).full = true;
    for (const g of unsettled) if (removed.has(g)) w.unsettledRemove.add(g);
    if (follow.size === 0) return;

    const ids = [...follow.keys()];
    const toRead = ids.filter((g) => !w.put.has(g));
    const read = await this.records.get(cfg, toRead);
    const stored = new Map(toRead.map((g, i) => [g, read[i] ?? null]));
    // DNs this chunk vacated resolve to nothing (the store still names their old owner until the commit).
    const vacated = new Set(w.departed.map((d) => d.dn).filter((dn) => !w.arrived.some((a) => a.dn === dn)));
    const resolve = async (memberDns: readonly string[]): Promise<string[]> => {
      const unknown = memberDns.filter((dn) => !w.dns.has(dn) && !vacated.has(dn));
      const found = await this.records.idsByDn(cfg, unknown);
      const byDn = new Map(unknown.map((dn, i) => [dn, found[i] ?? null]));
      return [
        ...new Set(
          memberDns.flatMap((dn) => {
            if (vacated.has(dn)) return [];
            const id = w.dns.get(dn) ?? byDn.get(dn);
            return id ? [id] : [];
          }),
        ),
      ];
    };

    await Promise.all(
      ids.map(async (g) => {
        const f = follow.get(g)!;
        const rec = w.put.get(g) ?? stored.get(g) ?? null;
        if (!rec || rec.type !== 'group' || !rec.memberDns) {
          if (f.full) w.unsettledRemove.add(g);
          return;
        }
        const listed = new Set(rec.memberDns);
        const had = rec.members ?? [];
        const members = new Set(had);
        // Gone from the provider: it dropped them itself; only the record follows.
        for (const [id, l] of f.leave) if (l.gone) members.delete(id);
        const dropped = had.length - members.size;
        let wanted: string[];
        if (f.full) wanted = await resolve(rec.memberDns);
        else {
          wanted = [...members];
          for (const id of f.add) if (!members.has(id)) wanted.push(id);
          const leaving = new Set(
            [...f.leave].filter(([id, l]) => !l.gone && !(l.newDn && listed.has(l.newDn)) && !f.add.has(id)).map(([id]) => id),
          );
          wanted = wanted.filter((id) => !leaving.has(id));
        }
        const record: ScimRecord = { ...rec, members: [...members] };
        try {
          const changes = await this.sendMembers(record, wanted);
          if (changes > 0 || dropped > 0 || f.full) w.put.set(g, record);
          w.unsettledRemove.add(g);
        } catch (error) {
          // What the provider did itself is kept; the rest is tried again.
          if (dropped > 0) w.put.set(g, { ...rec, members: [...members] });
          w.unsettledAdd.add(g);
          for (const i of f.ops) {
            if (i < 0 || outcomes[i]?.status !== 'applied') continue;
            outcomes[i] = outcomeOf(error, `member of group ${rec.dn}: `);
          }
        }
      }),
    );
  }

  /**
   * True when the provider's users and groups are as many as the records this configuration
   * keeps (two `count=0` GETs): every resource there is one we provisioned. False on any doubt
   * (another count, an error, a provider that does not say `totalResults`).
   */
  private async onlyOurs(cfg: string): Promise<boolean> {
    try {
      const [held, u, g] = await Promise.all([
        this.records.count(cfg),
        this.client.request('GET', '/Users?count=0'),
        this.client.request('GET', '/Groups?count=0'),
      ]);
      const total = (r: ScimResponse) =>
        r.status === 200 && typeof r.body?.totalResults === 'number' ? r.body.totalResults : -1;
      return total(u) >= 0 && total(g) >= 0 && total(u) + total(g) === held;
    } catch {
      return false;
    }
  }

  private userOf(op: Upsert) {
    if (op.attributes === null) return { problem: 'attributes not known' };
    return mapUser(op.objectId, op.attributes, op.disabled, this.options.mapping);
  }

  private async upsertUser(
    op: Upsert,
    rec: ScimRecord | null,
    matchedResource: () => Resource | null,
    managers: Map<string, string>,
    lateManager: (dn: string) => void,
    w: ChunkWrites,
  ): Promise<TargetOutcome> {
    if (op.attributes === null) {
      // A FULL-mode PRESENT: the source sent no attributes, the provider keeps what it has.
      if (rec) return applied('attributes not sent by the source (FULL scan)');
      throw new Refused('the source sent no attributes and the object is not provisioned yet (sent with its next change)');
    }
    const mapped = mapUser(op.objectId, op.attributes, op.disabled, this.options.mapping);
    if ('problem' in mapped) throw new Refused(mapped.problem);
    const flat = mapped.flat;
    if (mapped.managerDn) {
      const id = managers.get(mapped.managerDn.toLowerCase());
      if (id) flat[scimPath('manager')] = { value: id };
      else lateManager(mapped.managerDn.toLowerCase());
    }
    return this.upsert(op, 'user', flat, rec, matchedResource, w);
  }

  private async upsertGroup(
    op: Upsert,
    rec: ScimRecord | null,
    matchedResource: () => Resource | null,
    w: ChunkWrites,
  ): Promise<TargetOutcome> {
    if (op.attributes === null) {
      if (rec) return applied('attributes not sent by the source (FULL scan)');
      throw new Refused('the source sent no attributes and the group is not provisioned yet (sent with its next change)');
    }
    const mapped = mapGroup(op.objectId, op.attributes, this.options.mapping);
    if ('problem' in mapped) throw new Refused(mapped.problem);
    const members: string[] = [];
    let unknown = 0;
    for (const dn of op.memberDns) {
      const id = w.dns.get(dn.toLowerCase());
      if (id) members.push(id);
      else unknown += 1;
    }
    const outcome = await this.upsert(op, 'group', mapped.flat, rec, matchedResource, w, [...new Set(members)]);
    const kept = w.put.get(op.objectId);
    if (outcome.status === 'applied' && kept) {
      // The listing follows the source's member DNs; members now match them (nothing left unsettled).
      const dns = [...new Set(op.memberDns.map((d) => d.toLowerCase()))];
      const before = new Set(rec?.memberDns ?? []);
      const now = new Set(dns);
      for (const d of dns) if (!before.has(d)) w.listedAdd.push([d, op.objectId]);
      for (const d of before) if (!now.has(d)) w.listedRemove.push([d, op.objectId]);
      kept.memberDns = dns;
      w.unsettledRemove.add(op.objectId);
    }
    if (unknown === 0 || outcome.status !== 'applied') return outcome;
    return applied(
      `${outcome.details ?? 'applied'}; ${unknown} member(s) not provisioned in the target yet (they join when provisioned)`,
    );
  }

  /**
   * Creates or changes one resource: PATCHes the one we know (record or match) with what
   * differs, or POSTs a new one (a 409 then matches and PATCHes).
   */
  private async upsert(
    op: Upsert,
    type: ObjectTypeName,
    flat: Flat,
    rec: ScimRecord | null,
    matchedResource: () => Resource | null,
    w: ChunkWrites,
    members?: string[],
  ): Promise<TargetOutcome> {
    let existing: Resource | null = null;
    if (!rec) existing = matchedResource();
    if (!rec && !existing) {
      // Without PATCH, nothing can be added later: a new group is POSTed with all its members.
      const firstMembers = this.putOnly ? members : members?.slice(0, this.memberBatch);
      const body = resourceOf(flat, type === 'group' ? GROUP_SCHEMA : USER_SCHEMA);
      if (firstMembers) body.members = firstMembers.map((value) => ({ value }));
      const res = await this.client.request('POST', endpoint(type), body);
      if (res.status === 201 || res.status === 200) {
        const id = String(res.body?.id ?? '');
        if (!id) throw new Refused(`HTTP ${res.status}: the created resource has no id`);
        const record: ScimRecord = { id, type, dn: op.dn, sent: flat, ...(members ? { members: firstMembers } : {}) };
        if (members && members.length > firstMembers!.length) {
          await this.sendMembers(record, members);
        }
        w.keep(op, record, null);
        return applied(`created ${id}`);
      }
      if (res.status !== 409) throw new Refused(describeScimError(res));
      // Uniqueness: it exists after all (created meanwhile, or by someone else): match it and PATCH.
      existing = (await this.matchOne(op, type, flat)) ?? null;
      if (!existing) throw new Refused(`${describeScimError(res)} (and no resource matched)`);
    }
    const id = rec?.id ?? existing!.id;
    const before: Flat = rec ? rec.sent : flatOf(existing!, flat);
    const ops = diff(before, flat);
    const record: ScimRecord = { id, type, dn: op.dn, sent: flat };
    const had = members
      ? (rec?.members ?? ((existing?.members as Array<{ value: string }> | undefined) ?? []).map((m) => m.value))
      : [];
    if (this.putOnly) {
      // One PUT of the whole resource (its members whole) when anything differs.
      const memberChanges = members ? countChanges(had, members) : 0;
      if (ops.length > 0 || memberChanges > 0) {
        const res = await this.replace(type, id, flat, members);
        if (res.status === 404) {
          if (rec) w.forget(op, rec, true);
          throw new Refused(`${describeScimError(res)} (the resource is gone; matched again by the next cycle)`);
        }
        if (res.status >= 300) throw new Refused(describeScimError(res));
      }
      if (members) record.members = members;
      w.keep(op, record, rec);
      const what =
        ops.length === 0 && memberChanges === 0
          ? 'no change'
          : `replaced (PUT): ${ops.length} attribute(s) changed${members ? `, ${memberChanges} member change(s)` : ''}`;
      return applied(rec ? what : `matched ${id}; ${what}`);
    }
    if (ops.length > 0) {
      const res = await this.patch(type, id, ops);
      if (res.status === 404) {
        // Our record names a resource the provider no longer has: drop it, so that the retry matches afresh (and creates).
        if (rec) w.forget(op, rec, true);
        throw new Refused(`${describeScimError(res)} (the resource is gone; matched again by the next cycle)`);
      }
      if (res.status >= 300) throw new Refused(describeScimError(res));
    }
    let memberChanges = 0;
    if (members) {
      record.members = had;
      memberChanges = await this.sendMembers(record, members);
    }
    w.keep(op, record, rec);
    const what =
      ops.length === 0 && memberChanges === 0
        ? 'no change'
        : `patched ${ops.length} attribute(s)${members ? `, ${memberChanges} member change(s)` : ''}`;
    return applied(rec ? what : `matched ${id}; ${what}`);
  }

  /** Sends the member changes from `record.members` to `wanted` in bounded PATCHes; updates the record. */
  private async sendMembers(record: ScimRecord, wanted: string[]): Promise<number> {
    if (this.putOnly) {
      const changes = countChanges(record.members ?? [], wanted);
      if (changes > 0) {
        const res = await this.replace('group', record.id, record.sent, wanted);
        if (res.status >= 300) throw new Refused(`members: ${describeScimError(res)}`);
      }
      record.members = wanted;
      return changes;
    }
    const had = new Set(record.members ?? []);
    const want = new Set(wanted);
    const add = wanted.filter((id) => !had.has(id));
    const remove = [...had].filter((id) => !want.has(id));
    for (const body of memberPatches(add, remove, this.memberBatch)) {
      const res = await this.patch('group', record.id, body);
      if (res.status >= 300) throw new Refused(`members: ${describeScimError(res)}`);
    }
    record.members = wanted;
    return add.length + remove.length;
  }

  /** PUT of the whole resource (RFC 7644 3.5.1): what `flat` says, a group's members whole. */
  private replace(type: ObjectTypeName, id: string, flat: Flat, members?: readonly string[]): Promise<ScimResponse> {
    const body = resourceOf(flat, type === 'group' ? GROUP_SCHEMA : USER_SCHEMA);
    if (type === 'group') body.members = (members ?? []).map((value) => ({ value }));
    return this.client.request('PUT', `${endpoint(type)}/${encodeURIComponent(id)}`, body);
  }

  private async patch(type: ObjectTypeName, id: string, ops: PatchOperation[]): Promise<ScimResponse> {
    const res = await this.client.request('PATCH', `${endpoint(type)}/${encodeURIComponent(id)}`, {
      schemas: [PATCH_SCHEMA],
      Operations: ops,
    });
    if (res.status !== 405 && res.status !== 501) return res;
    // A provider without PATCH: say what to do about it in the log.
    const detail = typeof res.body?.detail === 'string' ? `${res.body.detail}; ` : '';
    return {
      ...res,
      body: { ...res.body, detail: `${detail}the provider does not take PATCH: set target.updateMethod to "put"` },
    };
  }

  private async remove(op: Delete, rec: ScimRecord | null, matchedResource: () => Resource | null): Promise<TargetOutcome> {
    const id = rec?.id ?? matchedResource()?.id;
    if (!id) return applied('not in the target');
    if (this.options.deleteMode === 'deactivate' && op.objectType === 'user') {
      let res: ScimResponse;
      if (this.putOnly) {
        const whole = rec?.sent ?? (await this.current('user', id));
        if (!whole) return applied('not in the target');
        res = await this.replace('user', id, { ...whole, active: false });
      } else res = await this.patch('user', id, [{ op: 'replace', path: 'active', value: false }]);
      if (res.status === 404) return applied('not in the target');
      if (res.status >= 300) throw new Refused(describeScimError(res));
      return applied(`deactivated ${id}`);
    }
    const res = await this.client.request('DELETE', `${endpoint(op.objectType)}/${encodeURIComponent(id)}`);
    if (res.status === 404) return applied('not in the target');
    if (res.status >= 300) throw new Refused(describeScimError(res));
    return applied(`deleted ${id}`);
  }

  /**
   * A resource as the provider holds it, flat (what a PUT must carry again to change one
   * attribute of a resource we have no record of); null when it is not there.
   */
  private async current(type: ObjectTypeName, id: string): Promise<Flat | null> {
    const res = await this.client.request('GET', `${endpoint(type)}/${encodeURIComponent(id)}`);
    if (res.status === 404) return null;
    if (res.status !== 200 || !res.body) throw new Refused(`reading ${id}: ${describeScimError(res)}`);
    const { id: _id, meta: _meta, schemas: _schemas, ...rest } = res.body;
    const flat: Flat = {};
    for (const [k, v] of Object.entries(rest)) {
      if (k === ENTERPRISE_SCHEMA && v && typeof v === 'object')
        for (const [e, ev] of Object.entries(v as Record<string, unknown>)) flat[`${ENTERPRISE_SCHEMA}:${e}`] = ev;
      else if (k === 'name' && v && typeof v === 'object')
        for (const [e, ev] of Object.entries(v as Record<string, unknown>)) flat[`name.${e}`] = ev;
      else flat[k] = v;
    }
    return flat;
  }

  /** The name a resource of the operation is matched by, besides its externalId. */
  private nameOf(op: TargetOperation, type: ObjectTypeName): string | null {
    if (op.kind === 'delete' || op.attributes === null) return null;
    const mapped =
      type === 'user'
        ? mapUser(op.objectId, op.attributes, op.disabled, this.options.mapping)
        : mapGroup(op.objectId, op.attributes, this.options.mapping);
    if ('problem' in mapped) return null;
    const flat = mapped.flat;
    return String((type === 'user' ? flat.userName : flat.displayName) ?? '') || null;
  }

  /**
   * Matches the operations at `want` by GET with filters: `externalId eq` first, then the
   * name (`userName eq` / `displayName eq`), several objects per GET joined by `or`.
   */
  private async matchMany(
    ops: readonly TargetOperation[],
    want: number[],
    type: ObjectTypeName,
    out: Map<number, Resource | null>,
    errors: Map<number, Error>,
  ): Promise<void> {
    const nameAttr = type === 'user' ? 'userName' : 'displayName';
    const batches: number[][] = [];
    const size = this.orFilters ? this.matchBatch : 1;
    for (let i = 0; i < want.length; i += size) batches.push(want.slice(i, i + size));
    await Promise.all(
      batches.map(async (batch) => {
        try {
          const terms: string[] = [];
          for (const i of batch) {
            terms.push(`externalId eq ${literal(ops[i]!.objectId)}`);
            const name = this.nameOf(ops[i]!, type);
            if (name) terms.push(`${nameAttr} eq ${literal(name)}`);
          }
          let found: Resource[];
          if (terms.length === 1 || this.orFilters) {
            const r = await this.search(type, terms.join(' or '));
            if (r === 'invalidFilter') {
              this.orFilters = false;
              found = [];
              for (const t of terms) found.push(...((await this.search(type, t)) as Resource[]));
            } else found = r;
          } else {
            found = [];
            for (const t of terms) found.push(...((await this.search(type, t)) as Resource[]));
          }
          const byExternal = new Map(
            found.filter((r) => typeof r.externalId === 'string').map((r) => [r.externalId as string, r]),
          );
          const byName = new Map(found.map((r) => [String(r[nameAttr] ?? '').toLowerCase(), r]));
          for (const i of batch) {
            const name = this.nameOf(ops[i]!, type);
            out.set(i, byExternal.get(ops[i]!.objectId) ?? (name ? byName.get(name.toLowerCase()) : undefined) ?? null);
          }
        } catch (error) {
          for (const i of batch) errors.set(i, error as Error);
        }
      }),
    );
  }

  private async matchOne(op: TargetOperation, type: ObjectTypeName, flat: Flat): Promise<Resource | undefined> {
    const byId = await this.search(type, `externalId eq ${literal(op.objectId)}`);
    if (byId !== 'invalidFilter' && byId[0]) return byId[0];
    const name = String((type === 'user' ? flat.userName : flat.displayName) ?? '');
    const byName = await this.search(type, `${type === 'user' ? 'userName' : 'displayName'} eq ${literal(name)}`);
    return byName === 'invalidFilter' ? undefined : byName[0];
  }

  /** Every resource a filter finds (paged), or `invalidFilter` when the provider refuses the filter. */
  private async search(type: ObjectTypeName, filter: string): Promise<Resource[] | 'invalidFilter'> {
    const out: Resource[] = [];
    for (let start = 1; ;) {
      const res = await this.client.request(
        'GET',
        `${endpoint(type)}?filter=${encodeURIComponent(filter)}&startIndex=${start}&count=100`,
      );
      if (res.status === 400 && (res.body?.scimType === 'invalidFilter' || / or /.test(filter))) return 'invalidFilter';
      if (res.status !== 200) throw new Refused(`matching: ${describeScimError(res)}`);
      const items = (res.body?.Resources as Resource[] | undefined) ?? [];
      out.push(...items);
      const total = Number(res.body?.totalResults ?? items.length);
      if (items.length === 0 || out.length >= total) return out;
      start += items.length;
    }
  }

  listObjects(): Promise<{ total: number } & Page<CloudObject>> {
    return Promise.resolve({ total: 0, items: [], nextCursor: null });
  }

  /** Forgets the target's records; the resources stay in the service provider (a configuration removed deletes nothing there). */
  removeAll(configurationId: string): Promise<void> {
    return this.records.removeAll(configurationId);
  }
}

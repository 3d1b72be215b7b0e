import type { CloudObject, ObjectTypeName, Page, ScimMappingSettings } from '../../model';
import type { Target, TargetOperation, TargetOutcome, UnitOfWork } from '../target';
import { ScimTransientError, describeScimError, type ScimClient, type ScimResponse } from './scim-client';
import {
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

  keep(op: TargetOperation, record: ScimRecord, before: ScimRecord | null): void {
    this.put.set(op.objectId, record);
    this.dns.set(record.dn.toLowerCase(), record.id);
    if (before && before.dn.toLowerCase() !== record.dn.toLowerCase()) this.staleDns.push(before.dn);
  }

  forget(op: TargetOperation, before: ScimRecord | null): void {
    this.put.delete(op.objectId);
    this.removed.push(op.objectId);
    if (before) this.staleDns.push(before.dn);
  }
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

  constructor(
    readonly client: ScimClient,
    private readonly records: ScimRecords,
    private readonly options: ScimTargetOptions,
  ) {
    this.failureQuarantine = { percent: options.failureQuarantinePercent, minimum: TARGET_FAILURES_MINIMUM };
    this.memberBatch = options.memberBatchSize ?? 500;
    this.matchBatch = options.matchBatchSize ?? 20;
  }

  async apply(cfg: string, operations: readonly TargetOperation[], unit: UnitOfWork): Promise<TargetOutcome[]> {
    const outcomes: TargetOutcome[] = new Array<TargetOutcome>(operations.length);
    const recs = await this.records.get(
      cfg,
      operations.map((op) => op.objectId),
    );
    const w = new ChunkWrites();
    const put = w.put;
    const chunkDns = w.dns;

    const run = async (i: number, work: () => Promise<TargetOutcome>) => {
      try {
        outcomes[i] = await work();
      } catch (error) {
        if (error instanceof ScimTransientError)
          outcomes[i] = {
            status: 'retry',
            reason: error.message,
            ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          };
        else if (error instanceof Refused) outcomes[i] = { status: 'failed', reason: error.message };
        else outcomes[i] = { status: 'failed', reason: `unexpected: ${(error as Error).message}` };
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
          const res = await this.patch('user', record.id, [{ op: 'replace', path, value: { value: managerId } }]);
          if (res.status >= 300) throw new Refused(`manager: ${describeScimError(res)}`);
          record.sent = { ...record.sent, [path]: { value: managerId } };
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
          w.forget(op, recs[i] ?? null);
          return outcome;
        }),
      ),
    );
    // Records of objects whose last call failed for good are kept as they were (a 404 drops them: see upsert).
    const kept = new Set([...put.values()].map((r) => r.dn.toLowerCase()));
    this.records.write(
      unit,
      cfg,
      [...put.entries()],
      w.removed.filter((id) => !put.has(id)),
      w.staleDns.filter((dn) => !kept.has(dn.toLowerCase())),
    );
    return outcomes;
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
    if (unknown === 0 || outcome.status !== 'applied') return outcome;
    return applied(`${outcome.details ?? 'applied'}; ${unknown} member(s) not provisioned in the target, left out`);
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
      const firstMembers = members?.slice(0, this.memberBatch);
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
    if (ops.length > 0) {
      const res = await this.patch(type, id, ops);
      if (res.status === 404) {
        // Our record names a resource the provider no longer has: drop it, so that the retry matches afresh (and creates).
        if (rec) w.forget(op, rec);
        throw new Refused(`${describeScimError(res)} (the resource is gone; matched again by the next cycle)`);
      }
      if (res.status >= 300) throw new Refused(describeScimError(res));
    }
    let memberChanges = 0;
    if (members) {
      const had = rec?.members ?? ((existing?.members as Array<{ value: string }> | undefined) ?? []).map((m) => m.value);
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

  private patch(type: ObjectTypeName, id: string, ops: PatchOperation[]): Promise<ScimResponse> {
    return this.client.request('PATCH', `${endpoint(type)}/${encodeURIComponent(id)}`, {
      schemas: [PATCH_SCHEMA],
      Operations: ops,
    });
  }

  private async remove(op: Delete, rec: ScimRecord | null, matchedResource: () => Resource | null): Promise<TargetOutcome> {
    const id = rec?.id ?? matchedResource()?.id;
    if (!id) return applied('not in the target');
    if (this.options.deleteMode === 'deactivate' && op.objectType === 'user') {
      const res = await this.patch('user', id, [{ op: 'replace', path: 'active', value: false }]);
      if (res.status === 404) return applied('not in the target');
      if (res.status >= 300) throw new Refused(describeScimError(res));
      return applied(`deactivated ${id}`);
    }
    const res = await this.client.request('DELETE', `${endpoint(op.objectType)}/${encodeURIComponent(id)}`);
    if (res.status === 404) return applied('not in the target');
    if (res.status >= 300) throw new Refused(describeScimError(res));
    return applied(`deleted ${id}`);
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

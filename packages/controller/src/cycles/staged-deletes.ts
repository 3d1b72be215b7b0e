import { ConflictError, ValidationError } from '../errors';
import type { DeleteCauseName, ObjectTypeName, Page, StagedDelete, StagedDeleteGroup } from '../model';
import { limitOf } from '../page-limit';
import type { ConfigurationReader, CycleRecords } from './cycle-records';
import { decodePlanEntry } from './plan-entry';

export type StagedDeleteGrouping = 'cause' | 'parent' | 'type';
export const STAGED_DELETE_GROUPINGS: readonly StagedDeleteGrouping[] = ['cause', 'parent', 'type'];

/** How many deletes of a group its `sample` shows. */
export const GROUP_SAMPLE_SIZE = 3;
/** Deletes read at once while grouping. */
const READ_CHUNK = 5000;

/** Where a quarantined cycle's held deletes are read (store/staged-delete-store.ts implements it). */
export interface StagedDeleteRecords {
  /** The cycle's deletes as its plan holds them (encoded plan entries), `offset` on, at most `count`; and how many it holds. */
  deletes(cycleId: string, offset: number, count: number): Promise<{ total: number; entries: string[] }>;
  /** The delete lane's held set (`hold: "deletes"`), sorted by object id, `offset` on, at most `count`; and its size. */
  laneDeletes(configurationId: string, offset: number, count: number): Promise<{ total: number; entries: string[] }>;
  /** The source scope (JSON of `source`) the cycle read. */
  scopeOf(cycleId: string): Promise<string | null>;
}

/**
 * A DN without its first RDN: `uid=a,ou=eng,dc=x` -> `ou=eng,dc=x`. A comma escaped with a
 * backslash (`cn=Doe\, John,ou=x`) or written in hex (`\2C`) belongs to the RDN.
 */
export function parentDnOf(dn: string): string {
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i];
    if (ch === '\\') i += 1;
    else if (ch === ',') return dn.slice(i + 1).trim();
  }
  return '';
}

/** A plan's delete entry as the API shows it; `fallbackCause` where the entry names none. */
export function stagedDeleteOf(encoded: string, fallbackCause: DeleteCauseName): StagedDelete {
  const entry = decodePlanEntry(encoded) as {
    kind: string;
    objectId: string;
    objectType: ObjectTypeName;
    dn: string;
    cause?: DeleteCauseName;
    newDn?: string;
  };
  if (entry.kind !== 'delete') throw new Error(`not a delete plan entry: ${encoded.slice(0, 80)}`);
  const cause = entry.cause && entry.cause !== 'unknown' ? entry.cause : fallbackCause;
  return {
    objectId: entry.objectId,
    objectType: entry.objectType,
    dn: entry.dn,
    parentDn: parentDnOf(entry.dn),
    cause,
    ...(entry.newDn ? { newDn: entry.newDn } : {}),
  };
}

/** Groups deletes: per key its count and the first GROUP_SAMPLE_SIZE; parents compare case-insensitively. */
export class StagedDeleteGrouper {
  private readonly groups = new Map<string, StagedDeleteGroup>();

  constructor(private readonly by: StagedDeleteGrouping) {}

  add(d: StagedDelete): void {
    const key = this.by === 'cause' ? d.cause : this.by === 'type' ? d.objectType : d.parentDn;
    const id = this.by === 'parent' ? key.toLowerCase() : key;
    let g = this.groups.get(id);
    if (!g) {
      g = { key, count: 0, sample: [] };
      this.groups.set(id, g);
    }
    g.count += 1;
    if (g.sample.length < GROUP_SAMPLE_SIZE) g.sample.push(d);
  }

  /** Largest group first; equal counts by key. */
  result(): StagedDeleteGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  }
}

/** Deletes counted by cause and parent DN together: what a quarantine email names. */
export interface CauseParentCount {
  cause: DeleteCauseName;
  parentDn: string;
  count: number;
}

/** How a quarantine email says a group: `412 moved out of scope from ou=eng,dc=x`. */
export function describeCauseGroup(g: CauseParentCount): string {
  const where = g.parentDn || '(the root)';
  switch (g.cause) {
    case 'deleted':
      return `${g.count} deleted in ${where}`;
    case 'movedOutOfScope':
      return `${g.count} moved out of scope from ${where}`;
    case 'filteredOut':
      return `${g.count} filtered out in ${where}`;
    case 'disabled':
      return `${g.count} disabled in ${where}`;
    case 'scopeChanged':
      return `${g.count} out of the changed scope in ${where}`;
    case 'unknown':
      return `${g.count} gone from ${where} (cause unknown)`;
  }
}

export interface StagedDeleteServiceDeps {
  records: StagedDeleteRecords;
  cycles: Pick<CycleRecords, 'quarantine' | 'stateFields'>;
  configs: ConfigurationReader;
}

/**
 * The deletes a quarantine holds, to read before deciding: a page at a time, or grouped by
 * cause, parent DN or object type. The cause is the agent's where it said one; otherwise
 * `scopeChanged` when the quarantined cycle read another scope than the last applied cycle,
 * else `unknown`.
 */
export class StagedDeleteService {
  constructor(private readonly deps: StagedDeleteServiceDeps) {}

  async list(
    configurationId: string,
    query: { groupBy?: string; limit?: number; cursor?: string },
  ): Promise<
    | (Page<StagedDelete> & { total: number; cycleId: string | null })
    | { groups: StagedDeleteGroup[]; total: number; cycleId: string | null }
  > {
    await this.deps.configs.get(configurationId);
    if (query.groupBy !== undefined && !STAGED_DELETE_GROUPINGS.includes(query.groupBy as StagedDeleteGrouping))
      throw new ValidationError('groupBy', 'must be cause, parent or type');
    const q = await this.deps.cycles.quarantine(configurationId);
    if (!q) {
      if (query.cursor !== undefined)
        throw new ValidationError('cursor', 'is not a cursor of this list (the configuration is not quarantined)');
      return query.groupBy ? { groups: [], total: 0, cycleId: null } : { items: [], nextCursor: null, total: 0, cycleId: null };
    }
    const fallback = await this.fallbackCause(configurationId, q.cycleId);
    // hold "cycle": the quarantined cycle's plan; hold "deletes": the delete lane's held set.
    const read = (offset: number, count: number) =>
      q.hold === 'deletes'
        ? this.deps.records.laneDeletes(configurationId, offset, count)
        : this.deps.records.deletes(q.cycleId, offset, count);
    if (query.groupBy) {
      if (query.cursor !== undefined)
        throw new ValidationError('cursor', 'is not taken with groupBy (the groups are one answer)');
      const grouper = new StagedDeleteGrouper(query.groupBy as StagedDeleteGrouping);
      let total = 0;
      for (let offset = 0; ; offset += READ_CHUNK) {
        const page = await read(offset, READ_CHUNK);
        total = page.total;
        for (const e of page.entries) grouper.add(stagedDeleteOf(e, fallback));
        if (page.entries.length < READ_CHUNK) break;
      }
      return { groups: grouper.result(), total, cycleId: q.cycleId };
    }
    const limit = limitOf(query.limit, 100);
    let offset = 0;
    if (query.cursor !== undefined) {
      const m = /^([0-9a-f-]{36}):(\d+)$/.exec(query.cursor);
      if (!m) throw new ValidationError('cursor', 'is not a cursor of this list');
      if (m[1] !== q.cycleId)
        throw new ConflictError(
          'SG_ERR_NOT_QUARANTINED',
          'the quarantine this cursor was read from is no longer held; read the list again',
        );
      offset = Number(m[2]);
    }
    const page = await read(offset, limit);
    const items = page.entries.map((e) => stagedDeleteOf(e, fallback));
    const next = offset + items.length;
    return { items, nextCursor: next < page.total ? `${q.cycleId}:${next}` : null, total: page.total, cycleId: q.cycleId };
  }

  /** The held deletes of a quarantined cycle by cause and parent DN, largest first ([] when it holds none). */
  async causesOf(configurationId: string, cycleId: string): Promise<CauseParentCount[]> {
    const fallback = await this.fallbackCause(configurationId, cycleId);
    const lane = (await this.deps.cycles.quarantine(configurationId))?.hold === 'deletes';
    const groups = new Map<string, CauseParentCount>();
    for (let offset = 0; ; offset += READ_CHUNK) {
      const page = lane
        ? await this.deps.records.laneDeletes(configurationId, offset, READ_CHUNK)
        : await this.deps.records.deletes(cycleId, offset, READ_CHUNK);
      for (const e of page.entries) {
        const d = stagedDeleteOf(e, fallback);
        const id = `${d.cause}\u0000${d.parentDn.toLowerCase()}`;
        const g = groups.get(id) ?? { cause: d.cause, parentDn: d.parentDn, count: 0 };
        g.count += 1;
        groups.set(id, g);
      }
      if (page.entries.length < READ_CHUNK) break;
    }
    return [...groups.values()].sort((a, b) => b.count - a.count || a.parentDn.localeCompare(b.parentDn));
  }

  private async fallbackCause(configurationId: string, cycleId: string): Promise<DeleteCauseName> {
    const [scope, st] = await Promise.all([this.deps.records.scopeOf(cycleId), this.deps.cycles.stateFields(configurationId)]);
    return st.committedScope !== null && scope !== null && scope !== st.committedScope ? 'scopeChanged' : 'unknown';
  }
}

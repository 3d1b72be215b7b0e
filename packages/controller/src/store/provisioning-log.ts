import type { ChainableCommander, Redis } from 'ioredis';
import type { DeleteCauseName, Page, ProvisioningAction, ProvisioningLogEntry } from '../model';
import type { Keys } from './keys';
import { COPY_BUNDLES } from './scripts';

export type NewLogEntry = Omit<ProvisioningLogEntry, 'id' | 'at'>;

/** The entries of one cycle per bundle at most (a stream entry of field `b`). */
export const BUNDLE_SIZE = 1000;

const BUNDLE = BUNDLE_SIZE;

/**
 * The stored text of a bundle: entries of one cycle, written at one time (up to
 * {@link BUNDLE_SIZE}; the cycle id of each entry is not looked at).
 */
export function renderBundle(cycleId: string, at: string, entries: readonly Omit<NewLogEntry, 'cycleId'>[]): string {
  let text = `{"cycleId":${JSON.stringify(cycleId)},"at":${JSON.stringify(at)},"e":[`;
  for (let j = 0; j < entries.length; j++) {
    const e = entries[j]!;
    text += `${j > 0 ? ',' : ''}["${e.action}","${e.status}","${e.objectType}",${JSON.stringify(e.objectId)},${JSON.stringify(e.dn)},${e.details == null ? 'null' : JSON.stringify(e.details)}`;
    if (e.cause !== undefined) text += `,"${e.cause}"${e.newDn ? `,${JSON.stringify(e.newDn)}` : ''}`;
    text += ']';
  }
  return `${text}]}`;
}

/** An entry id: the stream id, and for an entry of a bundle its position (`<stream id>.<i>`). */
const ENTRY_ID = /^(\d+-\d+)(?:\.(\d+))?$/;

export function isLogCursor(cursor: string): boolean {
  return ENTRY_ID.test(cursor);
}

/** One entry of a bundle: what is not common to the bundle. */
type BundledEntry = [
  action: ProvisioningAction,
  status: ProvisioningLogEntry['status'],
  objectType: ProvisioningLogEntry['objectType'],
  objectId: string,
  dn: string,
  details: string | null,
  /** Delete and StagedDelete entries: the cause, and a moved object's new DN. */
  cause?: DeleteCauseName,
  newDn?: string,
];

/** A bundle as stored: `{cycleId, at, e: BundledEntry[]}`. */
interface Bundle {
  cycleId: string;
  at: string;
  e: BundledEntry[];
}

/**
 * The provisioning log of one configuration: a Redis stream, read newest first. A stream
 * entry holds one log entry (field `d`, its JSON: as earlier versions wrote them) or, as
 * this one writes them, a bundle of up
 * to 1,000 entries of one cycle in order (field `b`, {@link Bundle}: one XADD per apply
 * chunk instead of one per object, and the cycle id and time once). A log entry's id (and
 * cursor) is the stream id, with `.<position>` for an entry of a bundle.
 *
 * Entries older than the retention are trimmed as new ones are written (XADD MINID: stream
 * ids are times), so the log of a busy configuration does not grow without bound.
 */
export class ProvisioningLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly retentionMs = 30 * 86_400_000,
  ) {}

  /** The oldest stream id to keep (for XADD MINID, trimmed approximately: whole stream nodes). */
  minId(now = Date.now()): string {
    return String(Math.max(0, now - this.retentionMs));
  }

  /** Queues many entries in order, as bundles of up to 1,000 of one cycle per stream entry. */
  addMany(tx: ChainableCommander, configurationId: string, entries: readonly NewLogEntry[], at: string): void {
    const minId = this.minId();
    for (let i = 0; i < entries.length;) {
      const cycleId = entries[i]!.cycleId;
      let j = i;
      while (j < entries.length && j < i + BUNDLE && entries[j]!.cycleId === cycleId) j++;
      tx.xadd(this.keys.plog(configurationId), 'MINID', '~', minId, '*', 'b', renderBundle(cycleId, at, entries.slice(i, j)));
      i = j;
    }
  }

  /**
   * Queues bundles rendered beforehand and held in a Redis list (see {@link renderBundle}):
   * they are written to the log inside Redis, in order, and the list is removed.
   */
  addRendered(tx: ChainableCommander, configurationId: string, bundlesKey: string): void {
    tx.eval(COPY_BUNDLES.source, 2, bundlesKey, this.keys.plog(configurationId), this.minId());
  }

  async list(
    configurationId: string,
    query: { action?: ProvisioningAction; cycleId?: string; dn?: string; limit?: number; cursor?: string },
  ): Promise<Page<ProvisioningLogEntry>> {
    const limit = query.limit ?? 50;
    const key = this.keys.plog(configurationId);
    const dn = query.dn?.toLowerCase();
    const items: ProvisioningLogEntry[] = [];
    // A cursor inside a bundle reads that bundle again, from the entry before it.
    const at = query.cursor ? ENTRY_ID.exec(query.cursor) : null;
    let end = at ? (at[2] === undefined ? `(${at[1]}` : at[1]!) : '+';
    const within = at?.[2] === undefined ? null : { streamId: at[1]!, before: Number(at[2]) };
    const keep = (entry: ProvisioningLogEntry): boolean =>
      !(query.action && entry.action !== query.action) &&
      !(query.cycleId && entry.cycleId !== query.cycleId) &&
      !(dn && !entry.dn.toLowerCase().includes(dn));
    // Few stream entries first (a bundle is up to 1,000 log entries), more while filters skip them.
    for (let chunk = 2; ; chunk = Math.min(chunk * 2, 512)) {
      const rows = await this.redis.xrevrange(key, end, '-', 'COUNT', chunk);
      for (const [id, fields] of rows) {
        if (fields[0] === 'b') {
          const bundle = JSON.parse(fields[1] ?? '{}') as Bundle;
          // A whole bundle of another cycle is skipped without looking at its entries.
          if (query.cycleId && bundle.cycleId !== query.cycleId) continue;
          const from = within && within.streamId === id ? Math.min(within.before, bundle.e.length) : bundle.e.length;
          for (let i = from - 1; i >= 0; i--) {
            const [action, status, objectType, objectId, entryDn, details, cause, newDn] = bundle.e[i]!;
            const entry: ProvisioningLogEntry = {
              id: `${id}.${i}`,
              cycleId: bundle.cycleId,
              action,
              status,
              objectType,
              objectId,
              dn: entryDn,
              details,
              at: bundle.at,
            };
            if (cause !== undefined) entry.cause = cause;
            if (newDn) entry.newDn = newDn;
            if (keep(entry) && items.push(entry) > limit)
              return { items: items.slice(0, limit), nextCursor: items[limit - 1]!.id };
          }
        } else {
          const entry = { id, ...(JSON.parse(fields[1] ?? '{}') as Omit<ProvisioningLogEntry, 'id'>) };
          if (keep(entry) && items.push(entry) > limit) return { items: items.slice(0, limit), nextCursor: items[limit - 1]!.id };
        }
      }
      if (rows.length < chunk) break;
      end = `(${rows[rows.length - 1]![0]}`;
    }
    return { items, nextCursor: null };
  }
}

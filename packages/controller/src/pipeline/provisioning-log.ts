import type { ChainableCommander, Redis } from 'ioredis';
import type { Page, ProvisioningAction, ProvisioningLogEntry } from '../model';
import type { Keys } from '../store/keys';

/** Entries per stream entry of {@link ProvisioningLog.addMany}. */
const BUNDLE = 1000;

/** An entry id: the stream id, and for an entry of a bundle its position (`<stream id>.<i>`). */
const ENTRY_ID = /^(\d+-\d+)(?:\.(\d+))?$/;

export function isLogCursor(cursor: string): boolean {
  return ENTRY_ID.test(cursor);
}

export type NewLogEntry = Omit<ProvisioningLogEntry, 'id' | 'at'>;

/**
 * The stored JSON of an entry: the text JSON.stringify({...entry, at}) gives for a
 * NewLogEntry with its fields in their usual order, built without an intermediate object.
 */
function renderEntry(e: NewLogEntry, atJson: string): string {
  if (e.details === undefined) return JSON.stringify({ ...e, at: JSON.parse(atJson) as string });
  return `{"cycleId":${JSON.stringify(e.cycleId)},"action":${JSON.stringify(e.action)},"status":${JSON.stringify(e.status)},"objectType":${JSON.stringify(e.objectType)},"objectId":${JSON.stringify(e.objectId)},"dn":${JSON.stringify(e.dn)},"details":${JSON.stringify(e.details)},"at":${atJson}}`;
}

/**
 * The provisioning log of one configuration: a Redis stream, read newest first. A stream
 * entry holds one log entry (field `d`, its JSON) or, as apply writes them, a bundle of up
 * to 1,000 in order (field `b`, a JSON array): one XADD per apply chunk instead of one
 * per object. A log entry's id (and cursor) is the stream id, with `.<position>` for an
 * entry of a bundle.
 */
export class ProvisioningLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  add(tx: ChainableCommander, configurationId: string, entry: NewLogEntry, at: string): void {
    tx.xadd(this.keys.plog(configurationId), '*', 'd', JSON.stringify({ ...entry, at }));
  }

  /** Queues many entries in order, as bundles of up to 1,000 per stream entry. */
  addMany(tx: ChainableCommander, configurationId: string, entries: readonly NewLogEntry[], at: string): void {
    const atJson = JSON.stringify(at);
    for (let i = 0; i < entries.length; i += BUNDLE) {
      const end = Math.min(entries.length, i + BUNDLE);
      let text = '[';
      for (let j = i; j < end; j++) text += (j > i ? ',' : '') + renderEntry(entries[j]!, atJson);
      tx.xadd(this.keys.plog(configurationId), '*', 'b', `${text}]`);
    }
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
          const bundle = JSON.parse(fields[1] ?? '[]') as Omit<ProvisioningLogEntry, 'id'>[];
          const from = within && within.streamId === id ? Math.min(within.before, bundle.length) : bundle.length;
          for (let i = from - 1; i >= 0; i--) {
            const entry = { id: `${id}.${i}`, ...bundle[i]! };
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

import type { ChainableCommander, Redis } from 'ioredis';
import type { Page, ProvisioningAction, ProvisioningLogEntry } from '../model';
import type { Keys } from '../store/keys';

const ADD_MANY = "for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'd', ARGV[i]) end return #ARGV";

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
 * The provisioning log of one configuration: a Redis stream (newest read first), one
 * entry per object and action. The stream id is the entry id and the cursor.
 */
export class ProvisioningLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  add(tx: ChainableCommander, configurationId: string, entry: NewLogEntry, at: string): void {
    tx.xadd(this.keys.plog(configurationId), '*', 'd', JSON.stringify({ ...entry, at }));
  }

  /** Queues many entries as one command (a Lua loop of XADD), in order. */
  addMany(tx: ChainableCommander, configurationId: string, entries: readonly NewLogEntry[], at: string): void {
    const atJson = JSON.stringify(at);
    for (let i = 0; i < entries.length; i += 5000) {
      const end = Math.min(entries.length, i + 5000);
      const part: string[] = new Array<string>(end - i);
      for (let j = i; j < end; j++) part[j - i] = renderEntry(entries[j]!, atJson);
      tx.eval(ADD_MANY, 1, this.keys.plog(configurationId), ...part);
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
    let end = query.cursor ? `(${query.cursor}` : '+';
    const chunk = Math.max(limit * 2, 500);
    for (;;) {
      const rows = await this.redis.xrevrange(key, end, '-', 'COUNT', chunk);
      for (const [id, fields] of rows) {
        const entry = { id, ...(JSON.parse(fields[1] ?? '{}') as Omit<ProvisioningLogEntry, 'id'>) };
        if (query.action && entry.action !== query.action) continue;
        if (query.cycleId && entry.cycleId !== query.cycleId) continue;
        if (dn && !entry.dn.toLowerCase().includes(dn)) continue;
        items.push(entry);
        if (items.length > limit) {
          return { items: items.slice(0, limit), nextCursor: items[limit - 1]!.id };
        }
      }
      if (rows.length < chunk) break;
      end = `(${rows[rows.length - 1]![0]}`;
    }
    return { items, nextCursor: null };
  }
}

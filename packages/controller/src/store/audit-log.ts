import type { ChainableCommander, Redis } from 'ioredis';
import type { AuditEntry, Page } from '../model';
import type { Keys } from './keys';

/** Caps the audit stream (approximately) so that it cannot grow without bound. */
const MAX_AUDIT_ENTRIES = 100_000;

/**
 * The audit log: who did what, when. A Redis stream, newest read first; the entry id
 * is the stream id, which is also the pagination cursor.
 */
export class AuditLog {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  /** Appends an entry (on `tx` when given, so that it commits with the change it records). */
  async record(entry: Omit<AuditEntry, 'id' | 'at'>, tx?: ChainableCommander): Promise<void> {
    const at = new Date().toISOString();
    const args = [this.keys.audit, 'MAXLEN', '~', String(MAX_AUDIT_ENTRIES), '*', 'd', JSON.stringify({ ...entry, at })] as const;
    if (tx) tx.xadd(...args);
    else await this.redis.xadd(...args);
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>> {
    const limit = query.limit ?? 50;
    const end = query.cursor ? `(${query.cursor}` : '+';
    const rows = await this.redis.xrevrange(this.keys.audit, end, '-', 'COUNT', limit + 1);
    const items = rows
      .slice(0, limit)
      .map(([id, fields]) => ({ id, ...(JSON.parse(fields[1] ?? '{}') as Omit<AuditEntry, 'id'>) }));
    return { items, nextCursor: rows.length > limit ? (items[items.length - 1]?.id ?? null) : null };
  }
}

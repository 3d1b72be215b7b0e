import type { Redis } from 'ioredis';
import type { ScimRecord, ScimRecordWrites, ScimRecords } from '../targets/scim/scim-records';
import type { UnitOfWork } from '../targets/target';
import type { Keys } from './keys';
import { queueEncoded } from './resp';
import { transactionOf } from './unit-of-work';

/** `<dn>\0<group id>`: a listing entry; every entry of one DN shares the prefix `<dn>\0` (lex order). */
const listing = (dn: string, groupId: string) => `${dn.toLowerCase()}\u0000${groupId}`;

/**
 * The SCIM target's records in Redis (`P:config:{id}:scim`, `:scim-dn`, `:scim-listed`,
 * `:scim-unsettled`), all in the configuration's slot.
 */
export class ScimRecordStore implements ScimRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async get(cfg: string, objectIds: readonly string[]): Promise<(ScimRecord | null)[]> {
    if (objectIds.length === 0) return [];
    const raw = await this.redis.hmget(this.keys.scimRecords(cfg), ...objectIds);
    return raw.map((r) => (r === null ? null : (JSON.parse(r) as ScimRecord)));
  }

  count(cfg: string): Promise<number> {
    return this.redis.hlen(this.keys.scimRecords(cfg));
  }

  async idsByDn(cfg: string, dns: readonly string[]): Promise<(string | null)[]> {
    if (dns.length === 0) return [];
    const out: (string | null)[] = [];
    for (let i = 0; i < dns.length; i += 1000)
      out.push(...(await this.redis.hmget(this.keys.scimDns(cfg), ...dns.slice(i, i + 1000).map((d) => d.toLowerCase()))));
    return out;
  }

  async groupsListing(cfg: string, dns: readonly string[]): Promise<string[][] | null> {
    const key = this.keys.scimListed(cfg);
    if (dns.length === 0 || (await this.redis.exists(key)) === 0) return null;
    const out: string[][] = [];
    // One ZRANGEBYLEX per DN, a pipeline of them at a time (one key: one slot).
    for (let i = 0; i < dns.length; i += 1000) {
      const part = dns.slice(i, i + 1000);
      const p = this.redis.pipeline();
      for (const dn of part) p.zrangebylex(key, `[${dn.toLowerCase()}\u0000`, `(${dn.toLowerCase()}\u0001`);
      const results = (await p.exec()) ?? [];
      results.forEach(([error, value], j) => {
        if (error) throw error;
        const prefix = part[j]!.toLowerCase().length + 1;
        out.push((value as string[]).map((m) => m.slice(prefix)));
      });
    }
    return out;
  }

  unsettledGroups(cfg: string): Promise<string[]> {
    return this.redis.smembers(this.keys.scimUnsettled(cfg));
  }

  write(unit: UnitOfWork, cfg: string, w: ScimRecordWrites): void {
    const tx = transactionOf(unit);
    if (w.staleDns.length > 0) queueEncoded(tx, 'hdel', [this.keys.scimDns(cfg), ...w.staleDns.map((d) => d.toLowerCase())]);
    if (w.remove.length > 0) queueEncoded(tx, 'hdel', [this.keys.scimRecords(cfg), ...w.remove]);
    if (w.put.length > 0) {
      queueEncoded(tx, 'hset', [this.keys.scimRecords(cfg), ...w.put.flatMap(([id, r]) => [id, JSON.stringify(r)])]);
      queueEncoded(tx, 'hset', [this.keys.scimDns(cfg), ...w.put.flatMap(([, r]) => [r.dn.toLowerCase(), r.id])]);
    }
    const listed = this.keys.scimListed(cfg);
    if (w.listed.remove.length > 0) queueEncoded(tx, 'zrem', [listed, ...w.listed.remove.map(([dn, g]) => listing(dn, g))]);
    if (w.listed.add.length > 0) queueEncoded(tx, 'zadd', [listed, ...w.listed.add.flatMap(([dn, g]) => ['0', listing(dn, g)])]);
    const unsettled = this.keys.scimUnsettled(cfg);
    if (w.unsettled.remove.length > 0) queueEncoded(tx, 'srem', [unsettled, ...w.unsettled.remove]);
    if (w.unsettled.add.length > 0) queueEncoded(tx, 'sadd', [unsettled, ...w.unsettled.add]);
  }

  async removeAll(cfg: string): Promise<void> {
    await this.redis.del(
      this.keys.scimRecords(cfg),
      this.keys.scimDns(cfg),
      this.keys.scimListed(cfg),
      this.keys.scimUnsettled(cfg),
    );
  }
}

import { Control, type Entry } from 'ldapts';
import { AgentError } from '../errors';
import type { LdapSource } from './ldap-source';

/** LDAP_SERVER_SHOW_DELETED_OID: searches return tombstones too. */
export const SHOW_DELETED_OID = '1.2.840.113556.1.4.417';

/** One object of the naming context whose uSNChanged is above the watermark. */
export interface UsnRecord {
  /** objectGUID, string form. */
  id: string;
  /** Its DN now (a tombstone's is under CN=Deleted Objects). */
  dn: string;
  deleted: boolean;
  /** An OU or container: moving or renaming it changes its descendants' DNs without changing their uSNChanged. */
  container: boolean;
}

const CONTAINER_CLASSES = new Set(['organizationalunit', 'container', 'builtindomain', 'domaindns', 'lostandfound']);

/**
 * Active Directory change tracking by update sequence numbers, on the cycle's connection:
 * every object of the naming context changed since a committed read's highestCommittedUSN,
 * tombstones included (the Show Deleted control). USNs are per domain controller: a
 * watermark is good only on the DC that gave it (`dsServiceName`), and only while the DC
 * still keeps the tombstones of what was deleted since (`tombstoneLifetime`).
 */
export class UsnLog {
  private constructor(
    private readonly source: LdapSource,
    /** The naming context that holds the scope. */
    readonly namingContext: string,
    /** The DC's `dsServiceName` (its NTDS Settings DN). */
    readonly dc: string,
    /** How long the DC keeps tombstones, in ms. */
    readonly tombstoneLifetimeMs: number,
  ) {}

  /**
   * The log for a scope, or a reason why it cannot serve: no naming context above the base,
   * or tombstones the bind DN may not read (an ordinary account sees none: give it read
   * access to `CN=Deleted Objects`, or DirSync-style replication rights).
   */
  static async open(source: LdapSource, baseDn: string): Promise<UsnLog | string> {
    const context = await source.namingContextOf(baseDn);
    if (!context) return `no naming context of the root DSE holds ${baseDn}`;
    const root = await source.readEntry('', '(objectClass=*)', ['dsServiceName', 'configurationNamingContext']);
    // Read or not, as the bind DN may: an error here only means "cannot serve".
    const deleted = await source
      .readEntry(`CN=Deleted Objects,${context}`, '(objectClass=*)', ['isDeleted'], [showDeleted()])
      .catch(() => undefined);
    const dc = first(root?.['dsServiceName']);
    if (!dc) return 'the root DSE names no dsServiceName';
    if (first(deleted?.['isDeleted']).toUpperCase() !== 'TRUE')
      return `the bind DN cannot read CN=Deleted Objects,${context} (tombstones): deletes would go unseen`;
    let lifetimeDays = 180;
    const configuration = first(root?.['configurationNamingContext']);
    if (configuration) {
      const ds = await source
        .readEntry(`CN=Directory Service,CN=Windows NT,CN=Services,${configuration}`, '(objectClass=*)', ['tombstoneLifetime'])
        .catch(() => undefined);
      const days = Number(first(ds?.['tombstoneLifetime']));
      if (Number.isFinite(days) && days > 0) lifetimeDays = days;
    }
    return new UsnLog(source, context, dc, lifetimeDays * 86_400_000);
  }

  /**
   * Every object of the naming context with uSNChanged >= `since`, page by page, tombstones
   * included. Throws on any failure: a read cut short is never taken as complete.
   */
  async *changedSince(since: string): AsyncGenerator<UsnRecord[]> {
    if (!/^\d+$/.test(since)) throw new AgentError('AGENT_ERR_INTERNAL', `not a USN: ${since}`);
    for await (const page of this.source.pagesOf({
      base: this.namingContext,
      filter: `(uSNChanged>=${since})`,
      attributes: ['objectGUID', 'objectClass', 'isDeleted'],
      pageSize: 1000,
      controls: [showDeleted()],
    })) {
      const records: UsnRecord[] = [];
      for (const entry of page) {
        const id = this.source.idOf(entry);
        if (!id) continue;
        records.push({
          id,
          dn: entry.dn,
          deleted: first(entry['isDeleted']).toUpperCase() === 'TRUE',
          container: classes(entry).some((c) => CONTAINER_CLASSES.has(c)),
        });
      }
      yield records;
    }
  }
}

function showDeleted(): Control {
  return new Control(SHOW_DELETED_OID, { critical: true });
}

function classes(entry: Entry): string[] {
  const v = entry['objectClass'];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((c) => String(c).toLowerCase());
}

function first(value: unknown): string {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (v === undefined || v === null) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

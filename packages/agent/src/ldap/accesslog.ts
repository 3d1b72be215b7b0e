import type { LdapSource } from './ldap-source';

/** One successful write as OpenLDAP's accesslog overlay recorded it. */
export interface LogRecord {
  /** `reqStart`: GeneralizedTime with microseconds, fixed width, so strings compare in time order. */
  start: string;
  /** `reqType`: add, modify, modrdn, delete (extended and others are skipped by the filter). */
  type: string;
  /** `reqDN`: the entry's DN before the operation. */
  dn: string;
  /** `reqEntryUUID` (OpenLDAP 2.5 and later); '' when the server does not record it. */
  entryUuid: string;
  /** modrdn: the entry's DN after the operation. */
  newDn?: string;
}

const ATTRIBUTES = ['reqStart', 'reqType', 'reqDN', 'reqEntryUUID', 'reqNewRDN', 'reqNewSuperior'];

/**
 * OpenLDAP's accesslog database (`overlay accesslog`, `logops writes`), read through the
 * cycle's own connection: the bind DN needs read access to `base`.
 */
export class Accesslog {
  constructor(
    private readonly source: LdapSource,
    readonly base: string,
  ) {}

  /** True when the log's suffix entry can be read (the log exists and the bind DN may read it). */
  async readable(): Promise<boolean> {
    try {
      return (await this.source.readEntry(this.base, '(objectClass=*)', ['1.1'])) !== undefined;
    } catch {
      return false;
    }
  }

  /** True while the log still holds the entry of this `reqStart` (a purge removes the oldest first). */
  async has(reqStart: string): Promise<boolean> {
    return (await this.source.readEntry(`reqStart=${reqStart},${this.base}`, '(objectClass=*)', ['1.1'])) !== undefined;
  }

  /** The newest `reqStart` at or after `since` (GeneralizedTime), or '' when the log has none. */
  async newestSince(since: string): Promise<string> {
    let newest = '';
    for await (const records of this.recordsAfter(since, true)) {
      for (const r of records) if (r.start > newest) newest = r.start;
    }
    return newest;
  }

  /**
   * Successful writes recorded after `after` (exclusive; from `after` on with `inclusive`),
   * page by page. Throws on any failure: a log read cut short is never taken as complete.
   */
  async *recordsAfter(after: string, inclusive = false): AsyncGenerator<LogRecord[]> {
    const filter = `(&(objectClass=auditWriteObject)(reqResult=0)(reqStart>=${after || '19700101000000Z'}))`;
    for await (const page of this.source.pagesOf({ base: this.base, filter, attributes: ATTRIBUTES, pageSize: 1000 })) {
      const records: LogRecord[] = [];
      for (const entry of page) {
        const start = first(entry['reqStart']);
        if (!start || (!inclusive && start === after)) continue;
        const type = first(entry['reqType']);
        const dn = first(entry['reqDN']);
        const record: LogRecord = { start, type, dn, entryUuid: first(entry['reqEntryUUID']) };
        if (type === 'modrdn') {
          const superior = first(entry['reqNewSuperior']) || parentDn(dn);
          const rdn = first(entry['reqNewRDN']);
          record.newDn = superior ? `${rdn},${superior}` : rdn;
        }
        records.push(record);
      }
      yield records;
    }
  }
}

function first(value: unknown): string {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (v === undefined || v === null) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** The parent of a DN ('' for a one-RDN DN); commas escaped with a backslash stay in their RDN. */
export function parentDn(dn: string): string {
  const at = dn.search(/(?<!\\),/);
  return at < 0 ? '' : dn.slice(at + 1);
}

/** True when `dn` is `base` or below it (case-insensitive, spaces after commas ignored). */
export function isUnder(dn: string, base: string): boolean {
  const d = normalize(dn);
  const b = normalize(base);
  return d === b || d.endsWith(`,${b}`);
}

function normalize(dn: string): string {
  return dn
    .replace(/\s*(?<!\\),\s*/g, ',')
    .trim()
    .toLowerCase();
}

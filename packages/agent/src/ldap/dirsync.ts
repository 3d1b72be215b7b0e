import { Ber, BerWriter, Control, EqualityFilter, OrFilter, type BerReader, type Entry, type Filter } from 'ldapts';
import { AgentError } from '../errors';
import type { LdapSource } from './ldap-source';

/** LDAP_SERVER_DIRSYNC_OID (MS-ADTS 3.1.1.3.4.1.3). */
export const DIRSYNC_OID = '1.2.840.113556.1.4.841';

/**
 * Request flags (MS-ADTS 3.1.1.3.4.1.3). The agent sends none of them:
 * - LDAP_DIRSYNC_OBJECT_SECURITY (0x1) would return only what the bind DN may read, which
 *   for an ordinary account leaves out the tombstones (deletes would go unseen); without it
 *   the server requires the "Replicating Directory Changes" right instead;
 * - LDAP_DIRSYNC_ANCESTORS_FIRST_ORDER (0x800) orders parents before children, which only
 *   matters to a consumer that creates objects in the order it reads them;
 * - LDAP_DIRSYNC_INCREMENTAL_VALUES (0x80000000) would send a changed `member` as the values
 *   added (`member;range=1-1`) and removed (`member;range=0-0`); without it a group whose
 *   members changed shows its whole member list. The agent reads changed objects whole anyway.
 */
export const DIRSYNC_FLAGS = 0;
/** Most bytes one DirSync answer may hold (the value .NET's DirSyncRequestControl sends); Samba ignores it. */
const MAX_BYTES = 1_048_576;

/** The DirSync request and response control; ldapts parses the response into the request's instance. */
export class DirSyncControl extends Control {
  /** From the response: the server has more changes for another search with {@link responseCookie}. */
  moreResults = false;
  /** From the response: the cookie to send next; undefined until a response came. */
  responseCookie?: Buffer;

  constructor(private readonly cookie: Buffer) {
    super(DIRSYNC_OID, { critical: true });
  }

  override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(DIRSYNC_FLAGS);
    value.writeInt(MAX_BYTES);
    value.writeBuffer(this.cookie, Ber.OctetString);
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }

  override parseControl(reader: BerReader): void {
    // SEQUENCE { moreResults INTEGER, unused INTEGER, cookie OCTET STRING }
    if (reader.readSequence() === null) return;
    this.moreResults = (reader.readInt() ?? 0) !== 0;
    reader.readInt();
    this.responseCookie = reader.readString(Ber.OctetString, true) ?? Buffer.alloc(0);
  }
}

/** One object DirSync reports changed since the cookie. */
export interface DirSyncRecord {
  /** objectGUID, string form. */
  id: string;
  /** Its DN now (a tombstone's is under CN=Deleted Objects). */
  dn: string;
  deleted: boolean;
  /**
   * Its name or place changed (the `name` attribute, whose replication metadata a rename or
   * a move updates) and it was not created since the cookie (no `whenCreated`): a renamed or
   * moved container's descendants have new DNs that DirSync does not report.
   */
  movedOrRenamed: boolean;
}

/**
 * The objects DirSync searches for: what the agent syncs, and the containers whose moves
 * change their descendants' DNs (a tombstone keeps its objectClass, not its objectCategory).
 */
const CHANGED_FILTER = '(|(objectClass=user)(objectClass=group)(objectClass=organizationalUnit)(objectClass=container))';
/** The nil GUID: no object has it, so a search for it returns a fresh cookie and nothing else, from the index. */
const NO_OBJECT = new EqualityFilter({ attribute: 'objectGUID', value: Buffer.alloc(16) });

/**
 * Active Directory change tracking by DirSync (MS-ADTS 3.1.1.3.4.1.3) on the cycle's
 * connection. A cookie is the server's own bookmark: a search with it returns the objects of
 * the naming context changed since (with only their changed attributes, tombstones with
 * `isDeleted`), and a new cookie. DirSync searches the naming context's root only, so the
 * agent applies its base and filter itself. Without the OBJECT_SECURITY flag the bind DN
 * needs the "Replicating Directory Changes" right on the naming context.
 */
export class DirSyncLog {
  private constructor(
    private readonly source: LdapSource,
    /** The naming context that holds the scope. */
    readonly namingContext: string,
    /** The DC's `dsServiceName`: a cookie is kept with the DC that gave it. */
    readonly dc: string,
  ) {}

  /** The log for a scope, or a reason why it cannot serve (no naming context above the base, no dsServiceName). */
  static async open(source: LdapSource, baseDn: string): Promise<DirSyncLog | string> {
    const context = await source.namingContextOf(baseDn);
    if (!context) return `no naming context of the root DSE holds ${baseDn}`;
    const root = await source.readEntry('', '(objectClass=*)', ['dsServiceName']);
    const dc = first(root?.['dsServiceName']);
    if (!dc) return 'the root DSE names no dsServiceName';
    return new DirSyncLog(source, context, dc);
  }

  /**
   * A cookie as of now, from a DirSync search that matches no object (also the check that
   * the bind DN may use DirSync). Throws an AgentError with the server's result code when
   * the server refuses.
   */
  async freshCookie(): Promise<Buffer> {
    return (await this.search(Buffer.alloc(0), NO_OBJECT, () => undefined)).cookie;
  }

  /**
   * Every object of {@link CHANGED_FILTER} changed since `cookie`, and the cookie to commit
   * with this read. Follows `moreResults` to the end; throws on any failure (an AgentError
   * with `ldapResultCode` when the server answered with an error, such as a cookie it
   * refuses): a read cut short is never taken as complete.
   */
  async changesSince(cookie: Buffer): Promise<{ records: DirSyncRecord[]; cookie: Buffer }> {
    const records: DirSyncRecord[] = [];
    const result = await this.search(cookie, CHANGED_FILTER, (entry) => {
      const id = this.source.idOf(entry);
      if (!id) return;
      const deleted = first(entry['isDeleted']).toUpperCase() === 'TRUE';
      records.push({
        id,
        dn: entry.dn,
        deleted,
        movedOrRenamed: !deleted && has(entry, 'name') && !has(entry, 'whenCreated'),
      });
    });
    return { records, cookie: result.cookie };
  }

  /** Of these ids, the containers (OUs and containers), by objectGUID from the naming context: id -> DN. */
  async containersAmong(ids: readonly string[], assertion: (id: string) => Filter | undefined): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (let i = 0; i < ids.length; i += 100) {
      const filters = ids
        .slice(i, i + 100)
        .map(assertion)
        .filter((f): f is Filter => f !== undefined);
      if (filters.length === 0) continue;
      const byId = filters.length === 1 ? filters[0]! : new OrFilter({ filters });
      for await (const page of this.source.pagesOf({
        base: this.namingContext,
        filter: byId,
        attributes: ['objectGUID', 'objectClass'],
      })) {
        for (const entry of page) {
          const id = this.source.idOf(entry);
          if (id && isContainer(entry)) out.set(id, entry.dn);
        }
      }
    }
    return out;
  }

  private async search(
    cookie: Buffer,
    filter: string | EqualityFilter,
    onEntry: (entry: Entry) => void,
  ): Promise<{ cookie: Buffer }> {
    let next = cookie;
    for (let round = 0; ; round++) {
      const control = new DirSyncControl(next);
      await this.source.searchWithControl(
        this.namingContext,
        filter,
        // Every attribute: DirSync leaves out an object none of whose requested attributes changed.
        ['*', 'objectGUID'],
        control,
        onEntry,
      );
      if (control.responseCookie === undefined) {
        throw new AgentError('AGENT_ERR_LDAP_OTHER', 'the directory answered a DirSync search without the DirSync control', {
          ldapResultCode: 80,
        });
      }
      next = control.responseCookie;
      if (!control.moreResults) return { cookie: next };
      if (round > 100_000) throw new AgentError('AGENT_ERR_INTERNAL', 'DirSync: moreResults without end');
    }
  }
}

const CONTAINER_CLASSES = new Set(['organizationalunit', 'container']);

function isContainer(entry: Entry): boolean {
  const v = entry['objectClass'];
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.some((c) => CONTAINER_CLASSES.has(String(c).toLowerCase()));
}

function has(entry: Entry, name: string): boolean {
  const lower = name.toLowerCase();
  for (const key in entry) if (key.toLowerCase() === lower) return true;
  return false;
}

function first(value: unknown): string {
  const v = Array.isArray(value) ? (value as unknown[])[0] : value;
  if (v === undefined || v === null) return '';
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

/** A cookie as stored in a watermark (base64), and back. */
export function encodeCookie(cookie: Buffer): string {
  return cookie.toString('base64');
}

export function decodeCookie(text: string): Buffer {
  return Buffer.from(text, 'base64');
}

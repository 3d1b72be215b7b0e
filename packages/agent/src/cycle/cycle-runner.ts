import { completeRanges, hasRanges } from '../ldap/ranged';
import type { Logger } from 'pino';
import { AndFilter, FilterParser, OrFilter, type Entry, type Filter } from 'ldapts';
import {
  ChangeKind,
  ChangeTracking,
  CycleMode,
  DeleteCause,
  ObjectType,
  batchOverheadBytes,
  encodedChangeSize,
  type Change,
  type CycleComplete,
  type StartCycle,
} from '@syncguard/protocol';
import { AgentError } from '../errors';
import type { CachedObject, CycleCounts, ObjectRow, StateStore } from '../cache/state-store';
import type { AttributeFilter } from '../ldap/attribute-filter';
import { entryId, idAttribute, mapEntry, type DirectoryFlavor, type MapOptions, type SourceObject } from '../ldap/entry-mapper';
import { LdapSource, validateFilter, type LdapSourceOptions } from '../ldap/ldap-source';
import type { Outbox } from '../transport/outbox';
import { scopeFilter, validateScope } from './scope';
import { Accesslog, isUnder, type LogRecord } from '../ldap/accesslog';
import { DELETED, FILTERED_OUT, UNKNOWN, idAssertion, locateByIds, reasonAt, type DeleteReason } from '../ldap/locate';
import { UsnLog, type UsnRecord } from '../ldap/usn';
import { DirSyncLog, decodeCookie, encodeCookie, type DirSyncRecord } from '../ldap/dirsync';
import { formatWatermark, parseWatermark, type Watermark } from './watermark';

export interface CyclePlan {
  start: StartCycle;
  /** The mode to run (FULL when DELTA cannot be honoured). */
  mode: CycleMode;
  /** Compare against an empty cache: the cache's committed cycle is not the controller's base. */
  rebase: boolean;
  /** DELTA: the committed read's watermark. */
  sinceWatermark: string;
  /** The read resumes a cycle interrupted by a restart: skip objects already sent unchanged. */
  resume: boolean;
  /** Sequence of the last batch already in the outbox (resume), else 0. */
  lastSequence: number;
}

export interface CycleDeps {
  store: StateStore;
  outbox: Outbox;
  ldap: LdapSourceOptions & { attributeFilter?: AttributeFilter };
  deltaSkewMs: number;
  /** How DELTA cycles find what changed (LDAP_CHANGE_TRACKING, LDAP_ACCESSLOG_BASE, LDAP_FULL_SCAN_INTERVAL). */
  tracking: { setting: 'auto' | 'dirsync' | 'accesslog' | 'usn' | 'scan'; accesslogBase: string; fullScanIntervalMs: number };
  /** Current limits (from the latest ControllerWelcome). */
  limits: () => { maxFrameBytes: number; maxBatchChanges: number };
  log: Logger;
  signal: AbortSignal;
}

const DELETE_CHUNK = 1000;
/** A scan's deletes whose new place is looked up by id, per cycle (100 ids a search): beyond, the cause is unknown. */
const MAX_LOCATED = 10_000;
/** entryUUIDs per search when reading the objects an accesslog names. */
const LOG_CHUNK = 100;
const HOUR_MS = 3_600_000;
/**
 * A batch being filled holds its changes' attribute values (the LDAP entries' own strings)
 * until it is encoded. If it lives through two of V8's young-generation collections, all
 * of that is promoted to the old generation, which then grows to about four times its
 * live size before a major collection: with 1,000 ADDs of even small entries (reading one
 * allocates about 20 KB) a batch outlives the 16 MB semi-space, and the agent peaked near
 * 150 MB instead of 110 MB. Flushing at this estimated size (about 250 such users) keeps
 * the batch young, also early in a read while V8's semi-space is still growing. It
 * counts changes with attributes or members only (ADD, MODIFY): PRESENT and DELETE
 * changes hold an id, a DN and a hash, and their batches keep `maxBatchChanges`.
 */
const BATCH_SOFT_BYTES = 256 * 1024;
const EMPTY = new Uint8Array(0);
const NO_CACHE: ReadonlyMap<string, CachedObject> = new Map();

/**
 * Reads one cycle's scope and streams its changes into the outbox. Deletes are computed
 * only after a complete read (SQLite anti-join of the cache against the ids the cycle
 * saw), so a read that fails part-way never yields a delete. Memory holds one LDAP page
 * and one batch at a time. Throws AgentError; the caller turns it into CycleFailed.
 */
export class CycleRunner {
  private sequence: number;
  private batch: Change[] = [];
  private batchRows: ObjectRow[] = [];
  private batchBytes = 0;
  /** Estimated bytes of the batch's changes that carry attributes or members (see BATCH_SOFT_BYTES). */
  private batchHeldBytes = 0;
  private batchCounts: CycleCounts = { adds: 0, modifies: 0, deletes: 0, presents: 0 };
  private entriesRead = 0;
  /** One bit per cache row: set when the read saw that object in scope. */
  private seen = new Uint8Array(0);
  private seenCount = 0;
  /** Resume only: what the interrupted run already sent (id -> kind and hash). */
  private resuming = false;
  /** The configuration's cache was empty when the read started, at this cache version (no lookups needed). */
  private emptyCacheVersion = -1;
  /**
   * DELTA: what the read of changed entries already classified (not to be read again): a
   * bit per cache row for cached objects, and the ids of objects the cache lacks. (A Set of
   * every id was 80 MB at 1M objects when everything had changed.)
   */
  private handledRows = new Uint8Array(0);
  private readonly handledNew = new Set<string>();
  /** DELTA: objects whose DN differs from the cache's (renamed or moved), and deletes sent. */
  private dnChanges = 0;
  private deletesSent = 0;
  /** Changes (not PRESENT) queued so far; with a consistency read, how many the log phase had queued (-1: none). */
  private changesSent = 0;
  private driftFrom = -1;
  /** A scan's deletes looked up by id so far, and whether a lookup failed (then no more are tried). */
  private located = 0;
  private locateFailed = false;
  /** DirSync: a cookie taken before this cycle's read, for a scan to leave to the next DELTA. */
  private dirsyncStart?: Buffer;
  private source?: LdapSource;
  private readonly configurationId: string;
  private readonly cycleId: string;

  constructor(
    private readonly plan: CyclePlan,
    private readonly deps: CycleDeps,
  ) {
    this.sequence = plan.lastSequence;
    this.configurationId = plan.start.configurationId;
    this.cycleId = plan.start.cycleId;
  }

  /** Runs the read; resolves with the CycleComplete to send. */
  async run(): Promise<CycleComplete> {
    const { start } = this.plan;
    validateScope(start.scope);
    const own = start.scope.filter.trim();
    if (own) validateFilter(own.startsWith('(') ? own : `(${own})`);
    const startedAt = Date.now();
    const onAbort = () => void this.source?.close();
    this.deps.signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.source = await LdapSource.connect(this.deps.ldap);
      this.checkAborted();
      const source = this.source;
      const flavor = source.flavor;
      const prev = parseWatermark(this.plan.sinceWatermark);
      const log = await this.usableLog(source, flavor);
      const dirsync = log ? undefined : await this.usableDirSync(source, flavor, prev);
      const usn = log || dirsync ? undefined : await this.usableUsn(source, flavor);
      const filter = scopeFilter(start.scope, flavor);
      const attributes = readAttributes(start.scope.attributes, start.scope.disabledAttribute, flavor);
      this.seen = new Uint8Array((this.deps.store.maxRowid() >> 3) + 1);
      this.handledRows = new Uint8Array(this.seen.length);
      // A first cycle: nothing to look up while no commit fills the cache.
      if (!this.deps.store.hasObjects(this.configurationId)) this.emptyCacheVersion = this.deps.store.cacheVersion;
      if (this.plan.resume) {
        this.deps.store.prepareResume(this.cycleId);
        this.resuming = true;
      }
      const full = this.plan.mode === CycleMode.CYCLE_MODE_FULL;
      let tracking = ChangeTracking.CHANGE_TRACKING_SCAN;
      // A full consistency read is due: the log first, then a scan; what the scan adds is drift.
      const due = Date.now() - prev.scannedAt >= this.deps.tracking.fullScanIntervalMs;
      const scannedAt = due ? startedAt : prev.scannedAt;
      const logged =
        !full &&
        (log !== undefined
          ? await this.readLog(log, prev, filter, attributes, flavor, scannedAt)
          : dirsync !== undefined
            ? await this.readDirSync(dirsync, prev, filter, attributes, flavor, scannedAt, startedAt)
            : usn !== undefined && (await this.readUsn(usn, prev, filter, attributes, flavor, scannedAt, startedAt)));
      if (logged && !due) {
        tracking = log
          ? ChangeTracking.CHANGE_TRACKING_ACCESSLOG
          : dirsync
            ? ChangeTracking.CHANGE_TRACKING_DIRSYNC
            : ChangeTracking.CHANGE_TRACKING_USN;
      } else if (logged) {
        await this.flush();
        const fromLog = this.changesSent;
        await this.readDelta(source, filter, attributes, flavor, prev.since, true);
        await this.flush();
        this.driftFrom = fromLog;
      } else {
        if (!this.plan.resume) {
          // Taken before the read: whatever changes from here on is read by the next DELTA.
          const since = await watermark(flavor, source, this.deps.deltaSkewMs);
          const wm: Watermark = { since, logAnchor: '', scannedAt: startedAt, dc: '', takenAt: 0, cookie: '' };
          if (log) wm.logAnchor = await this.scanAnchor(log, prev);
          if (usn) Object.assign(wm, { dc: usn.dc, takenAt: startedAt });
          if (dirsync) {
            // A new cookie, as of before the read: what changes during it is read again by the next DELTA.
            const cookie = this.dirsyncStart ?? (await this.newCookie(dirsync));
            if (cookie) Object.assign(wm, { dc: dirsync.dc, takenAt: startedAt, cookie: encodeCookie(cookie) });
          }
          this.deps.store.setWatermark(this.cycleId, log || usn || dirsync ? formatWatermark(wm) : since);
        }
        if (full) await this.readFull(source, filter, attributes, flavor);
        else await this.readDelta(source, filter, attributes, flavor, prev.since);
      }
      await this.flush();
      if (!this.plan.rebase && tracking === ChangeTracking.CHANGE_TRACKING_SCAN) await this.emitDeletes();
      const drift = this.driftFrom >= 0 ? this.changesSent - this.driftFrom : 0;
      if (this.driftFrom >= 0) {
        const message = `full consistency read (LDAP_FULL_SCAN_INTERVAL): changes the ${log ? 'accesslog' : dirsync ? 'DirSync read' : 'USN log'} did not show (drift)`;
        if (drift > 0) this.deps.log.warn({ drift }, message);
        else this.deps.log.info({ drift }, message);
      }
      if (this.plan.mode !== CycleMode.CYCLE_MODE_FULL && flavor === 'ad' && (this.deletesSent > 0 || this.dnChanges > 0)) {
        await this.rereadGroups(source, attributes, flavor);
      }
      await this.flush();
      const readDurationMs = Date.now() - startedAt;
      const counts = this.deps.store.cycle(this.cycleId)!;
      return {
        configurationId: this.configurationId,
        cycleId: this.cycleId,
        lastSequence: this.sequence,
        totals: { adds: counts.adds, modifies: counts.modifies, deletes: counts.deletes, presents: full ? counts.presents : 0 },
        source: { entriesRead: this.entriesRead, pages: source.pages, readDurationMs, serverUrl: source.serverUrl },
        mode: this.plan.mode,
        changeTracking: tracking,
        consistencyRead: this.driftFrom >= 0,
        drift,
      };
    } catch (error) {
      // Stopped from outside (abort, shutdown): report why, not the socket error it caused.
      if (this.deps.signal.aborted) this.checkAborted();
      throw error;
    } finally {
      this.deps.signal.removeEventListener('abort', onAbort);
      await this.source?.close();
    }
  }

  private mapOptions(flavor: DirectoryFlavor): MapOptions {
    const scope = this.plan.start.scope;
    return {
      flavor,
      objectTypes: scope.objectTypes,
      disabledAttribute: scope.disabledAttribute,
      attributes: this.deps.ldap.attributeFilter,
    };
  }

  private async readFull(source: LdapSource, filter: string, attributes: string[], flavor: DirectoryFlavor): Promise<void> {
    const scope = this.plan.start.scope;
    const mapOptions = this.mapOptions(flavor);
    for await (const page of source.pagesOf({ base: scope.baseDn, filter, attributes })) {
      this.checkAborted();
      await this.considerPage(page, mapOptions, true);
    }
  }

  private async readDelta(
    source: LdapSource,
    filter: string,
    attributes: string[],
    flavor: DirectoryFlavor,
    watermark: string,
    /** After a log read: leave out what it already read. */
    skipHandled = false,
  ): Promise<void> {
    const scope = this.plan.start.scope;
    const store = this.deps.store;
    const mapOptions = this.mapOptions(flavor);
    const since = flavor === 'ad' ? `(uSNChanged>=${watermark})` : `(modifyTimestamp>=${watermark})`;
    this.deps.log.debug({ since }, 'DELTA: reading entries changed since the committed read');
    // 1. Entries changed since the committed read, in full.
    for await (const page of source.pagesOf({ base: scope.baseDn, filter: `(&${filter}${since})`, attributes })) {
      this.checkAborted();
      await this.considerPage(skipHandled ? this.unhandled(page, flavor) : page, mapOptions, false);
    }
    // 2. Every id in scope (ids and DNs only): marks what is still in scope; a DN that differs
    //    from the cache (moved or renamed without a change of its own, e.g. a parent OU renamed)
    //    or an id the cache lacks is read again in full.
    const reread: string[] = [];
    const idAttr = idAttribute(flavor);
    // Id-only entries are small: larger pages mean fewer round trips at no memory cost.
    const pageSize = Math.max(this.deps.ldap.pageSize, 1000);
    for await (const page of source.pagesOf({ base: scope.baseDn, filter, attributes: [idAttr], pageSize })) {
      this.checkAborted();
      const ids: string[] = [];
      const dns: string[] = [];
      for (const entry of page) {
        this.entriesRead += 1;
        const id = entryId(entry, flavor);
        if (id) {
          ids.push(id);
          dns.push(entry.dn);
        }
      }
      const cached = store.lookupDns(this.configurationId, ids);
      for (let i = 0; i < ids.length; i++) {
        const hit = cached.get(ids[i]!);
        if (hit) this.markSeen(hit.rowid);
        const handled = hit ? bitSet(this.handledRows, hit.rowid) : this.handledNew.has(ids[i]!);
        if ((!hit || hit.dn !== dns[i]) && !handled) reread.push(dns[i]!);
      }
    }
    for (const dn of reread) {
      this.checkAborted();
      const entry = await source.readEntry(dn, filter, attributes);
      if (entry) await this.considerPage([entry], mapOptions, false, true);
    }
  }

  /**
   * The accesslog this cycle may read, or undefined: OpenLDAP only, unless LDAP_CHANGE_TRACKING
   * is `scan`; a log that cannot be read means a scan (said at warn when `accesslog` was asked).
   */
  private async usableLog(source: LdapSource, flavor: DirectoryFlavor): Promise<Accesslog | undefined> {
    const { setting, accesslogBase } = this.deps.tracking;
    if (setting === 'scan') return undefined;
    if (flavor !== 'openldap') {
      if (setting === 'accesslog') this.deps.log.warn('LDAP_CHANGE_TRACKING=accesslog: the directory is not OpenLDAP; scanning');
      return undefined;
    }
    const log = new Accesslog(source, accesslogBase);
    if (await log.readable()) return log;
    const message = `the accesslog ${accesslogBase} (LDAP_ACCESSLOG_BASE) cannot be read; scanning`;
    if (setting === 'accesslog') this.deps.log.warn(message);
    else this.deps.log.debug(message);
    return undefined;
  }

  /**
   * Active Directory's DirSync this cycle may use, or undefined: AD only, with
   * LDAP_CHANGE_TRACKING `auto` or `dirsync`. With a committed cookie of this DC the DELTA's
   * read itself says whether the server still takes it; without one a DirSync search that
   * matches nothing checks that the bind DN may use DirSync (the "Replicating Directory
   * Changes" right) and gives the cookie a scan leaves to the next DELTA. A refusal means USN
   * (`auto`) or a scan (`dirsync`, said at warn); a connection that fails fails the cycle.
   */
  private async usableDirSync(source: LdapSource, flavor: DirectoryFlavor, prev: Watermark): Promise<DirSyncLog | undefined> {
    const { setting } = this.deps.tracking;
    if (setting !== 'auto' && setting !== 'dirsync') return undefined;
    if (flavor !== 'ad') {
      if (setting === 'dirsync')
        this.deps.log.warn('LDAP_CHANGE_TRACKING=dirsync: the directory is not Active Directory; scanning');
      return undefined;
    }
    const fallback = setting === 'auto' ? 'trying USN change tracking' : 'scanning';
    const opened = await DirSyncLog.open(source, this.plan.start.scope.baseDn).catch(
      (error: unknown) => `the root DSE could not be read (${(error as Error).message})`,
    );
    if (typeof opened === 'string') {
      const message = `DirSync cannot serve: ${opened}; ${fallback}`;
      if (setting === 'dirsync') this.deps.log.warn(message);
      else this.deps.log.debug(message);
      return undefined;
    }
    if (this.plan.mode !== CycleMode.CYCLE_MODE_FULL && prev.cookie !== '' && prev.dc === opened.dc) return opened;
    try {
      this.dirsyncStart = await opened.freshCookie();
      return opened;
    } catch (error) {
      this.checkAborted();
      if (!(error instanceof AgentError) || error.ldapResultCode === 0) throw error;
      const message = `DirSync cannot serve: the directory refused it (result ${error.ldapResultCode}; without the OBJECT_SECURITY flag the bind DN needs the Replicating Directory Changes right on ${opened.namingContext}); ${fallback}`;
      if (setting === 'dirsync') this.deps.log.warn({ err: error.message }, message);
      else this.deps.log.debug({ err: error.message }, message);
      return undefined;
    }
  }

  /** A cookie as of now for a scan to leave to the next DELTA, or undefined (said at warn) when the server refuses one. */
  private async newCookie(dirsync: DirSyncLog): Promise<Buffer | undefined> {
    try {
      return await dirsync.freshCookie();
    } catch (error) {
      this.checkAborted();
      if (!(error instanceof AgentError) || error.ldapResultCode === 0) throw error;
      this.deps.log.warn(
        { err: error.message },
        `DirSync: the directory refused a new cookie (result ${error.ldapResultCode}); the next cycle scans too`,
      );
      return undefined;
    }
  }

  /**
   * DirSync DELTA (Active Directory): reads what changed in the naming context since the
   * committed cookie (ids, DNs, tombstones; DirSync gives only the changed attributes, so the
   * changed objects under the base are then read whole by objectGUID with the scope's filter).
   * A renamed or moved OU or container also names every object below its new DN (their DNs
   * changed without a change of their own). A cached object named that is not read in scope
   * left it: a tombstone is deleted, a DN outside the base moved out of scope (with that DN),
   * one under it filtered out. Deletes are sent only after every read succeeded. Returns false,
   * before sending anything, when DirSync cannot serve this cycle (no cookie of this DC, or
   * a cookie the server refuses: expired, of another server or domain; said at warn): the
   * caller scans, and the scan leaves a new cookie.
   */
  private async readDirSync(
    dirsync: DirSyncLog,
    prev: Watermark,
    filter: string,
    attributes: string[],
    flavor: DirectoryFlavor,
    scannedAt: number,
    startedAt: number,
  ): Promise<boolean> {
    const why =
      prev.cookie === ''
        ? 'no DirSync cookie yet'
        : prev.dc !== dirsync.dc
          ? `the cookie is of another domain controller (${prev.dc || 'unknown'})`
          : '';
    if (why) {
      this.deps.log.info({ reason: why }, 'DirSync: scanning instead');
      return false;
    }
    const source = this.source!;
    // For a consistency read after this one (uSNChanged), taken before the reads like the cookie.
    const next = await source.highestCommittedUsn();
    let read: { records: DirSyncRecord[]; cookie: Buffer };
    try {
      read = await dirsync.changesSince(decodeCookie(prev.cookie));
    } catch (error) {
      this.checkAborted();
      if (!(error instanceof AgentError) || error.ldapResultCode === 0) throw error;
      this.deps.log.warn(
        { resultCode: error.ldapResultCode, err: error.message },
        'DirSync: the directory refused the committed cookie (expired, or of another server or domain); scanning, and the scan starts a new cookie',
      );
      return false;
    }
    this.deps.log.debug({ records: read.records.length }, 'DirSync: read');
    this.deps.store.setWatermark(
      this.cycleId,
      formatWatermark({
        since: next,
        logAnchor: '',
        scannedAt,
        dc: dirsync.dc,
        takenAt: startedAt,
        cookie: encodeCookie(read.cookie),
      }),
    );
    const scope = this.plan.start.scope;
    const base = scope.baseDn;
    // Where each named object is now (the last record of an object wins).
    const named = new Map<string, DirSyncRecord>();
    for (const r of read.records) named.set(r.id, r);
    const moved = read.records.filter((r) => r.movedOrRenamed);
    if (moved.length > 0) {
      const containers = await dirsync.containersAmong(
        moved.map((r) => r.id),
        (id) => idAssertion(flavor, id),
      );
      const types = scopeFilter({ ...scope, filter: '' }, flavor);
      for (const dn of containers.values()) {
        this.deps.log.debug({ container: dn }, 'DirSync: an OU or container was moved or renamed; naming the objects below it');
        try {
          for await (const page of source.pagesOf({
            base: dn,
            filter: types,
            attributes: [idAttribute(flavor)],
            pageSize: 1000,
          })) {
            this.checkAborted();
            for (const entry of page) {
              const id = entryId(entry, flavor);
              if (id && !named.has(id)) named.set(id, { id, dn: entry.dn, deleted: false, movedOrRenamed: true });
            }
          }
        } catch (error) {
          // Moved again or deleted since: the objects below it are reported where they are now.
          if (!(error instanceof AgentError && error.code === 'AGENT_ERR_LDAP_NO_SUCH_OBJECT')) throw error;
        }
      }
    }
    const store = this.deps.store;
    const mapOptions = this.mapOptions(flavor);
    const scopeTree = FilterParser.parseString(filter);
    const records = [...named.values()];
    /** Cached objects named that left the scope, with why; sent after every read. */
    const gone: { id: string; reason: DeleteReason }[] = [];
    for (let i = 0; i < records.length; i += DELETE_CHUNK) {
      this.checkAborted();
      const chunk = records.slice(i, i + DELETE_CHUNK);
      const cached = store.lookupDns(
        this.configurationId,
        chunk.map((r) => r.id),
      );
      const toRead: string[] = [];
      for (const r of chunk) {
        if (r.deleted) {
          if (cached.has(r.id)) gone.push({ id: r.id, reason: DELETED });
        } else if (isUnder(r.dn, base)) toRead.push(r.id);
        else if (cached.has(r.id)) gone.push({ id: r.id, reason: reasonAt(r.dn, base) });
      }
      // The objects under the base, whole, by objectGUID and the scope's filter.
      for (let j = 0; j < toRead.length; j += LOG_CHUNK) {
        const ids = toRead.slice(j, j + LOG_CHUNK).filter((id) => !this.handled(id));
        const assertions = ids.map((id) => idAssertion(flavor, id)).filter((a): a is Filter => a !== undefined);
        if (assertions.length === 0) continue;
        const byId = assertions.length === 1 ? assertions[0]! : new OrFilter({ filters: assertions });
        for await (const page of source.pagesOf({ base, filter: new AndFilter({ filters: [scopeTree, byId] }), attributes })) {
          this.checkAborted();
          await this.considerPage(this.unhandled(page, flavor), mapOptions, false);
        }
        for (const id of ids) if (!this.handled(id) && cached.has(id)) gone.push({ id, reason: FILTERED_OUT });
      }
    }
    // Only after every read succeeded: the named objects that left the scope.
    for (let i = 0; i < gone.length; i += DELETE_CHUNK) {
      this.checkAborted();
      const chunk = gone.slice(i, i + DELETE_CHUNK);
      const cached = store.lookup(
        this.configurationId,
        chunk.map((g) => g.id),
      );
      const sent = this.resuming ? store.resumeLookup(this.cycleId, [...cached.keys()]) : undefined;
      for (const g of chunk) {
        const m = cached.get(g.id);
        if (!m || bitSet(this.handledRows, m.rowid)) continue;
        this.markSeen(m.rowid);
        this.handledRows = withBit(this.handledRows, m.rowid);
        if (sent?.get(g.id)?.kind === ChangeKind.CHANGE_KIND_DELETE) continue;
        await this.add(deleteChange(g.id, m.type, m.dn, g.reason), {
          id: g.id,
          kind: ChangeKind.CHANGE_KIND_DELETE,
          type: m.type,
          dn: m.dn,
          hash: null,
        });
        this.deletesSent += 1;
      }
    }
    return true;
  }

  /**
   * Active Directory's USN log this cycle may read, or undefined: AD only, with
   * LDAP_CHANGE_TRACKING `auto` or `usn`; a bind DN that cannot read tombstones means a scan
   * (said at warn when `usn` was asked).
   */
  private async usableUsn(source: LdapSource, flavor: DirectoryFlavor): Promise<UsnLog | undefined> {
    const { setting } = this.deps.tracking;
    if (setting !== 'auto' && setting !== 'usn') return undefined;
    if (flavor !== 'ad') {
      if (setting === 'usn') this.deps.log.warn('LDAP_CHANGE_TRACKING=usn: the directory is not Active Directory; scanning');
      return undefined;
    }
    const opened = await UsnLog.open(source, this.plan.start.scope.baseDn).catch(
      (error: unknown) => `the root DSE could not be read (${(error as Error).message})`,
    );
    if (typeof opened !== 'string') return opened;
    const message = `USN change tracking cannot serve: ${opened}; scanning`;
    if (setting === 'usn') this.deps.log.warn(message);
    else this.deps.log.debug(message);
    return undefined;
  }

  /**
   * USN DELTA (Active Directory): reads the naming context's objects changed since the
   * committed read's highestCommittedUSN (ids, DNs and tombstones only), then the scope's
   * changed entries in full; a cached object the first read names that is not among them
   * left the scope: a tombstone is deleted, a DN outside the base moved out of scope, one
   * under it filtered out. Deletes are sent only after both reads succeeded. Returns false,
   * before sending anything, when the USNs cannot serve this cycle (no watermark of this DC,
   * one older than the tombstone lifetime, an OU or container changed: its descendants' DNs
   * change without their own USN): the caller scans.
   */
  private async readUsn(
    usn: UsnLog,
    prev: Watermark,
    filter: string,
    attributes: string[],
    flavor: DirectoryFlavor,
    scannedAt: number,
    startedAt: number,
  ): Promise<boolean> {
    const scope = this.plan.start.scope;
    const why = !/^\d+$/.test(prev.since)
      ? 'no USN read yet'
      : prev.dc !== usn.dc
        ? `the last read was of another domain controller (${prev.dc || 'unknown'}), and USNs are per DC`
        : startedAt - prev.takenAt > usn.tombstoneLifetimeMs - 86_400_000
          ? 'the last read is older than the tombstone lifetime: deletes since may be gone'
          : '';
    if (why) {
      this.deps.log.info({ reason: why }, 'USN change tracking: scanning instead');
      return false;
    }
    // Taken before the reads: whatever changes from here on is read by the next DELTA.
    const next = await this.source!.highestCommittedUsn();
    // The committed read started after every change up to its highestCommittedUSN: read from the next one.
    const after = (BigInt(prev.since) + 1n).toString();
    const records: UsnRecord[] = [];
    for await (const page of usn.changedSince(after)) {
      this.checkAborted();
      records.push(...page);
    }
    const container = records.find((r) => r.container && !r.deleted);
    if (container) {
      this.deps.log.info({ container: container.dn }, 'USN change tracking: an OU or container changed; scanning instead');
      return false;
    }
    this.deps.log.debug({ records: records.length, since: prev.since, next }, 'USN change tracking: read');
    this.deps.store.setWatermark(
      this.cycleId,
      formatWatermark({ since: next, logAnchor: '', scannedAt, dc: usn.dc, takenAt: startedAt, cookie: '' }),
    );
    const mapOptions = this.mapOptions(flavor);
    const since = `(uSNChanged>=${after})`;
    for await (const page of this.source!.pagesOf({ base: scope.baseDn, filter: `(&${filter}${since})`, attributes })) {
      this.checkAborted();
      await this.considerPage(page, mapOptions, false);
    }
    // Only after both reads succeeded: the named objects not read in scope.
    const store = this.deps.store;
    for (let i = 0; i < records.length; i += DELETE_CHUNK) {
      this.checkAborted();
      const chunk = records.slice(i, i + DELETE_CHUNK);
      const cached = store.lookup(
        this.configurationId,
        chunk.map((r) => r.id),
      );
      if (cached.size === 0) continue;
      const sent = this.resuming ? store.resumeLookup(this.cycleId, [...cached.keys()]) : undefined;
      for (const r of chunk) {
        const m = cached.get(r.id);
        if (!m || bitSet(this.handledRows, m.rowid)) continue;
        this.markSeen(m.rowid);
        this.handledRows = withBit(this.handledRows, m.rowid);
        if (sent?.get(r.id)?.kind === ChangeKind.CHANGE_KIND_DELETE) continue;
        await this.add(deleteChange(r.id, m.type, m.dn, r.deleted ? DELETED : reasonAt(r.dn, scope.baseDn)), {
          id: r.id,
          kind: ChangeKind.CHANGE_KIND_DELETE,
          type: m.type,
          dn: m.dn,
          hash: null,
        });
        this.deletesSent += 1;
      }
    }
    return true;
  }

  /**
   * The log anchor a scan leaves for the next DELTA: the newest log entry of the last hour
   * (or of the skew window, if longer), else of the last day, before the read (anything after
   * it is read again next time, which changes nothing), or the previous anchor while the log
   * still holds it; '' when none is known (the next DELTA scans again).
   */
  private async scanAnchor(log: Accesslog, prev: Watermark): Promise<string> {
    const now = Date.now();
    for (const windowMs of [Math.max(this.deps.deltaSkewMs, HOUR_MS), 24 * HOUR_MS]) {
      const newest = await log.newestSince(generalizedTime(now - windowMs));
      if (newest) return newest;
    }
    return prev.logAnchor && (await log.has(prev.logAnchor)) ? prev.logAnchor : '';
  }

  /**
   * accesslog DELTA: reads the successful writes logged after the committed anchor, then the
   * objects they name by entryUUID (current content, in chunks), and the subtrees of renamed
   * or moved entries (their descendants' DNs changed without a record of their own). A named
   * object that is cached but no longer in scope is a delete (deleted, moved out, filtered out).
   * Returns false, before sending anything, when the log cannot serve this cycle (no anchor,
   * the anchor purged, a full scan due, records without reqEntryUUID): the caller scans.
   */
  private async readLog(
    log: Accesslog,
    prev: Watermark,
    filter: string,
    attributes: string[],
    flavor: DirectoryFlavor,
    scannedAt: number,
  ) {
    const why =
      prev.logAnchor === ''
        ? 'no log entry read yet'
        : !(await log.has(prev.logAnchor))
          ? `the log no longer holds the last entry read (${prev.logAnchor}): purged`
          : '';
    if (why) {
      this.deps.log.info({ reason: why }, 'accesslog: scanning instead');
      return false;
    }
    const since = generalizedTime(Date.now() - this.deps.deltaSkewMs);
    const scope = this.plan.start.scope;
    const records: LogRecord[] = [];
    let newest = prev.logAnchor;
    for await (const page of log.recordsAfter(prev.logAnchor)) {
      this.checkAborted();
      for (const r of page) {
        if (r.start > newest) newest = r.start;
        if (isUnder(r.dn, scope.baseDn) || (r.newDn !== undefined && isUnder(r.newDn, scope.baseDn))) records.push(r);
      }
    }
    if (records.some((r) => !/^[0-9a-f-]{36}$/i.test(r.entryUuid))) {
      this.deps.log.info('accesslog: records without reqEntryUUID (OpenLDAP before 2.5); scanning instead');
      return false;
    }
    this.deps.log.debug({ records: records.length, after: prev.logAnchor, newest }, 'accesslog: read');
    this.deps.store.setWatermark(
      this.cycleId,
      formatWatermark({ since, logAnchor: newest, scannedAt, dc: '', takenAt: 0, cookie: '' }),
    );
    const store = this.deps.store;
    const source = this.source!;
    const mapOptions = this.mapOptions(flavor);
    const ids = new Set(records.map((r) => r.entryUuid.toLowerCase()));
    for (const r of records) {
      if (r.type !== 'modrdn' || r.newDn === undefined) continue;
      for (const id of store.idsUnder(this.configurationId, r.dn)) ids.add(id);
      if (!isUnder(r.newDn, scope.baseDn)) continue;
      try {
        for await (const page of source.pagesOf({ base: r.newDn, filter, attributes })) {
          this.checkAborted();
          await this.considerPage(this.unhandled(page, flavor), mapOptions, false);
        }
      } catch (error) {
        // Renamed again or deleted since: the later records name its entries.
        if (!(error instanceof AgentError && error.code === 'AGENT_ERR_LDAP_NO_SUCH_OBJECT')) throw error;
      }
    }
    const reasons = this.logReasons(records);
    const list = [...ids];
    const gone: string[] = [];
    for (let i = 0; i < list.length; i += LOG_CHUNK) {
      this.checkAborted();
      const chunk = list.slice(i, i + LOG_CHUNK).filter((id) => !this.handled(id));
      if (chunk.length === 0) continue;
      const byId = `(&${filter}(|${chunk.map((id) => `(entryUUID=${id})`).join('')}))`;
      for await (const page of source.pagesOf({ base: scope.baseDn, filter: byId, attributes })) {
        await this.considerPage(this.unhandled(page, flavor), mapOptions, false);
      }
      for (const id of chunk) if (!this.handled(id)) gone.push(id);
    }
    // Only after every read the log asked for succeeded: the named objects not found in scope.
    for (let i = 0; i < gone.length; i += LOG_CHUNK) {
      const chunk = gone.slice(i, i + LOG_CHUNK);
      const cached = store.lookup(this.configurationId, chunk);
      const sent = this.resuming ? store.resumeLookup(this.cycleId, [...cached.keys()]) : undefined;
      for (const [id, m] of cached) {
        // Accounted for: a consistency scan after the log must not delete it again.
        this.markSeen(m.rowid);
        if (sent?.get(id)?.kind === ChangeKind.CHANGE_KIND_DELETE) continue;
        await this.add(deleteChange(id, m.type, m.dn, reasons.get(id) ?? FILTERED_OUT), {
          id,
          kind: ChangeKind.CHANGE_KIND_DELETE,
          type: m.type,
          dn: m.dn,
          hash: null,
        });
      }
    }
    return true;
  }

  /**
   * Why the objects the log names left the scope, from the log itself, record by record in
   * time order: deleted, or moved by a modrdn of their own or of an ancestor (to the DN it
   * gave them; outside the base, moved out of scope). An object that is gone from the scope
   * without such a record (a modify, or a move inside the base) was filtered out.
   */
  private logReasons(records: LogRecord[]): Map<string, DeleteReason> {
    const base = this.plan.start.scope.baseDn;
    const reasons = new Map<string, DeleteReason>();
    // DNs as the records leave them, for moves of moves.
    const dns = new Map<string, string>();
    const sorted = [...records].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const r of sorted) {
      const id = r.entryUuid.toLowerCase();
      if (r.type === 'delete') {
        reasons.set(id, DELETED);
        continue;
      }
      if (r.type !== 'modrdn' || r.newDn === undefined) continue;
      const newDn = r.newDn;
      dns.set(id, newDn);
      reasons.set(id, reasonAt(newDn, base));
      // The descendants moved with it: their DN's old suffix becomes the new one.
      const suffix = `,${r.dn}`.toLowerCase();
      const under = this.deps.store.idsUnder(this.configurationId, r.dn);
      if (under.length === 0) continue;
      const cached = this.deps.store.lookupDns(this.configurationId, under);
      for (const child of under) {
        const dn = dns.get(child) ?? cached.get(child)?.dn;
        if (dn === undefined || !dn.toLowerCase().endsWith(suffix)) continue;
        const moved = `${dn.slice(0, dn.length - suffix.length)},${newDn}`;
        dns.set(child, moved);
        reasons.set(child, reasonAt(moved, base));
      }
    }
    return reasons;
  }

  /** DELTA: whether this cycle already read the object with this id. */
  private handled(id: string): boolean {
    const hit = this.deps.store.lookupDns(this.configurationId, [id]).get(id);
    return hit ? bitSet(this.handledRows, hit.rowid) : this.handledNew.has(id);
  }

  /** The entries of a page this cycle has not read yet. */
  private unhandled(page: Entry[], flavor: DirectoryFlavor): Entry[] {
    const ids = page.map((entry) => entryId(entry, flavor));
    const cached = this.deps.store.lookupDns(
      this.configurationId,
      ids.filter((id): id is string => id !== undefined),
    );
    return page.filter((_entry, i) => {
      const id = ids[i];
      if (id === undefined) return false;
      const hit = cached.get(id);
      return hit ? !bitSet(this.handledRows, hit.rowid) : !this.handledNew.has(id);
    });
  }

  /**
   * Active Directory DELTA after a rename, move or delete: re-reads the scope's groups that
   * this cycle has not read yet. AD stores a group's `member` as links to the objects, so a
   * member renamed, moved or deleted changes the member DNs the group shows without
   * changing the group's own uSNChanged (Samba 4.17 shows it; so does Windows for renames):
   * the group is not among the changed entries, and the cloud directory would keep the old
   * member DN (or a deleted member) until a FULL cycle. Costs one read of the groups, only
   * in cycles where an object changed DN or left the scope.
   */
  private async rereadGroups(source: LdapSource, attributes: string[], flavor: DirectoryFlavor): Promise<void> {
    const scope = this.plan.start.scope;
    if (!scope.objectTypes.includes(ObjectType.OBJECT_TYPE_GROUP)) return;
    const mapOptions = this.mapOptions(flavor);
    const filter = scopeFilter({ ...scope, objectTypes: [ObjectType.OBJECT_TYPE_GROUP] }, flavor);
    this.deps.log.debug(
      { dnChanges: this.dnChanges, deletes: this.deletesSent },
      'DELTA: re-reading groups for their member DNs',
    );
    for await (const page of source.pagesOf({ base: scope.baseDn, filter, attributes })) {
      this.checkAborted();
      await this.considerPage(this.unhandled(page, flavor), mapOptions, false, true);
    }
  }

  /** Classifies a page of entries against the cache (one lookup for the page) and queues their changes. */
  private async considerPage(
    page: Entry[],
    mapOptions: Parameters<typeof mapEntry>[1],
    full: boolean,
    reread = false,
  ): Promise<void> {
    if (mapOptions.flavor === 'ad') {
      // Large multi-valued attributes (members of big groups) come in ranges: read the rest first.
      const source = this.source;
      for (const entry of page) {
        if (source && hasRanges(entry))
          await completeRanges(entry, (dn, attribute) => source.readEntry(dn, '(objectClass=*)', [attribute]));
      }
    }
    const objects: SourceObject[] = [];
    for (const entry of page) {
      if (!reread) this.entriesRead += 1;
      const object = mapEntry(entry, mapOptions);
      if (object) objects.push(object);
    }
    const cache: ReadonlyMap<string, CachedObject> =
      this.plan.rebase || this.emptyCacheVersion === this.deps.store.cacheVersion
        ? NO_CACHE
        : this.deps.store.lookup(
            this.configurationId,
            objects.map((o) => o.id),
          );
    const sent = this.resuming
      ? this.deps.store.resumeLookup(
          this.cycleId,
          objects.map((o) => o.id),
        )
      : undefined;
    for (const object of objects) {
      const cached = cache.get(object.id);
      if (cached) this.markSeen(cached.rowid);
      if (!full) {
        if (cached) this.handledRows = withBit(this.handledRows, cached.rowid);
        else this.handledNew.add(object.id);
        if (cached && cached.dn !== object.dn) this.dnChanges += 1;
      }
      let kind: ChangeKind;
      if (!cached) kind = ChangeKind.CHANGE_KIND_ADD;
      else if (cached.hash.equals(object.hash) && cached.dn === object.dn) kind = ChangeKind.CHANGE_KIND_PRESENT;
      else kind = ChangeKind.CHANGE_KIND_MODIFY;
      // DELTA: an unchanged object is not sent.
      if (kind === ChangeKind.CHANGE_KIND_PRESENT && !full) continue;
      // Resuming: skip what the interrupted run already sent with this content.
      const done = sent?.get(object.id);
      if (done && done.kind !== ChangeKind.CHANGE_KIND_DELETE && done.hash !== null && done.hash.equals(object.hash)) continue;
      const change: Change =
        kind === ChangeKind.CHANGE_KIND_PRESENT
          ? {
              kind,
              objectType: object.type,
              objectId: object.id,
              dn: object.dn,
              attributes: [],
              contentHash: object.hash,
              disabled: object.disabled,
              memberDns: [],
            }
          : {
              kind,
              objectType: object.type,
              objectId: object.id,
              dn: object.dn,
              attributes: object.attributes,
              contentHash: object.hash,
              disabled: object.disabled,
              memberDns: object.memberDns,
            };
      await this.add(
        change,
        kind === ChangeKind.CHANGE_KIND_PRESENT
          ? undefined
          : { id: object.id, kind, type: object.type, dn: object.dn, hash: object.hash },
      );
    }
  }

  private markSeen(rowid: number): void {
    if (!bitSet(this.seen, rowid)) {
      this.seen = withBit(this.seen, rowid);
      this.seenCount += 1;
    }
  }

  private wasSeen(rowid: number): boolean {
    return bitSet(this.seen, rowid);
  }

  /** After a complete read: every cached object the read did not see left the scope. */
  private async emitDeletes(): Promise<void> {
    const store = this.deps.store;
    // Every cached object was seen: nothing left the scope, no need to walk the cache.
    if (this.seenCount === store.objectCount(this.configurationId)) return;
    let after = 0;
    for (;;) {
      this.checkAborted();
      const page = store.cachedPage(this.configurationId, after, DELETE_CHUNK);
      if (page.length === 0) return;
      after = page[page.length - 1]!.rowid;
      const sent = this.resuming
        ? store.resumeLookup(
            this.cycleId,
            page.filter((m) => !this.wasSeen(m.rowid)).map((m) => m.id),
          )
        : undefined;
      const leaving = page.filter((m) => !this.wasSeen(m.rowid) && sent?.get(m.id)?.kind !== ChangeKind.CHANGE_KIND_DELETE);
      const reasons = await this.locate(leaving.map((m) => m.id));
      for (const m of leaving) {
        await this.add(deleteChange(m.id, m.type, m.dn, reasons.get(m.id)), {
          id: m.id,
          kind: ChangeKind.CHANGE_KIND_DELETE,
          type: m.type,
          dn: m.dn,
          hash: null,
        });
        this.deletesSent += 1;
      }
    }
  }

  /**
   * A scan's deletes: where the objects are now, looked up by id (see {@link locateByIds}),
   * for the first {@link MAX_LOCATED} of a cycle; after those, or once a lookup failed (said
   * at warn), the cause is unknown. Never fails the cycle: the cause only describes a delete.
   */
  private async locate(ids: string[]): Promise<Map<string, DeleteReason>> {
    const room = Math.min(ids.length, MAX_LOCATED - this.located);
    if (room <= 0 || this.locateFailed || !this.source) return new Map();
    this.located += room;
    try {
      return await locateByIds(this.source, this.source.flavor, this.plan.start.scope.baseDn, ids.slice(0, room));
    } catch (error) {
      this.checkAborted();
      this.locateFailed = true;
      this.deps.log.warn({ err: error }, 'could not look up where deleted objects went; their cause is unknown');
      return new Map();
    }
  }

  private async add(change: Change, row: ObjectRow | undefined): Promise<void> {
    const limits = this.deps.limits();
    const budget = limits.maxFrameBytes - batchOverheadBytes({ configurationId: this.configurationId, cycleId: this.cycleId });
    let size = estimateChangeSize(change);
    if (this.batchBytes + size > budget) {
      size = encodedChangeSize(change);
      if (size > budget) {
        throw new AgentError(
          'AGENT_ERR_OBJECT_TOO_LARGE',
          `object ${change.objectId} (${change.dn}) needs ${size} bytes, more than the controller's frame limit of ${limits.maxFrameBytes} bytes`,
        );
      }
      if (this.batchBytes + size > budget) await this.flush();
    }
    this.batch.push(change);
    if (row) this.batchRows.push(row);
    this.batchBytes += size;
    if (change.attributes.length > 0 || change.memberDns.length > 0) this.batchHeldBytes += size;
    const counts = this.batchCounts;
    if (change.kind !== ChangeKind.CHANGE_KIND_PRESENT) this.changesSent += 1;
    if (change.kind === ChangeKind.CHANGE_KIND_ADD) counts.adds += 1;
    else if (change.kind === ChangeKind.CHANGE_KIND_MODIFY) counts.modifies += 1;
    else if (change.kind === ChangeKind.CHANGE_KIND_DELETE) counts.deletes += 1;
    else counts.presents += 1;
    if (this.batch.length >= limits.maxBatchChanges || this.batchHeldBytes >= BATCH_SOFT_BYTES) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.batch.length === 0) return;
    await this.deps.outbox.waitForRoom(this.deps.signal);
    this.checkAborted();
    this.sequence += 1;
    const changes = this.batch;
    const rows = this.batchRows;
    const counts = this.batchCounts;
    this.batch = [];
    this.batchRows = [];
    this.batchBytes = 0;
    this.batchHeldBytes = 0;
    this.batchCounts = { adds: 0, modifies: 0, deletes: 0, presents: 0 };
    this.deps.outbox.push(
      { configurationId: this.configurationId, cycleId: this.cycleId, sequence: this.sequence, changes },
      rows,
      counts,
    );
  }

  private checkAborted(): void {
    const signal = this.deps.signal;
    if (!signal.aborted) return;
    const reason: unknown = signal.reason;
    throw reason instanceof AgentError ? reason : new AgentError('AGENT_ERR_CYCLE_ABORTED', 'the cycle was stopped');
  }
}

/** A DELETE change of a cached object, with why it left when known. */
function deleteChange(id: string, type: ObjectType, dn: string, reason: DeleteReason = UNKNOWN): Change {
  const change: Change = {
    kind: ChangeKind.CHANGE_KIND_DELETE,
    objectType: type,
    objectId: id,
    dn,
    attributes: [],
    contentHash: EMPTY,
    disabled: false,
    memberDns: [],
  };
  if (reason.cause !== DeleteCause.DELETE_CAUSE_UNSPECIFIED) change.deleteCause = reason.cause;
  if (reason.newDn) change.newDn = reason.newDn;
  return change;
}

/** Attributes to request: the scope's list (plus what the agent always needs), or every user attribute. */
export function readAttributes(requested: string[], disabledAttribute: string, flavor: DirectoryFlavor): string[] {
  const always = [idAttribute(flavor), 'objectClass', 'member', 'uniqueMember'];
  if (flavor === 'ad') always.push('userAccountControl');
  if (disabledAttribute) always.push(disabledAttribute);
  if (requested.length === 0) return ['*', ...always.slice(0, 1), ...(disabledAttribute ? [disabledAttribute] : [])];
  return [...new Set([...requested, ...always])];
}

/** An upper bound of a change's encoded size, cheap to compute (UTF-16 length x 3 >= UTF-8 bytes). */
function estimateChangeSize(change: Change): number {
  let n = 64 + 3 * (change.objectId.length + change.dn.length) + change.contentHash.length;
  for (const a of change.attributes) {
    n += 12 + 3 * a.name.length;
    for (const v of a.values) n += 6 + 3 * v.length;
  }
  for (const m of change.memberDns) n += 6 + 3 * m.length;
  return n;
}

/** The watermark the next DELTA reads from, taken before this read starts. */
async function watermark(flavor: DirectoryFlavor, source: LdapSource, skewMs: number): Promise<string> {
  if (flavor === 'ad') return source.highestCommittedUsn();
  return generalizedTime(Date.now() - skewMs);
}

/** LDAP GeneralizedTime (UTC, seconds) for a Unix time in ms. */
export function generalizedTime(ms: number): string {
  const d = new Date(Math.max(0, ms));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** Bit `i` of a bitset (false beyond its end). */
function bitSet(bits: Uint8Array, i: number): boolean {
  const byte = i >> 3;
  return byte < bits.length && (bits[byte]! & (1 << (i & 7))) !== 0;
}

/**
 * Sets bit `i` of a bitset and returns it: the same array, or a longer copy when `i` is past
 * its end (a cache row created after the cycle started, e.g. by a commit that landed mid-read).
 */
function withBit(bits: Uint8Array<ArrayBuffer>, i: number): Uint8Array<ArrayBuffer> {
  const byte = i >> 3;
  let out = bits;
  if (byte >= out.length) {
    out = new Uint8Array(Math.max(byte + 1, out.length * 2));
    out.set(bits);
  }
  out[byte]! |= 1 << (i & 7);
  return out;
}

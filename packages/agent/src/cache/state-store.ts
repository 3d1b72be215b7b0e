import path from 'node:path';
import Database from 'better-sqlite3';
import type { CacheCursor, ObjectType } from '@syncguard/protocol';
import { AgentError } from '../errors';
import { openPrivately } from './state-dir';

export interface CachedObject {
  /** Row number in the cache; dense enough to index a bitset of objects seen by a cycle. */
  rowid: number;
  type: ObjectType;
  dn: string;
  hash: Buffer;
}

/** Per-kind counts of what a cycle emitted. */
export interface CycleCounts {
  adds: number;
  modifies: number;
  deletes: number;
  presents: number;
}

export interface ConfigurationState {
  configurationId: string;
  committedCycleId: string;
  /** Canonical form of the scope the committed cache was read with; '' when never committed. */
  scopeKey: string;
  /** DELTA watermark of the committed read (OpenLDAP: GeneralizedTime; AD: a USN); '' when unknown. */
  watermark: string;
}

export type CycleState = 'running' | 'pending';

/** A cycle the agent knows: being read/streamed (`running`) or waiting for its verdict (`pending`). */
export interface CycleRecord {
  cycleId: string;
  configurationId: string;
  state: CycleState;
  /** The mode actually run (FULL or DELTA). */
  mode: number;
  /** 1 when the cycle was computed against an empty cache (the cache's base did not match). */
  rebase: number;
  scopeJson: string;
  scopeKey: string;
  baseCycleId: string;
  /** Watermark to record when this cycle commits. */
  watermark: string;
  /** Highest sequence written to the outbox. */
  lastSequence: number;
  /** Highest sequence the controller acknowledged. */
  ackedSequence: number;
  /** JSON of the CycleComplete body once the read finished; '' while reading. */
  completeJson: string;
  /** 1 once CycleComplete went out on a welcomed connection. */
  completeSent: number;
  adds: number;
  modifies: number;
  deletes: number;
  presents: number;
}

/** What a batch did to one object (ADD, MODIFY or DELETE); kept until the cycle's verdict. */
export interface ObjectRow {
  id: string;
  kind: number;
  type: ObjectType;
  dn: string;
  hash: Buffer | null;
}

type PackedRow = [id: string, kind: number, type: number, dn: string, hash: string | null];

/**
 * The agent's durable state in SQLite (WAL): per configuration the committed cache
 * (object id -> type, DN, content hash), the cycles in progress with the ADD, MODIFY and
 * DELETE rows of every batch they wrote (packed one row set per batch, applied to the
 * cache on CycleCommitted), and the outbox of encoded ChangeBatch frames not yet
 * acknowledged. Every multi-row change runs in one transaction, so a crash leaves either
 * the old or the new state. Only this class touches the database.
 */
export class StateStore {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<StateStore['prepare']>;
  private closed = false;
  /** Bumped whenever the committed cache changes (see {@link cacheVersion}). */
  private cacheChanges = 0;

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = OFF');
    this.db.pragma('cache_size = -4000');
    // Batches are written and acknowledged quickly: checkpoint the WAL in bigger steps (40 MB).
    this.db.pragma('wal_autocheckpoint = 10000');
    this.db.exec(SCHEMA);
    this.stmts = this.prepare();
  }

  /** Opens (creating if needed) `agent.sqlite` in `dir`, readable by the agent's user only (0600). */
  static open(dir: string): StateStore {
    try {
      return openPrivately(dir, () => new StateStore(path.join(dir, 'agent.sqlite')));
    } catch (error) {
      throw new AgentError('AGENT_ERR_CACHE', `cannot open the cache in ${dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  private prepare() {
    const db = this.db;
    return {
      getConfig: db.prepare<[string], ConfigurationState>(
        'SELECT configuration_id AS configurationId, committed_cycle_id AS committedCycleId, scope_key AS scopeKey, watermark FROM configurations WHERE configuration_id = ?',
      ),
      allConfigs: db.prepare<[], { configurationId: string; committedCycleId: string }>(
        'SELECT configuration_id AS configurationId, committed_cycle_id AS committedCycleId FROM configurations',
      ),
      upsertConfig: db.prepare(
        `INSERT INTO configurations(configuration_id, committed_cycle_id, scope_key, watermark) VALUES (?, ?, ?, ?)
         ON CONFLICT(configuration_id) DO UPDATE SET committed_cycle_id = excluded.committed_cycle_id, scope_key = excluded.scope_key, watermark = excluded.watermark`,
      ),
      ensureConfig: db.prepare(`INSERT OR IGNORE INTO configurations(configuration_id) VALUES (?)`),
      lookup: db
        .prepare<[string, string], [number, string, number, string, Buffer]>(
          `SELECT o.rowid, o.object_id, o.object_type, o.dn, o.hash FROM json_each(?) j
           CROSS JOIN objects o ON o.configuration_id = ? AND o.object_id = CAST(j.value AS TEXT)`,
        )
        .raw(),
      lookupDn: db
        .prepare<[string, string], [number, string, string]>(
          `SELECT o.rowid, o.object_id, o.dn FROM json_each(?) j
           CROSS JOIN objects o ON o.configuration_id = ? AND o.object_id = CAST(j.value AS TEXT)`,
        )
        .raw(),
      // A scan of the configuration's rows (no index on DN suffixes): used for renamed subtrees only.
      idsUnder: db
        .prepare<[string, string, string, string], [string]>(
          `SELECT object_id FROM objects
           WHERE configuration_id = ? AND length(dn) > length(?) AND lower(substr(dn, -length(?))) = ?`,
        )
        .raw(),
      maxRowid: db.prepare<[], { n: number | null }>('SELECT max(rowid) AS n FROM objects'),
      cachedPage: db.prepare<[string, number, number], { rowid: number; id: string; type: number; dn: string }>(
        `SELECT rowid, object_id AS id, object_type AS type, dn FROM objects
         WHERE configuration_id = ? AND rowid > ? ORDER BY rowid LIMIT ?`,
      ),
      countObjects: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM objects WHERE configuration_id = ?'),
      hasObjects: db.prepare<[string], number>('SELECT EXISTS (SELECT 1 FROM objects WHERE configuration_id = ?)').pluck(),
      insertCycle: db.prepare(
        `INSERT INTO cycles(cycle_id, configuration_id, state, mode, rebase, scope_json, scope_key, base_cycle_id, watermark)
         VALUES (@cycleId, @configurationId, @state, @mode, @rebase, @scopeJson, @scopeKey, @baseCycleId, @watermark)`,
      ),
      getCycle: db.prepare<[string], CycleRecord>(`SELECT ${CYCLE_COLUMNS} FROM cycles WHERE cycle_id = ?`),
      allCycles: db.prepare<[], CycleRecord>(`SELECT ${CYCLE_COLUMNS} FROM cycles ORDER BY rowid`),
      setCycleState: db.prepare('UPDATE cycles SET state = ? WHERE cycle_id = ?'),
      setWatermark: db.prepare('UPDATE cycles SET watermark = ? WHERE cycle_id = ?'),
      setComplete: db.prepare('UPDATE cycles SET complete_json = ? WHERE cycle_id = ?'),
      setCompleteSent: db.prepare('UPDATE cycles SET complete_sent = 1 WHERE cycle_id = ?'),
      setAcked: db.prepare('UPDATE cycles SET acked_sequence = max(acked_sequence, ?) WHERE cycle_id = ?'),
      addBatch: db.prepare(
        `UPDATE cycles SET last_sequence = @sequence, adds = adds + @adds, modifies = modifies + @modifies,
           deletes = deletes + @deletes, presents = presents + @presents WHERE cycle_id = @cycleId`,
      ),
      deleteCycle: db.prepare('DELETE FROM cycles WHERE cycle_id = ?'),
      putRows: db.prepare('INSERT OR REPLACE INTO cycle_rows(cycle_id, sequence, rows) VALUES (?, ?, ?)'),
      rowSequences: db.prepare<[string], number>('SELECT sequence FROM cycle_rows WHERE cycle_id = ? ORDER BY sequence').pluck(),
      cycleRows: db.prepare<[string, number], string>('SELECT rows FROM cycle_rows WHERE cycle_id = ? AND sequence = ?').pluck(),
      deleteCycleRows: db.prepare('DELETE FROM cycle_rows WHERE cycle_id = ?'),
      upsertObject: db.prepare(
        `INSERT INTO objects(configuration_id, object_id, object_type, dn, hash) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(configuration_id, object_id) DO UPDATE SET object_type = excluded.object_type, dn = excluded.dn, hash = excluded.hash`,
      ),
      deleteObject: db.prepare('DELETE FROM objects WHERE configuration_id = ? AND object_id = ?'),
      clearObjects: db.prepare('DELETE FROM objects WHERE configuration_id = ?'),
      putBatch: db.prepare('INSERT OR REPLACE INTO outbox(cycle_id, sequence, frame) VALUES (?, ?, ?)'),
      ackBatches: db.prepare('DELETE FROM outbox WHERE cycle_id = ? AND sequence <= ?'),
      unacked: db.prepare<[string, number], { sequence: number; frame: Buffer }>(
        'SELECT sequence, frame FROM outbox WHERE cycle_id = ? AND sequence > ? ORDER BY sequence',
      ),
      dropOutbox: db.prepare('DELETE FROM outbox WHERE cycle_id = ?'),
    };
  }

  private guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof AgentError) throw error;
      throw new AgentError('AGENT_ERR_CACHE', `cache ${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  configuration(configurationId: string): ConfigurationState {
    return this.guard('read', () => {
      return this.stmts.getConfig.get(configurationId) ?? { configurationId, committedCycleId: '', scopeKey: '', watermark: '' };
    });
  }

  /** One cursor per configuration ever served, for AgentHello. */
  cursors(): CacheCursor[] {
    return this.guard('read', () => {
      const out = new Map<string, CacheCursor>();
      for (const c of this.stmts.allConfigs.all()) {
        out.set(c.configurationId, {
          configurationId: c.configurationId,
          committedCycleId: c.committedCycleId,
          pendingCycleId: '',
          runningCycleId: '',
        });
      }
      for (const cycle of this.stmts.allCycles.all()) {
        const cursor = out.get(cycle.configurationId) ?? {
          configurationId: cycle.configurationId,
          committedCycleId: '',
          pendingCycleId: '',
          runningCycleId: '',
        };
        if (cycle.state === 'pending') cursor.pendingCycleId = cycle.cycleId;
        else cursor.runningCycleId = cycle.cycleId;
        out.set(cycle.configurationId, cursor);
      }
      return [...out.values()];
    });
  }

  /**
   * Looks up many ids of a configuration's cache in one query. CROSS JOIN pins the join
   * order (json_each outside, the unique index inside); left to itself the planner may
   * scan the cache once per id.
   */
  lookup(configurationId: string, ids: readonly string[]): Map<string, CachedObject> {
    const out = new Map<string, CachedObject>();
    if (ids.length === 0) return out;
    return this.guard('read', () => {
      for (const [rowid, id, type, dn, hash] of this.stmts.lookup.all(JSON.stringify(ids), configurationId)) {
        out.set(id, { rowid, type: type as ObjectType, dn, hash });
      }
      return out;
    });
  }

  /** Like {@link lookup} without the hash (DELTA id scans). */
  lookupDns(configurationId: string, ids: readonly string[]): Map<string, { rowid: number; dn: string }> {
    const out = new Map<string, { rowid: number; dn: string }>();
    if (ids.length === 0) return out;
    return this.guard('read', () => {
      for (const [rowid, id, dn] of this.stmts.lookupDn.all(JSON.stringify(ids), configurationId)) out.set(id, { rowid, dn });
      return out;
    });
  }

  /** Ids of the cached objects strictly below `dn` (compared case-insensitively). */
  idsUnder(configurationId: string, dn: string): string[] {
    const suffix = `,${dn}`.toLowerCase();
    return this.guard('read', () => this.stmts.idsUnder.all(configurationId, suffix, suffix, suffix).map(([id]) => id));
  }

  /** Highest cache row number (sizes the bitset of objects a cycle saw). */
  maxRowid(): number {
    return this.guard('read', () => this.stmts.maxRowid.get()?.n ?? 0);
  }

  /** A page of a configuration's cache in row order after `afterRowid`. */
  cachedPage(
    configurationId: string,
    afterRowid: number,
    limit: number,
  ): { rowid: number; id: string; type: ObjectType; dn: string }[] {
    return this.guard(
      'read',
      () =>
        this.stmts.cachedPage.all(configurationId, afterRowid, limit) as {
          rowid: number;
          id: string;
          type: ObjectType;
          dn: string;
        }[],
    );
  }

  /**
   * Changes whenever a commit changes the committed cache: a reader that found a
   * configuration's cache empty knows it still is while this stays the same.
   */
  get cacheVersion(): number {
    return this.cacheChanges;
  }

  /**
   * Whether the committed cache holds any object of the configuration: what every cycle
   * asks, without counting them (a count walks the index: 0.3 s at 1,000,000 objects).
   */
  hasObjects(configurationId: string): boolean {
    return this.guard('read', () => this.stmts.hasObjects.get(configurationId) === 1);
  }

  objectCount(configurationId: string): number {
    return this.guard('read', () => this.stmts.countObjects.get(configurationId)?.n ?? 0);
  }

  cycles(): CycleRecord[] {
    return this.guard('read', () => this.stmts.allCycles.all());
  }

  cycle(cycleId: string): CycleRecord | undefined {
    return this.guard('read', () => this.stmts.getCycle.get(cycleId));
  }

  createCycle(
    record: Pick<
      CycleRecord,
      'cycleId' | 'configurationId' | 'mode' | 'rebase' | 'scopeJson' | 'scopeKey' | 'baseCycleId' | 'watermark'
    >,
  ): void {
    this.guard('write', () => {
      this.db.transaction(() => {
        this.stmts.ensureConfig.run(record.configurationId);
        this.stmts.insertCycle.run({ ...record, state: 'running' });
      })();
    });
  }

  /**
   * Writes a batch to the outbox together with the rows of the objects it adds, modifies
   * or deletes and its counts, atomically: after a crash the cycle's rows match its batches.
   */
  putBatch(cycleId: string, sequence: number, frame: Uint8Array, rows: readonly ObjectRow[], counts: CycleCounts): void {
    const packed: PackedRow[] = rows.map((r) => [r.id, r.kind, r.type, r.dn, r.hash ? r.hash.toString('base64') : null]);
    this.guard('write', () => {
      this.db.transaction(() => {
        this.stmts.putBatch.run(cycleId, sequence, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        if (packed.length > 0) this.stmts.putRows.run(cycleId, sequence, JSON.stringify(packed));
        this.stmts.addBatch.run({ cycleId, sequence, ...counts });
      })();
    });
  }

  private resumeStmts?: {
    clear: Database.Statement<[string]>;
    insert: Database.Statement<[string, string, number, Buffer | null]>;
    lookup: Database.Statement<[string, string], [string, number, Buffer | null]>;
  };

  /**
   * Resuming a cycle after a restart: indexes what it already sent (from its batch rows)
   * in a temporary table, so that the read can skip those objects without holding them
   * in memory.
   */
  prepareResume(cycleId: string): void {
    this.guard('write', () => {
      this.db.exec(
        'CREATE TEMP TABLE IF NOT EXISTS resume_sent (cycle_id TEXT NOT NULL, object_id TEXT NOT NULL, kind INTEGER NOT NULL, hash BLOB, PRIMARY KEY (cycle_id, object_id)) WITHOUT ROWID',
      );
      this.resumeStmts ??= {
        clear: this.db.prepare('DELETE FROM temp.resume_sent WHERE cycle_id = ?'),
        insert: this.db.prepare('INSERT OR REPLACE INTO temp.resume_sent(cycle_id, object_id, kind, hash) VALUES (?, ?, ?, ?)'),
        lookup: this.db
          .prepare<[string, string], [string, number, Buffer | null]>(
            `SELECT r.object_id, r.kind, r.hash FROM json_each(?) j
             CROSS JOIN temp.resume_sent r ON r.cycle_id = ? AND r.object_id = CAST(j.value AS TEXT)`,
          )
          .raw(),
      };
      const stmts = this.resumeStmts;
      this.db.transaction(() => {
        stmts.clear.run(cycleId);
        for (const row of this.cycleRows(cycleId)) stmts.insert.run(cycleId, row.id, row.kind, row.hash);
      })();
    });
  }

  /** What the interrupted run of a cycle sent for these ids (see {@link prepareResume}). */
  resumeLookup(cycleId: string, ids: readonly string[]): Map<string, { kind: number; hash: Buffer | null }> {
    const out = new Map<string, { kind: number; hash: Buffer | null }>();
    if (ids.length === 0 || !this.resumeStmts) return out;
    const stmts = this.resumeStmts;
    return this.guard('read', () => {
      for (const [id, kind, hash] of stmts.lookup.all(JSON.stringify(ids), cycleId)) out.set(id, { kind, hash });
      return out;
    });
  }

  /** Every row a cycle wrote so far (to resume it after a restart), in batch order. */
  *cycleRows(cycleId: string): Generator<ObjectRow> {
    // One batch's rows at a time: a cycle of a million objects is never in memory at once.
    for (const sequence of this.guard('read', () => this.stmts.rowSequences.all(cycleId))) {
      const rows = this.guard('read', () => this.stmts.cycleRows.get(cycleId, sequence));
      if (rows === undefined) continue;
      for (const [id, kind, type, dn, hash] of JSON.parse(rows) as PackedRow[]) {
        yield { id, kind, type: type as ObjectType, dn, hash: hash === null ? null : Buffer.from(hash, 'base64') };
      }
    }
  }

  ack(cycleId: string, through: number): void {
    this.guard('write', () => {
      this.db.transaction(() => {
        this.stmts.ackBatches.run(cycleId, through);
        this.stmts.setAcked.run(through, cycleId);
      })();
    });
  }

  /** Outbox frames of a cycle not yet acknowledged, in sequence order. */
  unacked(cycleId: string, after: number): { sequence: number; frame: Buffer }[] {
    return this.guard('read', () => this.stmts.unacked.all(cycleId, after));
  }

  setComplete(cycleId: string, completeJson: string): void {
    this.guard('write', () => this.stmts.setComplete.run(completeJson, cycleId));
  }

  setWatermark(cycleId: string, watermark: string): void {
    this.guard('write', () => this.stmts.setWatermark.run(watermark, cycleId));
  }

  markCompleteSent(cycleId: string): void {
    this.guard('write', () => this.stmts.setCompleteSent.run(cycleId));
  }

  setState(cycleId: string, state: CycleState): void {
    this.guard('write', () => this.stmts.setCycleState.run(state, cycleId));
  }

  /**
   * Advances the configuration's cache to the cycle's view and forgets the cycle, in one
   * transaction. Returns false when the cycle is unknown (already applied or dropped).
   */
  commit(cycleId: string): boolean {
    return this.guard('commit', () =>
      this.db.transaction(() => {
        const cycle = this.stmts.getCycle.get(cycleId);
        if (!cycle) return false;
        const config = cycle.configurationId;
        this.cacheChanges += 1;
        if (cycle.rebase) this.stmts.clearObjects.run(config);
        const { deleteObject, upsertObject } = this.stmts;
        // As cycleRows, without an object per row: a first cycle applies one row per object.
        for (const sequence of this.stmts.rowSequences.all(cycleId)) {
          const rows = this.stmts.cycleRows.get(cycleId, sequence);
          if (rows === undefined) continue;
          for (const [id, kind, type, dn, hash] of JSON.parse(rows) as PackedRow[]) {
            if (kind === 3) deleteObject.run(config, id);
            else upsertObject.run(config, id, type, dn, hash === null ? null : Buffer.from(hash, 'base64'));
          }
        }
        this.stmts.upsertConfig.run(config, cycleId, cycle.scopeKey, cycle.watermark);
        this.dropRows(cycleId);
        return true;
      })(),
    );
  }

  /** Forgets a cycle (aborted, failed or superseded); the cache stays as it was. */
  drop(cycleId: string): void {
    this.guard('write', () => this.db.transaction(() => this.dropRows(cycleId))());
  }

  private dropRows(cycleId: string): void {
    this.resumeStmts?.clear.run(cycleId);
    this.stmts.deleteCycleRows.run(cycleId);
    this.stmts.dropOutbox.run(cycleId);
    this.stmts.deleteCycle.run(cycleId);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

const CYCLE_COLUMNS = `cycle_id AS cycleId, configuration_id AS configurationId, state, mode, rebase, scope_json AS scopeJson,
  scope_key AS scopeKey, base_cycle_id AS baseCycleId, watermark, last_sequence AS lastSequence, acked_sequence AS ackedSequence,
  complete_json AS completeJson, complete_sent AS completeSent, adds, modifies, deletes, presents`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS configurations (
  configuration_id TEXT PRIMARY KEY,
  committed_cycle_id TEXT NOT NULL DEFAULT '',
  scope_key TEXT NOT NULL DEFAULT '',
  watermark TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS objects (
  rowid INTEGER PRIMARY KEY,
  configuration_id TEXT NOT NULL,
  object_id TEXT NOT NULL,
  object_type INTEGER NOT NULL,
  dn TEXT NOT NULL,
  hash BLOB NOT NULL,
  UNIQUE (configuration_id, object_id)
);
CREATE INDEX IF NOT EXISTS objects_by_configuration ON objects(configuration_id);
CREATE TABLE IF NOT EXISTS cycles (
  cycle_id TEXT PRIMARY KEY,
  configuration_id TEXT NOT NULL,
  state TEXT NOT NULL,
  mode INTEGER NOT NULL,
  rebase INTEGER NOT NULL DEFAULT 0,
  scope_json TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  base_cycle_id TEXT NOT NULL DEFAULT '',
  watermark TEXT NOT NULL DEFAULT '',
  last_sequence INTEGER NOT NULL DEFAULT 0,
  acked_sequence INTEGER NOT NULL DEFAULT 0,
  complete_json TEXT NOT NULL DEFAULT '',
  complete_sent INTEGER NOT NULL DEFAULT 0,
  adds INTEGER NOT NULL DEFAULT 0,
  modifies INTEGER NOT NULL DEFAULT 0,
  deletes INTEGER NOT NULL DEFAULT 0,
  presents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cycle_rows (
  cycle_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  rows TEXT NOT NULL,
  PRIMARY KEY (cycle_id, sequence)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  cycle_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  frame BLOB NOT NULL,
  PRIMARY KEY (cycle_id, sequence)
) WITHOUT ROWID;
PRAGMA user_version = 1;
`;

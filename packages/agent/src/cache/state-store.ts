import path from 'node:path';
import Database from 'better-sqlite3';
import type { CacheCursor, ObjectType } from '@syncguard/protocol';
import { AgentError } from '../errors';

/** Internal kind of a cycle_objects row seen only by a DELTA id scan (never sent). */
export const KIND_SCANNED = 100;

export interface CachedObject {
  type: ObjectType;
  dn: string;
  hash: Buffer;
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
}

export interface ObjectRow {
  id: string;
  kind: number;
  type: ObjectType;
  dn: string;
  hash: Buffer | null;
}

/**
 * The agent's durable state in SQLite (WAL): per configuration the committed cache
 * (object id -> type, DN, content hash), the cycles in progress with every object they
 * saw, and the outbox of encoded ChangeBatch frames not yet acknowledged. Every
 * multi-row change runs in one transaction, so a crash leaves either the old or the new
 * state. Only this class touches the database.
 */
export class StateStore {
  private readonly db: Database.Database;
  private readonly stmts: ReturnType<StateStore['prepare']>;
  private closed = false;

  private constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = OFF');
    this.db.pragma('cache_size = -16000');
    this.db.exec(SCHEMA);
    this.stmts = this.prepare();
  }

  /** Opens (creating if needed) `agent.sqlite` in `dir`. */
  static open(dir: string): StateStore {
    try {
      return new StateStore(path.join(dir, 'agent.sqlite'));
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
      getObject: db.prepare<[string, string], { type: number; dn: string; hash: Buffer }>(
        'SELECT object_type AS type, dn, hash FROM objects WHERE configuration_id = ? AND object_id = ?',
      ),
      countObjects: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM objects WHERE configuration_id = ?'),
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
      setLastSequence: db.prepare('UPDATE cycles SET last_sequence = ? WHERE cycle_id = ?'),
      deleteCycle: db.prepare('DELETE FROM cycles WHERE cycle_id = ?'),
      deleteCycleObjects: db.prepare('DELETE FROM cycle_objects WHERE cycle_id = ?'),
      upsertCycleObject: db.prepare(
        'INSERT OR REPLACE INTO cycle_objects(cycle_id, object_id, kind, object_type, dn, hash) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      insertScanned: db.prepare(
        `INSERT OR IGNORE INTO cycle_objects(cycle_id, object_id, kind, object_type, dn, hash) VALUES (?, ?, ${KIND_SCANNED}, 0, ?, NULL)`,
      ),
      getCycleObject: db.prepare<[string, string], { kind: number; hash: Buffer | null }>(
        'SELECT kind, hash FROM cycle_objects WHERE cycle_id = ? AND object_id = ?',
      ),
      kindCounts: db.prepare<[string], { kind: number; n: number }>(
        'SELECT kind, count(*) AS n FROM cycle_objects WHERE cycle_id = ? GROUP BY kind',
      ),
      missing: db.prepare<[string, string, string, number], { id: string; type: number; dn: string }>(
        `SELECT o.object_id AS id, o.object_type AS type, o.dn FROM objects o
         WHERE o.configuration_id = ? AND o.object_id > ?
           AND NOT EXISTS (SELECT 1 FROM cycle_objects c WHERE c.cycle_id = ? AND c.object_id = o.object_id)
         ORDER BY o.object_id LIMIT ?`,
      ),
      staleScanned: db.prepare<[string, string, string, number], { id: string; dn: string }>(
        `SELECT c.object_id AS id, c.dn FROM cycle_objects c
         LEFT JOIN objects o ON o.configuration_id = ? AND o.object_id = c.object_id
         WHERE c.cycle_id = ? AND c.kind = ${KIND_SCANNED} AND c.object_id > ? AND (o.dn IS NULL OR o.dn <> c.dn)
         ORDER BY c.object_id LIMIT ?`,
      ),
      commitUpserts: db.prepare(
        `INSERT INTO objects(configuration_id, object_id, object_type, dn, hash)
         SELECT ?, object_id, object_type, dn, hash FROM cycle_objects WHERE cycle_id = ? AND kind IN (1, 2)
         ON CONFLICT(configuration_id, object_id) DO UPDATE SET object_type = excluded.object_type, dn = excluded.dn, hash = excluded.hash`,
      ),
      commitDeletes: db.prepare(
        `DELETE FROM objects WHERE configuration_id = ? AND object_id IN (SELECT object_id FROM cycle_objects WHERE cycle_id = ? AND kind = 3)`,
      ),
      clearObjects: db.prepare('DELETE FROM objects WHERE configuration_id = ?'),
      rebaseInsert: db.prepare(
        `INSERT OR REPLACE INTO objects(configuration_id, object_id, object_type, dn, hash)
         SELECT ?, object_id, object_type, dn, hash FROM cycle_objects WHERE cycle_id = ? AND kind IN (1, 2, 4)`,
      ),
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

  object(configurationId: string, objectId: string): CachedObject | undefined {
    const row = this.stmts.getObject.get(configurationId, objectId);
    return row as CachedObject | undefined;
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

  /** Records what the cycle saw, in one transaction. */
  recordObjects(cycleId: string, rows: readonly ObjectRow[]): void {
    if (rows.length === 0) return;
    this.guard('write', () => {
      this.db.transaction(() => {
        for (const r of rows) this.stmts.upsertCycleObject.run(cycleId, r.id, r.kind, r.type, r.dn, r.hash);
      })();
    });
  }

  /** DELTA id scan: marks ids as present in scope (kept when a full row already exists). */
  recordScanned(cycleId: string, rows: readonly { id: string; dn: string }[]): void {
    if (rows.length === 0) return;
    this.guard('write', () => {
      this.db.transaction(() => {
        for (const r of rows) this.stmts.insertScanned.run(cycleId, r.id, r.dn);
      })();
    });
  }

  /** What this cycle already recorded for an object (to resume after a restart). */
  cycleObject(cycleId: string, objectId: string): { kind: number; hash: Buffer | null } | undefined {
    return this.stmts.getCycleObject.get(cycleId, objectId);
  }

  /** Cached objects the cycle did not see, in id order after `afterId` (keyset paging). */
  missing(
    configurationId: string,
    cycleId: string,
    afterId: string,
    limit: number,
  ): { id: string; type: ObjectType; dn: string }[] {
    return this.guard(
      'read',
      () => this.stmts.missing.all(configurationId, afterId, cycleId, limit) as { id: string; type: ObjectType; dn: string }[],
    );
  }

  /** Rows per kind the cycle recorded (its totals, also across a resumed read). */
  kindCounts(cycleId: string): Map<number, number> {
    return this.guard('read', () => new Map(this.stmts.kindCounts.all(cycleId).map((r) => [r.kind, r.n])));
  }

  /** DELTA: ids the scan saw whose DN differs from the cache or that the cache lacks. */
  staleScanned(configurationId: string, cycleId: string, afterId: string, limit: number): { id: string; dn: string }[] {
    return this.guard('read', () => this.stmts.staleScanned.all(configurationId, cycleId, afterId, limit));
  }

  /** Writes a batch to the outbox together with the rows of the objects it carries, atomically. */
  putBatch(cycleId: string, sequence: number, frame: Uint8Array, rows: readonly ObjectRow[] = []): void {
    this.guard('write', () => {
      this.db.transaction(() => {
        this.stmts.putBatch.run(cycleId, sequence, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
        this.stmts.setLastSequence.run(sequence, cycleId);
        for (const r of rows) this.stmts.upsertCycleObject.run(cycleId, r.id, r.kind, r.type, r.dn, r.hash);
      })();
    });
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
        if (cycle.rebase) {
          this.stmts.clearObjects.run(config);
          this.stmts.rebaseInsert.run(config, cycleId);
        } else {
          this.stmts.commitUpserts.run(config, cycleId);
          this.stmts.commitDeletes.run(config, cycleId);
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
    this.stmts.deleteCycleObjects.run(cycleId);
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
  complete_json AS completeJson, complete_sent AS completeSent`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS configurations (
  configuration_id TEXT PRIMARY KEY,
  committed_cycle_id TEXT NOT NULL DEFAULT '',
  scope_key TEXT NOT NULL DEFAULT '',
  watermark TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS objects (
  configuration_id TEXT NOT NULL,
  object_id TEXT NOT NULL,
  object_type INTEGER NOT NULL,
  dn TEXT NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY (configuration_id, object_id)
) WITHOUT ROWID;
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
  complete_sent INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cycle_objects (
  cycle_id TEXT NOT NULL,
  object_id TEXT NOT NULL,
  kind INTEGER NOT NULL,
  object_type INTEGER NOT NULL,
  dn TEXT NOT NULL,
  hash BLOB,
  PRIMARY KEY (cycle_id, object_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
  cycle_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  frame BLOB NOT NULL,
  PRIMARY KEY (cycle_id, sequence)
) WITHOUT ROWID;
`;

import { createHash } from 'node:crypto';
import {
  ChangeKind,
  CycleMode,
  FrameEncoder,
  ObjectType,
  PROTOCOL_VERSION,
  decodeFrame,
  type Body,
  type BodyInput,
  type BodyMap,
  type BodyType,
  type CacheCursor,
  type Change,
  type DeepPartial,
  type StartCycle,
  type StartPreview,
} from '@syncguard/protocol';
import WebSocket from 'ws';

/**
 * A small protocol peer for tests of the controller: an in-memory "directory" and an
 * agent cache, speaking the real protocol over a real WebSocket. It answers StartCycle
 * by diffing the directory against its cache (DELTA) or reporting everything (FULL),
 * streams batches with the in-flight window, and advances its cache only on
 * CycleCommitted, as the real agent does. Not a replacement for the real agent.
 */
export interface FakeObject {
  id: string;
  type: 'user' | 'group';
  dn: string;
  attributes: Record<string, string[]>;
  disabled?: boolean;
  memberDns?: string[];
}

interface CacheEntry {
  hash: string;
  type: 'user' | 'group';
  dn: string;
}

export interface FakeAgentOptions {
  url: string;
  token?: string;
  agentId: string;
  /** Changes per batch. Default 100. */
  batchSize?: number;
  /** Answer StartCycle by itself. Default true. */
  autoRespond?: boolean;
  hostname?: string;
  protocolVersions?: number[];
  /** The hello's features. Default `['preview']`; `[]` is an agent older than previews. */
  features?: string[];
  /** Extra ws client options (e.g. `{ rejectUnauthorized: false }` for a self-signed TLS certificate). */
  wsOptions?: WebSocket.ClientOptions;
}

function hashOf(o: FakeObject): Buffer {
  const canonical = JSON.stringify({
    dn: o.dn.toLowerCase(),
    type: o.type,
    disabled: o.disabled ?? false,
    attributes: Object.keys(o.attributes)
      .sort()
      .map((k) => [k, [...(o.attributes[k] ?? [])].sort()]),
    members: [...(o.memberDns ?? [])].map((m) => m.toLowerCase()).sort(),
  });
  return createHash('sha256').update(canonical).digest();
}

function matchesFilter(o: FakeObject, filter: string): boolean {
  const f = filter.trim();
  if (f === '') return true;
  const m = /^\(([A-Za-z][\w-]*)=([^)]*)\)$/.exec(f);
  if (!m) return true;
  const [, attr, value] = m as unknown as [string, string, string];
  if (value === '*') return attr.toLowerCase() === 'objectclass' || o.attributes[attr] !== undefined;
  if (attr.toLowerCase() === 'objectclass') {
    const classes = o.attributes.objectClass ?? (o.type === 'user' ? ['inetOrgPerson'] : ['groupOfNames']);
    return classes.some((c) => c.toLowerCase() === value.toLowerCase());
  }
  return (o.attributes[attr] ?? []).some((v) => v.toLowerCase() === value.toLowerCase());
}

export class FakeAgent {
  /** The source directory this agent reads. Tests change it freely. */
  readonly directory = new Map<string, FakeObject>();
  /** The local cache per configuration: object id -> what was committed. */
  readonly cache = new Map<string, Map<string, CacheEntry>>();
  readonly committed = new Map<string, string>();
  /** Every frame received, in order. */
  readonly received: Body[] = [];
  closeCode: number | null = null;
  closeReason = '';
  ws!: WebSocket;
  autoRespond: boolean;
  /** Answer StartPreview by itself (false: the test does, or lets it hang). Default true. */
  autoPreview = true;
  batchSize: number;
  /** Cycles being streamed or awaiting a verdict: cycle id -> the view to commit. */
  private readonly views = new Map<string, { configurationId: string; view: Map<string, CacheEntry> }>();
  private readonly acked = new Map<string, number>();
  private encoder = new FrameEncoder();
  /** The welcome's maxInFlightBatches. */
  private window = 16;
  private closed: Promise<void>;
  private closedResolve!: () => void;
  private waiters: (() => void)[] = [];
  private pendingCursors: CacheCursor[] = [];

  private constructor(private readonly options: FakeAgentOptions) {
    this.autoRespond = options.autoRespond ?? true;
    this.batchSize = options.batchSize ?? 100;
    this.closed = new Promise((resolve) => (this.closedResolve = resolve));
  }

  /** Opens the socket (without hello). Rejects with the HTTP status when the upgrade is refused. */
  static async open(options: FakeAgentOptions): Promise<FakeAgent> {
    const agent = new FakeAgent(options);
    await agent.openSocket();
    return agent;
  }

  /** Opens the socket, says hello and waits for the welcome. */
  static async connect(options: FakeAgentOptions, cursors: CacheCursor[] = []): Promise<FakeAgent> {
    const agent = await FakeAgent.open(options);
    await agent.hello(cursors);
    return agent;
  }

  /** Reconnects with the same directory and cache (cursors from the cache, plus pending ones). */
  async reconnect(extraCursors: Partial<CacheCursor>[] = []): Promise<void> {
    this.ws.terminate();
    await this.closed;
    this.encoder = new FrameEncoder();
    await this.openSocket();
    const cursors: CacheCursor[] = [...this.committed.entries()].map(([configurationId, committedCycleId]) => ({
      configurationId,
      committedCycleId,
      pendingCycleId: '',
      runningCycleId: '',
    }));
    for (const c of extraCursors) {
      const existing = cursors.find((x) => x.configurationId === c.configurationId);
      if (existing) Object.assign(existing, c);
      else cursors.push({ configurationId: '', committedCycleId: '', pendingCycleId: '', runningCycleId: '', ...c });
    }
    await this.hello(cursors);
  }

  private openSocket(): Promise<void> {
    this.closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
    this.closeCode = null;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (this.options.token !== undefined) headers.authorization = `Bearer ${this.options.token}`;
      const ws = new WebSocket(this.options.url, { ...this.options.wsOptions, headers });
      this.ws = ws;
      ws.binaryType = 'nodebuffer';
      ws.on('unexpected-response', (_req, res) => {
        reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode }));
        res.resume();
        ws.terminate();
      });
      ws.on('error', (error) => reject(error));
      ws.on('open', () => resolve());
      ws.on('message', (data: Buffer) => this.onFrame(data));
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.closedResolve();
        this.notify();
      });
    });
  }

  async hello(cursors: CacheCursor[] = []): Promise<BodyMap['controllerWelcome']> {
    this.pendingCursors = cursors;
    const before = this.received.length;
    this.send({
      type: 'agentHello',
      value: {
        agentId: this.options.agentId,
        softwareVersion: '0.0.0-fake',
        protocolVersions: this.options.protocolVersions ?? [PROTOCOL_VERSION],
        hostname: this.options.hostname ?? 'fake-host',
        cursors,
        features: this.options.features ?? ['preview'],
      },
    });
    const welcome = await this.waitFor('controllerWelcome', () => true, before);
    return welcome;
  }

  send(body: BodyInput): void {
    this.ws.send(this.encoder.encode(body));
  }

  sendRaw(data: Buffer | string, binary = true): void {
    this.ws.send(data, { binary });
  }

  /** Waits for a frame of `type` (received at index >= `from`) matching `predicate`. */
  async waitFor<K extends BodyType>(
    type: K,
    predicate: (value: BodyMap[K]) => boolean = () => true,
    from = 0,
    timeoutMs = 15_000,
  ): Promise<BodyMap[K]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.received.length; i++) {
        const b = this.received[i]!;
        if (b.type === type && predicate(b.value as BodyMap[K])) return b.value as BodyMap[K];
      }
      if (Date.now() > deadline) {
        throw new Error(`fake agent: no ${type} within ${timeoutMs} ms (got ${this.received.map((b) => b.type).join(', ')})`);
      }
      if (this.closeCode !== null && this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`fake agent: connection closed (${this.closeCode} ${this.closeReason}) while waiting for ${type}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Resolves with the close code once the connection closed. */
  async waitClosed(): Promise<number> {
    await this.closed;
    return this.closeCode ?? 0;
  }

  count(type: BodyType): number {
    return this.received.filter((b) => b.type === type).length;
  }

  close(): Promise<void> {
    this.ws.close(1000);
    return this.closed;
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onFrame(data: Buffer): void {
    const frame = decodeFrame(data);
    this.received.push(frame.body);
    const body = frame.body;
    switch (body.type) {
      case 'controllerWelcome':
        this.encoder.protocolVersion = body.value.protocolVersion;
        this.window = body.value.maxInFlightBatches || 16;
        break;
      case 'startCycle':
        if (this.autoRespond) void this.runCycle(body.value).catch(() => undefined);
        break;
      case 'startPreview':
        if (this.autoPreview) void this.runPreview(body.value).catch(() => undefined);
        break;
      case 'previewAck':
        this.acked.set(
          body.value.previewId,
          Math.max(this.acked.get(body.value.previewId) ?? 0, body.value.ackedThroughSequence),
        );
        break;
      case 'batchAck':
        this.acked.set(body.value.cycleId, Math.max(this.acked.get(body.value.cycleId) ?? 0, body.value.ackedThroughSequence));
        break;
      case 'cycleCommitted': {
        const pending = this.views.get(body.value.cycleId);
        if (pending) {
          this.cache.set(pending.configurationId, pending.view);
          this.committed.set(pending.configurationId, body.value.cycleId);
          this.views.delete(body.value.cycleId);
        }
        break;
      }
      case 'cycleAborted':
        this.views.delete(body.value.cycleId);
        break;
      default:
        break;
    }
    this.notify();
  }

  /** The objects in scope, by id. */
  private scoped(start: StartCycle): Map<string, FakeObject> {
    const base = start.scope.baseDn.toLowerCase();
    const types = start.scope.objectTypes.map((t) => (t === ObjectType.OBJECT_TYPE_GROUP ? 'group' : 'user'));
    const out = new Map<string, FakeObject>();
    for (const o of this.directory.values()) {
      const dn = o.dn.toLowerCase();
      if (dn !== base && !dn.endsWith(`,${base}`)) continue;
      if (!types.includes(o.type)) continue;
      if (!matchesFilter(o, start.scope.filter)) continue;
      out.set(o.id, o);
    }
    return out;
  }

  /** Computes the changes of a cycle the way the real agent would. */
  changesFor(start: StartCycle): { changes: DeepPartial<Change>[]; view: Map<string, CacheEntry>; mode: CycleMode } {
    const cfg = start.configurationId;
    let cache = this.cache.get(cfg) ?? new Map<string, CacheEntry>();
    let mode = start.mode;
    if (mode === CycleMode.CYCLE_MODE_DELTA && this.committed.get(cfg) !== start.baseCycleId) mode = CycleMode.CYCLE_MODE_FULL;
    if (mode === CycleMode.CYCLE_MODE_FULL && this.committed.get(cfg) !== start.baseCycleId) cache = new Map();
    const view = new Map<string, CacheEntry>();
    const changes: DeepPartial<Change>[] = [];
    for (const o of this.scoped(start).values()) {
      const hash = hashOf(o);
      const hex = hash.toString('hex');
      view.set(o.id, { hash: hex, type: o.type, dn: o.dn });
      const old = cache.get(o.id);
      const objectType = o.type === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER;
      const full: DeepPartial<Change> = {
        objectType,
        objectId: o.id,
        dn: o.dn,
        contentHash: hash,
        disabled: o.disabled ?? false,
        attributes: Object.keys(o.attributes)
          .sort()
          .map((name) => ({ name, values: o.attributes[name] ?? [], binary: false })),
        memberDns: o.memberDns ?? [],
      };
      if (!old) changes.push({ ...full, kind: ChangeKind.CHANGE_KIND_ADD });
      else if (old.hash !== hex || old.dn !== o.dn) changes.push({ ...full, kind: ChangeKind.CHANGE_KIND_MODIFY });
      else if (mode === CycleMode.CYCLE_MODE_FULL) {
        changes.push({
          kind: ChangeKind.CHANGE_KIND_PRESENT,
          objectType,
          objectId: o.id,
          dn: o.dn,
          contentHash: hash,
          disabled: o.disabled ?? false,
        });
      }
    }
    for (const [id, old] of cache) {
      if (view.has(id)) continue;
      changes.push({
        kind: ChangeKind.CHANGE_KIND_DELETE,
        objectType: old.type === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER,
        objectId: id,
        dn: old.dn,
      });
    }
    return { changes, view, mode };
  }

  /** Answers a StartPreview as the real agent does: every object in scope (id, type, DN, hash), then PreviewComplete. */
  async runPreview(start: StartPreview, options: FakePreviewOptions = {}): Promise<void> {
    const objects = [...this.scoped(start as unknown as StartCycle).values()].map((o) => ({
      objectId: o.id,
      objectType: o.type === 'group' ? ObjectType.OBJECT_TYPE_GROUP : ObjectType.OBJECT_TYPE_USER,
      dn: o.dn,
      contentHash: hashOf(o),
      disabled: o.disabled ?? false,
    }));
    let seq = 0;
    for (let i = 0; i < objects.length; i += this.batchSize) {
      if (options.stopAfter !== undefined && seq >= options.stopAfter) return;
      seq += 1;
      while (seq - (this.acked.get(start.previewId) ?? 0) > this.window) await new Promise((r) => setTimeout(r, 10));
      this.send({
        type: 'previewBatch',
        value: {
          configurationId: start.configurationId,
          previewId: start.previewId,
          sequence: seq,
          objects: objects.slice(i, i + this.batchSize),
        },
      });
    }
    while ((this.acked.get(start.previewId) ?? 0) < seq) await new Promise((r) => setTimeout(r, 10));
    this.send({
      type: 'previewComplete',
      value: {
        configurationId: start.configurationId,
        previewId: start.previewId,
        lastSequence: seq,
        objects: objects.length,
        source: { entriesRead: objects.length, pages: 1, readDurationMs: 1, serverUrl: 'fake://' },
      },
    });
  }

  /** Streams one cycle: batches (within the welcome's window of unacknowledged ones), then CycleComplete. */
  async runCycle(start: StartCycle): Promise<void> {
    const { changes, view, mode } = this.changesFor(start);
    this.views.set(start.cycleId, { configurationId: start.configurationId, view });
    let seq = 0;
    for (let i = 0; i < changes.length; i += this.batchSize) {
      seq += 1;
      while (seq - (this.acked.get(start.cycleId) ?? 0) > this.window) await new Promise((r) => setTimeout(r, 10));
      this.send({
        type: 'changeBatch',
        value: {
          configurationId: start.configurationId,
          cycleId: start.cycleId,
          sequence: seq,
          changes: changes.slice(i, i + this.batchSize),
        },
      });
    }
    this.send({
      type: 'cycleComplete',
      value: {
        configurationId: start.configurationId,
        cycleId: start.cycleId,
        lastSequence: seq,
        totals: { adds: 0, modifies: 0, deletes: 0, presents: 0 },
        source: { entriesRead: changes.length, pages: 1, readDurationMs: 1, serverUrl: 'fake://' },
        mode,
      },
    });
  }
}

export interface FakePreviewOptions {
  /** Send only this many batches, then stop (no completion: a read cut off by a disconnect). */
  stopAfter?: number;
}

/** `count` users `uid=<prefix><n>,<parentDn>` with ids `<prefix>-<n>`. */
export function fakeUsers(parentDn: string, count: number, prefix = 'user', extra: Record<string, string[]> = {}): FakeObject[] {
  return Array.from({ length: count }, (_, n) => ({
    id: `${prefix}-${n}`,
    type: 'user' as const,
    dn: `uid=${prefix}${n},${parentDn}`,
    attributes: { uid: [`${prefix}${n}`], cn: [`User ${n}`], mail: [`${prefix}${n}@example.com`], ...extra },
  }));
}

import { once } from 'node:events';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CloseCode,
  DEFAULT_LIMITS,
  FrameEncoder,
  decodeFrame,
  type AgentHello,
  type Change,
  type ChangeBatch,
  type CycleComplete,
  type CycleFailed,
  type CycleMode,
  type ControllerWelcome,
  type PreviewComplete,
  type PreviewFailed,
  type PreviewObject,
  type Scope,
} from '@syncguard/protocol';

export interface MiniControllerOptions {
  /** The token the agent must present. Default `test-token`. */
  token?: string;
  /** Welcome limits. Defaults: DEFAULT_LIMITS with a 1 s heartbeat. */
  welcome?: Partial<ControllerWelcome>;
  /** Keep every change received (tests); false keeps counts only (benchmark). Default true. */
  keepChanges?: boolean;
  /** Acknowledge batches as they arrive. Default true. */
  autoAck?: boolean;
  /** Serve wss:// with this certificate; with `ca`, require a client certificate signed by it. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer };
}

/** What a preview sent. */
export interface PreviewLog {
  objects: PreviewObject[];
  sequences: number[];
  complete?: PreviewComplete;
  failed?: PreviewFailed;
}

interface CycleLog {
  batches: Map<number, ChangeBatch>;
  /** Highest contiguous sequence received. */
  through: number;
  resent: number;
  changeCount: number;
  complete?: CycleComplete;
  failed?: CycleFailed;
}

/**
 * A minimal syncguard controller for tests and the benchmark: the protocol peer made from
 * @syncguard/protocol and a ws server. It checks the bearer token, answers AgentHello with
 * ControllerWelcome, decodes every frame, de-duplicates batches by sequence, acknowledges
 * them cumulatively, and lets the caller start, commit and abort cycles.
 */
export class MiniController {
  readonly hellos: AgentHello[] = [];
  /** The socket whose hello was answered last. */
  private welcomed?: WebSocket;
  readonly errors: string[] = [];
  /** Subject CN of each client certificate presented (wss with a CA). */
  readonly clientCertificates: string[] = [];
  private readonly cycles = new Map<string, CycleLog>();
  /** Previews by id: what the agent sent for each. */
  readonly previews = new Map<string, PreviewLog>();
  /** Acknowledge preview batches as they arrive (false: the test acks with ackPreview). */
  autoAckPreviews = true;
  private socket?: WebSocket;
  private encoder = new FrameEncoder();
  private cycleCounter = 0;
  autoAck: boolean;
  /** Called for each batch received (after de-duplication), for tests that act mid-cycle. */
  onBatch?: (batch: ChangeBatch) => void;

  private constructor(
    private readonly server: WebSocketServer,
    readonly token: string,
    private readonly welcome: ControllerWelcome,
    private readonly keepChanges: boolean,
    autoAck: boolean,
  ) {
    this.autoAck = autoAck;
    server.on('connection', (ws, req) => {
      const socket = req.socket as TLSSocket;
      const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      if (peer?.subject?.CN) this.clientCertificates.push(String(peer.subject.CN));
      this.onConnection(ws, req.headers.authorization);
    });
  }

  static async start(options: MiniControllerOptions = {}): Promise<MiniController> {
    let server: WebSocketServer;
    let httpsServer: https.Server | undefined;
    const wsOptions = { path: '/agent', perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 };
    if (options.tls) {
      const { cert, key, ca } = options.tls;
      httpsServer = https.createServer({ cert, key, ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}) });
      server = new WebSocketServer({ server: httpsServer, ...wsOptions });
      httpsServer.listen(0, '127.0.0.1');
      await once(httpsServer, 'listening');
    } else {
      server = new WebSocketServer({ host: '127.0.0.1', port: 0, ...wsOptions });
      await once(server, 'listening');
    }
    const welcome: ControllerWelcome = {
      protocolVersion: 1,
      sessionId: 'mini',
      heartbeatIntervalMs: 1000,
      maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes,
      maxBatchChanges: DEFAULT_LIMITS.maxBatchChanges,
      maxInFlightBatches: DEFAULT_LIMITS.maxInFlightBatches,
      assignments: [],
      agentId: 'agent-mini',
      ...options.welcome,
    };
    const controller = new MiniController(
      server,
      options.token ?? 'test-token',
      welcome,
      options.keepChanges ?? true,
      options.autoAck ?? true,
    );
    controller.httpsServer = httpsServer;
    return controller;
  }

  private httpsServer?: https.Server;

  get url(): string {
    const address = this.httpsServer ? this.httpsServer.address() : this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return `${this.httpsServer ? 'wss' : 'ws'}://127.0.0.1:${port}/agent`;
  }

  /** True while an agent is connected and welcomed. */
  /** An agent's socket is open and its hello was answered (on a loaded machine the hello can come well after the upgrade). */
  get connected(): boolean {
    return this.socket !== undefined && this.socket.readyState === this.socket.OPEN && this.welcomed === this.socket;
  }

  /** Sends StartCycle; returns the new cycle id. */
  startCycle(
    configurationId: string,
    scope: Partial<Scope> & { baseDn: string },
    mode: CycleMode,
    baseCycleId = '',
    cycleId?: string,
  ): string {
    const id = cycleId ?? `cycle-${++this.cycleCounter}-${Date.now()}`;
    this.cycles.set(id, { batches: new Map(), through: 0, resent: 0, changeCount: 0 });
    this.send({
      type: 'startCycle',
      value: {
        configurationId,
        cycleId: id,
        mode,
        baseCycleId,
        scope: { filter: '', objectTypes: [1], attributes: [], disabledAttribute: '', ...scope },
      },
    });
    return id;
  }

  /** Sends StartPreview; returns its id. */
  startPreview(configurationId: string, scope: Partial<Scope> & { baseDn: string }, previewId?: string): string {
    const id = previewId ?? `preview-${++this.cycleCounter}-${Date.now()}`;
    this.previews.set(id, { objects: [], sequences: [] });
    this.send({
      type: 'startPreview',
      value: {
        configurationId,
        previewId: id,
        scope: { filter: '', objectTypes: [1], attributes: [], disabledAttribute: '', ...scope },
      },
    });
    return id;
  }

  ackPreview(configurationId: string, previewId: string, through: number, stop = false): void {
    this.send({ type: 'previewAck', value: { configurationId, previewId, ackedThroughSequence: through, stop } });
  }

  commit(configurationId: string, cycleId: string): void {
    this.send({ type: 'cycleCommitted', value: { configurationId, cycleId } });
  }

  abort(configurationId: string, cycleId: string, reason = 1): void {
    this.send({ type: 'cycleAborted', value: { configurationId, cycleId, reason, message: 'test abort' } });
  }

  /** Acknowledges everything received so far for a cycle. */
  ackAll(cycleId: string): void {
    const log = this.cycles.get(cycleId);
    if (log && log.through > 0) this.ack(log.batches.values().next().value?.configurationId ?? '', cycleId, log.through);
  }

  /** Cuts the connection abruptly (the agent reconnects). */
  dropConnection(): void {
    this.socket?.terminate();
    this.socket = undefined;
  }

  /** Closes the connection with a close code. */
  closeConnection(code: number, reason = ''): void {
    this.socket?.close(code, reason);
  }

  complete(cycleId: string): CycleComplete | undefined {
    return this.cycles.get(cycleId)?.complete;
  }

  failed(cycleId: string): CycleFailed | undefined {
    return this.cycles.get(cycleId)?.failed;
  }

  /** Batches received again after a reconnect (same sequence). */
  resent(cycleId: string): number {
    return this.cycles.get(cycleId)?.resent ?? 0;
  }

  changeCount(cycleId: string): number {
    return this.cycles.get(cycleId)?.changeCount ?? 0;
  }

  /** Every change of a cycle, in sequence order, each batch once. */
  changes(cycleId: string): Change[] {
    const log = this.cycles.get(cycleId);
    if (!log) return [];
    return [...log.batches.keys()].sort((a, b) => a - b).flatMap((seq) => log.batches.get(seq)!.changes);
  }

  /** Sequences received for a cycle, sorted. */
  sequences(cycleId: string): number[] {
    return [...(this.cycles.get(cycleId)?.batches.keys() ?? [])].sort((a, b) => a - b);
  }

  async close(): Promise<void> {
    for (const client of this.server.clients) client.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    const httpsServer = this.httpsServer;
    if (httpsServer) await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
  }

  private send(body: Parameters<FrameEncoder['encode']>[0]): void {
    if (!this.socket) throw new Error('no agent connected');
    this.socket.send(this.encoder.encode(body));
  }

  private ack(configurationId: string, cycleId: string, through: number): void {
    if (this.socket)
      this.socket.send(
        this.encoder.encode({ type: 'batchAck', value: { configurationId, cycleId, ackedThroughSequence: through } }),
      );
  }

  private onConnection(ws: WebSocket, authorization: string | undefined): void {
    if (authorization !== `Bearer ${this.token}`) {
      ws.close(CloseCode.AUTH_FAILED, 'bad token');
      return;
    }
    this.socket?.terminate();
    this.socket = ws;
    this.encoder = new FrameEncoder();
    let welcomed = false;
    ws.on('message', (data: Buffer) => {
      let frame;
      try {
        frame = decodeFrame(data, { maxFrameBytes: this.welcome.maxFrameBytes });
      } catch (error) {
        this.errors.push((error as Error).message);
        ws.close(CloseCode.PROTOCOL_ERROR);
        return;
      }
      const body = frame.body;
      if (!welcomed) {
        if (body.type !== 'agentHello') {
          this.errors.push(`first frame was ${body.type}`);
          return;
        }
        this.hellos.push(body.value);
        welcomed = true;
        ws.send(this.encoder.encode({ type: 'controllerWelcome', value: this.welcome }));
        this.welcomed = ws;
        return;
      }
      switch (body.type) {
        case 'changeBatch':
          this.onBatch_(body.value);
          break;
        case 'cycleComplete':
          this.logOf(body.value.cycleId).complete = body.value;
          break;
        case 'cycleFailed':
          this.logOf(body.value.cycleId).failed = body.value;
          break;
        case 'previewBatch': {
          const log = this.previews.get(body.value.previewId) ?? { objects: [], sequences: [] };
          this.previews.set(body.value.previewId, log);
          log.sequences.push(body.value.sequence);
          log.objects.push(...body.value.objects);
          if (this.autoAckPreviews) this.ackPreview(body.value.configurationId, body.value.previewId, body.value.sequence);
          break;
        }
        case 'previewComplete':
          this.previews.get(body.value.previewId)!.complete = body.value;
          break;
        case 'previewFailed': {
          const log = this.previews.get(body.value.previewId) ?? { objects: [], sequences: [] };
          this.previews.set(body.value.previewId, log);
          log.failed = body.value;
          break;
        }
        case 'heartbeat':
          ws.send(this.encoder.encode({ type: 'heartbeat', value: { sentAtUnixMs: Date.now() } }));
          break;
        default:
          this.errors.push(`unexpected ${body.type}`);
      }
    });
    ws.on('close', () => {
      if (this.socket === ws) this.socket = undefined;
    });
  }

  private logOf(cycleId: string): CycleLog {
    let log = this.cycles.get(cycleId);
    if (!log) {
      log = { batches: new Map(), through: 0, resent: 0, changeCount: 0 };
      this.cycles.set(cycleId, log);
    }
    return log;
  }

  private onBatch_(batch: ChangeBatch): void {
    const log = this.logOf(batch.cycleId);
    if (batch.changes.length > this.welcome.maxBatchChanges) this.errors.push(`batch ${batch.sequence} exceeds maxBatchChanges`);
    if (batch.sequence <= log.through || log.batches.has(batch.sequence)) {
      log.resent += 1;
    } else {
      if (batch.sequence !== log.through + 1) this.errors.push(`sequence gap: got ${batch.sequence} after ${log.through}`);
      log.through = batch.sequence;
      log.changeCount += batch.changes.length;
      log.batches.set(batch.sequence, this.keepChanges ? batch : { ...batch, changes: [] });
      this.onBatch?.(batch);
    }
    if (this.autoAck) this.ack(batch.configurationId, batch.cycleId, log.through);
  }
}

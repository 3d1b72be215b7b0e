import { randomUUID } from 'node:crypto';
import {
  CloseCode,
  ErrorCode,
  FrameEncoder,
  HEARTBEAT_MISSES_ALLOWED,
  ProtocolError,
  SUPPORTED_PROTOCOL_VERSIONS,
  decodeFrame,
  encodedChangesOfFrame,
  negotiateVersion,
  readChangeBatchFrame,
  type AgentHello,
  type Assignment,
  type BodyInput,
  type ChangeHeader,
  type CycleComplete,
  type CycleFailed,
  type Frame,
  type PreviewBatch,
  type PreviewComplete,
  type PreviewFailed,
} from '@syncguard/protocol';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { CompiledControllerOptions } from '../controller-options';
import type { ControllerMetrics } from '../metrics';
import {
  MAX_AGENT_MESSAGE_CHARS,
  MAX_HELLO_CURSORS,
  MAX_HOSTNAME_CHARS,
  MAX_ID_CHARS,
  MAX_VERSION_CHARS,
  boundedText,
  overLimit,
} from './agent-limits';

/** A ChangeBatch as staging reads it: its changes' headers (a full Change is one too). */
export interface StagedBatch {
  configurationId: string;
  cycleId: string;
  sequence: number;
  changes: readonly ChangeHeader[];
}

/** A wire error to report to the agent without closing the connection. */
export interface SessionError {
  code: ErrorCode;
  message: string;
  cycleId?: string;
}

/** What a session asks of the engine. All methods are called in frame order, one at a time. */
export interface SessionHandler {
  /** The agent said hello: mark it connected and answer its assignments. */
  hello(session: AgentSession, hello: AgentHello): Promise<Assignment[]>;
  /** The welcome is out: settle the agent's cursors, start cycles. */
  afterWelcome(session: AgentSession, hello: AgentHello): Promise<void>;
  /**
   * A batch, its changes read as far as staging needs them; `wire` holds each change as the
   * agent encoded it (views into the frame) and the frame's protocol version.
   */
  batch(
    session: AgentSession,
    batch: StagedBatch,
    wire: { protocolVersion: number; encoded: readonly Uint8Array[] },
  ): Promise<{ ackedThrough: number | null; error: SessionError | null }>;
  complete(session: AgentSession, message: CycleComplete): Promise<SessionError | null>;
  /** CycleFailed: taken only from the agent the cycle belongs to (an error otherwise). */
  failed(session: AgentSession, message: CycleFailed): Promise<SessionError | null>;
  /** The agent is alive (heartbeat or pong); refresh its session key and lastSeenAt. */
  alive(session: AgentSession): Promise<void>;
  closed(session: AgentSession): Promise<void>;
  /** A PreviewBatch: answers the sequence to acknowledge and whether the agent should stop the preview. */
  previewBatch?(session: AgentSession, batch: PreviewBatch): Promise<{ ackedThrough: number; stop: boolean }>;
  previewComplete?(session: AgentSession, message: PreviewComplete): Promise<void>;
  previewFailed?(session: AgentSession, message: PreviewFailed): Promise<void>;
}

type SessionState = 'hello' | 'ready' | 'closed';

/** A frame as read on arrival: a batch by the fast path, any frame decoded, or why it was refused. */
type Incoming =
  | { kind: 'batch'; batch: StagedBatch; wire: { protocolVersion: number; encoded: readonly Uint8Array[] } }
  | { kind: 'frame'; frame: Frame; bytes: Buffer }
  | { kind: 'refused'; error: ProtocolError };

/**
 * Frames other than batches (heartbeats, CycleComplete, Error, ...) that may wait in a
 * session's queue before the socket stops being read. Batches are bounded by the window.
 */
const QUEUED_OTHER_FRAMES_BOUND = 4;

/**
 * One agent's WebSocket connection. Frames are handled strictly in arrival order. A
 * frame that cannot be decoded gets an Error frame and closes this connection with the
 * ProtocolError's close code; nothing else is affected.
 *
 * Nothing an agent sends is held without bound: frames are read (decoded) as they arrive
 * and queued for handling; a ChangeBatch beyond the `maxInFlightBatches` window announced
 * in the welcome (more batches received than handled and acknowledged) closes the
 * connection with RATE_LIMITED and a LIMIT_EXCEEDED error, and while other frames wait
 * beyond a small bound the socket is not read (TCP back-pressure on the agent).
 */
export class AgentSession {
  readonly sessionId = randomUUID();
  private state: SessionState = 'hello';
  /** The handler's `hello` ran: `closed` must run too. */
  private registered = false;
  private readonly encoder = new FrameEncoder();
  private chain: Promise<void> = Promise.resolve();
  /** Batches received and not yet handled (acknowledged or refused). */
  private pendingBatches = 0;
  /** Other frames received and not yet handled. */
  private pendingOther = 0;
  /** PreviewBatch frames received and not yet handled: a window of their own, apart from the cycles' batches. */
  private pendingPreviewBatches = 0;
  private lastHeardAt = Date.now();
  private readonly helloTimer: NodeJS.Timeout;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closedResolve!: () => void;
  /** Resolves once the session has closed and its handler's `closed` ran. */
  readonly done = new Promise<void>((resolve) => (this.closedResolve = resolve));
  hostname = '';

  constructor(
    private readonly ws: WebSocket,
    /** The agent id the token belongs to. */
    readonly agentId: string,
    /** SHA-256 of the token this connection authenticated with (a rotation revokes it). */
    readonly tokenHash: string,
    private readonly handler: SessionHandler,
    private readonly options: CompiledControllerOptions,
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
  ) {
    this.encoder.maxFrameBytes = options.maxFrameBytes;
    ws.on('message', (data, isBinary) => {
      this.lastHeardAt = Date.now();
      this.receive(data, isBinary);
    });
    ws.on('pong', () => {
      this.lastHeardAt = Date.now();
    });
    ws.on('close', () => {
      this.enqueue(() => this.onClose());
    });
    ws.on('error', (error) => {
      this.logger.debug({ err: error }, 'agent socket error');
    });
    this.helloTimer = setTimeout(() => {
      if (this.state === 'hello') this.close(CloseCode.HELLO_TIMEOUT, 'no AgentHello in time');
    }, options.helloTimeoutMs);
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  /** Sends one message; false when the connection is not open. */
  send(body: BodyInput): boolean {
    if (this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(this.encoder.encode(body));
    return true;
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, reason.slice(0, 120));
      // A peer that does not finish the closing handshake is cut off.
      setTimeout(() => this.ws.terminate(), 2000).unref();
    }
  }

  /**
   * Ends the session because the agent was deleted or its token rotated: an Error frame
   * (AUTH_FAILED, fatal), then close code AGENT_REVOKED, which tells the agent not to retry.
   */
  revoke(reason: string): void {
    if (this.state === 'closed') return;
    this.logger.warn({ agentId: this.agentId, sessionId: this.sessionId, reason }, 'agent session revoked');
    this.sendError({ code: ErrorCode.ERROR_CODE_AUTH_FAILED, message: reason }, true);
    this.close(CloseCode.AGENT_REVOKED, reason);
    this.state = 'closed';
  }

  private enqueue(task: () => Promise<void>): void {
    this.chain = this.chain.then(task).catch((error: unknown) => {
      this.logger.error({ err: error, agentId: this.agentId }, 'agent frame handling failed');
      this.sendError({ code: ErrorCode.ERROR_CODE_INTERNAL, message: 'internal error' }, true);
      this.close(CloseCode.INTERNAL_ERROR, 'internal error');
    });
  }

  private sendError(error: SessionError, fatal: boolean): void {
    try {
      this.send({
        type: 'error',
        value: { code: error.code, message: error.message.slice(0, 1000), fatal, cycleId: error.cycleId ?? '' },
      });
    } catch {
      // the connection is going away anyway
    }
  }

  private refuse(error: ProtocolError): void {
    this.metrics.framesRejected.inc({ code: error.code });
    this.logger.warn({ agentId: this.agentId, code: error.code, message: error.message }, 'agent frame refused');
    this.sendError({ code: error.wireCode, message: error.message }, true);
    this.close(error.closeCode, error.code);
    this.state = 'closed';
  }

  private async onBatch(batch: StagedBatch, wire: { protocolVersion: number; encoded: readonly Uint8Array[] }): Promise<void> {
    if (batch.changes.length > this.options.maxBatchChanges) {
      return this.fatal(
        ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
        `batch of ${batch.changes.length} changes exceeds ${this.options.maxBatchChanges}`,
        CloseCode.POLICY_VIOLATION,
      );
    }
    if (!this.idsWithinBounds('ChangeBatch', batch)) return;
    const { ackedThrough, error } = await this.handler.batch(this, batch, wire);
    if (error) this.sendError(error, false);
    if (ackedThrough !== null && ackedThrough > 0) {
      this.send({
        type: 'batchAck',
        value: { configurationId: batch.configurationId, cycleId: batch.cycleId, ackedThroughSequence: ackedThrough },
      });
    }
  }

  /** False (and the connection closing with POLICY_VIOLATION, naming the field) when an id is over its bound. */
  private idsWithinBounds(message: string, ids: { configurationId: string; cycleId: string }): boolean {
    const tooLong = overLimit([
      ['configurationId', ids.configurationId, MAX_ID_CHARS],
      ['cycleId', ids.cycleId, MAX_ID_CHARS],
    ]);
    if (tooLong) this.fatal(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `${message} ${tooLong}`, CloseCode.POLICY_VIOLATION);
    return tooLong === null;
  }

  private previewIdsWithinBounds(message: string, ids: { configurationId: string; previewId: string }): boolean {
    return this.idsWithinBounds(message, { configurationId: ids.configurationId, cycleId: ids.previewId });
  }

  /**
   * A WebSocket message arrived: read it now (so that the window is checked against what
   * arrived, not what was handled) and queue its handling.
   */
  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    let incoming: Incoming;
    try {
      incoming = this.read(data, isBinary);
    } catch (error) {
      // Not the agent's fault (read refuses bad frames with a ProtocolError): handled, in
      // order, as any failure of a frame's handling.
      this.enqueue(() => Promise.reject(error));
      return;
    }
    const isBatch = incoming.kind === 'batch' || (incoming.kind === 'frame' && incoming.frame.body.type === 'changeBatch');
    const isPreviewBatch = incoming.kind === 'frame' && incoming.frame.body.type === 'previewBatch';
    if (isPreviewBatch) {
      if (this.pendingPreviewBatches >= this.options.maxInFlightBatches) {
        this.fatal(
          ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
          `more than maxInFlightBatches (${this.options.maxInFlightBatches}) unacknowledged preview batches`,
          CloseCode.RATE_LIMITED,
        );
        return;
      }
      this.pendingPreviewBatches += 1;
    } else if (isBatch) {
      // An agent that keeps to the window never has more than maxInFlightBatches batches
      // here: it sends one only while fewer are unacknowledged, and a batch is acknowledged
      // after it was handled.
      if (this.pendingBatches >= this.options.maxInFlightBatches) {
        this.fatal(
          ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
          `more than maxInFlightBatches (${this.options.maxInFlightBatches}) unacknowledged batches`,
          CloseCode.RATE_LIMITED,
        );
        return;
      }
      this.pendingBatches += 1;
    } else {
      this.pendingOther += 1;
      if (this.pendingOther >= QUEUED_OTHER_FRAMES_BOUND && !this.ws.isPaused) this.ws.pause();
    }
    this.enqueue(async () => {
      try {
        await this.onMessage(incoming);
      } finally {
        if (isPreviewBatch) this.pendingPreviewBatches -= 1;
        else if (isBatch) this.pendingBatches -= 1;
        else this.pendingOther -= 1;
        if (this.ws.isPaused && this.pendingOther < QUEUED_OTHER_FRAMES_BOUND) this.ws.resume();
      }
    });
  }

  private read(data: WebSocket.RawData, isBinary: boolean): Incoming {
    // One buffer for the whole message (ws hands a fragmented one over in parts).
    const raw = Array.isArray(data) ? Buffer.concat(data) : data;
    const bytes = raw instanceof ArrayBuffer ? Buffer.from(raw) : raw;
    // Batches, the bulk of the traffic, by the fast path when it can (see readChangeBatchFrame).
    if (isBinary && this.state === 'ready') {
      const fast = readChangeBatchFrame(bytes, {
        maxFrameBytes: this.options.maxFrameBytes,
        versions: SUPPORTED_PROTOCOL_VERSIONS,
      });
      if (fast !== null && fast.protocolVersion === this.encoder.protocolVersion)
        return { kind: 'batch', batch: fast, wire: { protocolVersion: fast.protocolVersion, encoded: fast.encoded } };
    }
    try {
      if (!isBinary) throw new ProtocolError('PROTO_ERR_NOT_BINARY', 'expected a binary frame, got text');
      const frame = decodeFrame(bytes, { maxFrameBytes: this.options.maxFrameBytes, versions: SUPPORTED_PROTOCOL_VERSIONS });
      return { kind: 'frame', frame, bytes };
    } catch (error) {
      if (error instanceof ProtocolError) return { kind: 'refused', error };
      throw error;
    }
  }

  private async onMessage(incoming: Incoming): Promise<void> {
    if (this.state === 'closed') return;
    if (incoming.kind === 'refused') return this.refuse(incoming.error);
    // Read by the fast path, which needs the session ready and in the frame's version.
    if (incoming.kind === 'batch') return this.onBatch(incoming.batch, incoming.wire);
    const { frame, bytes } = incoming;
    const body = frame.body;
    if (this.state === 'hello') {
      if (body.type !== 'agentHello') {
        return this.fatal(
          ErrorCode.ERROR_CODE_UNEXPECTED_MESSAGE,
          `expected agentHello first, got ${body.type}`,
          CloseCode.PROTOCOL_ERROR,
        );
      }
      return this.onHello(body.value);
    }
    if (frame.protocolVersion !== this.encoder.protocolVersion) {
      return this.refuse(
        new ProtocolError(
          'PROTO_ERR_UNSUPPORTED_VERSION',
          `frame in version ${frame.protocolVersion}, negotiated ${this.encoder.protocolVersion}`,
        ),
      );
    }
    switch (body.type) {
      case 'heartbeat':
        await this.handler.alive(this);
        return;
      case 'changeBatch':
        return this.onBatch(body.value, { protocolVersion: frame.protocolVersion, encoded: encodedChangesOfFrame(bytes) });
      case 'cycleComplete': {
        if (!this.idsWithinBounds('CycleComplete', body.value)) return;
        const error = await this.handler.complete(this, body.value);
        if (error) this.sendError(error, false);
        return;
      }
      case 'cycleFailed': {
        if (!this.idsWithinBounds('CycleFailed', body.value)) return;
        const error = await this.handler.failed(this, body.value);
        if (error) this.sendError(error, false);
        return;
      }
      case 'previewBatch': {
        const b = body.value;
        if (!this.previewIdsWithinBounds('PreviewBatch', b)) return;
        if (b.objects.length > this.options.maxBatchChanges) {
          return this.fatal(
            ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
            `preview batch of ${b.objects.length} objects exceeds ${this.options.maxBatchChanges}`,
            CloseCode.POLICY_VIOLATION,
          );
        }
        const answer = (await this.handler.previewBatch?.(this, b)) ?? { ackedThrough: b.sequence, stop: true };
        this.send({
          type: 'previewAck',
          value: {
            configurationId: b.configurationId,
            previewId: b.previewId,
            ackedThroughSequence: answer.ackedThrough,
            stop: answer.stop,
          },
        });
        return;
      }
      case 'previewComplete':
        if (!this.previewIdsWithinBounds('PreviewComplete', body.value)) return;
        await this.handler.previewComplete?.(this, body.value);
        return;
      case 'previewFailed':
        if (!this.previewIdsWithinBounds('PreviewFailed', body.value)) return;
        await this.handler.previewFailed?.(this, body.value);
        return;
      case 'error':
        this.logger.warn(
          { agentId: this.agentId, error: { ...body.value, message: boundedText(body.value.message, MAX_AGENT_MESSAGE_CHARS) } },
          'agent reported an error',
        );
        return;
      default:
        return this.fatal(
          ErrorCode.ERROR_CODE_UNEXPECTED_MESSAGE,
          `${body.type} is not sent by agents`,
          CloseCode.PROTOCOL_ERROR,
        );
    }
  }

  private fatal(code: ErrorCode, message: string, closeCode: number): void {
    this.logger.warn({ agentId: this.agentId, code, message }, 'agent session closed on a protocol violation');
    this.sendError({ code, message }, true);
    this.close(closeCode, message);
    this.state = 'closed';
  }

  private async onHello(hello: AgentHello): Promise<void> {
    clearTimeout(this.helloTimer);
    if (hello.cursors.length > MAX_HELLO_CURSORS) {
      return this.fatal(
        ErrorCode.ERROR_CODE_LIMIT_EXCEEDED,
        `AgentHello has ${hello.cursors.length} cursors, at most ${MAX_HELLO_CURSORS}`,
        CloseCode.POLICY_VIOLATION,
      );
    }
    const tooLong = overLimit([
      ['agentId', hello.agentId, MAX_ID_CHARS],
      ['hostname', hello.hostname, MAX_HOSTNAME_CHARS],
      ['softwareVersion', hello.softwareVersion, MAX_VERSION_CHARS],
      ...hello.cursors.flatMap((c, i): [string, string, number][] => [
        [`cursors[${i}].configurationId`, c.configurationId, MAX_ID_CHARS],
        [`cursors[${i}].committedCycleId`, c.committedCycleId, MAX_ID_CHARS],
        [`cursors[${i}].pendingCycleId`, c.pendingCycleId, MAX_ID_CHARS],
        [`cursors[${i}].runningCycleId`, c.runningCycleId, MAX_ID_CHARS],
      ]),
    ]);
    if (tooLong) return this.fatal(ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, `AgentHello ${tooLong}`, CloseCode.POLICY_VIOLATION);
    // An empty agent id means "the token's agent": the token alone identifies the agent.
    if (hello.agentId !== '' && hello.agentId !== this.agentId) {
      return this.fatal(ErrorCode.ERROR_CODE_AUTH_FAILED, 'the token does not belong to this agent id', CloseCode.AUTH_FAILED);
    }
    const version = negotiateVersion(hello.protocolVersions);
    if (version === undefined) {
      return this.fatal(
        ErrorCode.ERROR_CODE_UNSUPPORTED_VERSION,
        `no protocol version in common (controller speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
        CloseCode.UNSUPPORTED_VERSION,
      );
    }
    this.encoder.protocolVersion = version;
    this.hostname = hello.hostname;
    this.registered = true;
    const assignments = await this.handler.hello(this, hello);
    if (this.state === 'closed') return;
    this.state = 'ready';
    this.send({
      type: 'controllerWelcome',
      value: {
        protocolVersion: version,
        sessionId: this.sessionId,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        maxFrameBytes: this.options.maxFrameBytes,
        maxBatchChanges: this.options.maxBatchChanges,
        maxInFlightBatches: this.options.maxInFlightBatches,
        assignments,
        agentId: this.agentId,
      },
    });
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.heartbeatIntervalMs);
    this.logger.info({ agentId: this.agentId, sessionId: this.sessionId, version, hostname: hello.hostname }, 'agent connected');
    await this.handler.afterWelcome(this, hello);
  }

  private tick(): void {
    if (Date.now() - this.lastHeardAt > this.options.heartbeatIntervalMs * HEARTBEAT_MISSES_ALLOWED) {
      this.logger.warn({ agentId: this.agentId }, 'agent silent for too long: terminating');
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      setTimeout(() => this.ws.terminate(), 500).unref();
      return;
    }
    try {
      this.ws.ping();
      this.send({ type: 'heartbeat', value: { sentAtUnixMs: Date.now() } });
    } catch {
      // closing
    }
    this.enqueue(() => this.handler.alive(this));
  }

  private async onClose(): Promise<void> {
    const wasRegistered = this.registered;
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    try {
      if (wasRegistered) await this.handler.closed(this);
    } finally {
      this.closedResolve();
    }
  }
}

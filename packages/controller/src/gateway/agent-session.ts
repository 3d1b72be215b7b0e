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
} from '@syncguard/protocol';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import type { CompiledControllerOptions } from '../controller-options';
import type { ControllerMetrics } from '../metrics';

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
  failed(session: AgentSession, message: CycleFailed): Promise<void>;
  /** The agent is alive (heartbeat or pong); refresh its session key and lastSeenAt. */
  alive(session: AgentSession): Promise<void>;
  closed(session: AgentSession): Promise<void>;
}

type SessionState = 'hello' | 'ready' | 'closed';

/**
 * One agent's WebSocket connection. Frames are handled strictly in arrival order. A
 * frame that cannot be decoded gets an Error frame and closes this connection with the
 * ProtocolError's close code; nothing else is affected.
 */
export class AgentSession {
  readonly sessionId = randomUUID();
  private state: SessionState = 'hello';
  /** The handler's `hello` ran: `closed` must run too. */
  private registered = false;
  private readonly encoder = new FrameEncoder();
  private chain: Promise<void> = Promise.resolve();
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
      this.enqueue(() => this.onMessage(data, isBinary));
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
    const { ackedThrough, error } = await this.handler.batch(this, batch, wire);
    if (error) this.sendError(error, false);
    if (ackedThrough !== null && ackedThrough > 0) {
      this.send({
        type: 'batchAck',
        value: { configurationId: batch.configurationId, cycleId: batch.cycleId, ackedThroughSequence: ackedThrough },
      });
    }
  }

  private async onMessage(data: WebSocket.RawData, isBinary: boolean): Promise<void> {
    if (this.state === 'closed') return;
    let frame;
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
        return this.onBatch(fast, { protocolVersion: fast.protocolVersion, encoded: fast.encoded });
    }
    try {
      if (!isBinary) throw new ProtocolError('PROTO_ERR_NOT_BINARY', 'expected a binary frame, got text');
      frame = decodeFrame(bytes, { maxFrameBytes: this.options.maxFrameBytes, versions: SUPPORTED_PROTOCOL_VERSIONS });
    } catch (error) {
      if (error instanceof ProtocolError) return this.refuse(error);
      throw error;
    }
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
        const error = await this.handler.complete(this, body.value);
        if (error) this.sendError(error, false);
        return;
      }
      case 'cycleFailed':
        await this.handler.failed(this, body.value);
        return;
      case 'error':
        this.logger.warn({ agentId: this.agentId, error: body.value }, 'agent reported an error');
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

import { once } from 'node:events';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import {
  CloseCode,
  DEFAULT_LIMITS,
  FrameEncoder,
  HEARTBEAT_MISSES_ALLOWED,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  describeCloseCode,
  isRetryableClose,
  tryDecodeFrame,
  type AgentHello,
  type Body,
  type BodyInput,
  type ControllerWelcome,
} from '@syncguard/protocol';
import { AgentError, tlsTrustHint } from '../errors';
import { redactUrl, redactUrlsIn } from '../redact';
import { Backoff } from './backoff';

export interface ControllerConnectionOptions {
  url: string;
  token: string;
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  helloTimeoutMs: number;
}

export interface ConnectionHandlers {
  /** Builds the AgentHello for a new connection (cursors as of now). */
  hello(): AgentHello;
  /** The controller welcomed this connection: resend what is owed. */
  welcomed(welcome: ControllerWelcome): void;
  /** Any message after the welcome other than Heartbeat. */
  message(body: Body): void;
  /** The connection dropped (will be retried unless stopped). */
  disconnected(): void;
  /** The controller refused the agent for good (AUTH_FAILED, AGENT_REVOKED, UNSUPPORTED_VERSION). */
  refused(error: AgentError): void;
}

type State = 'starting' | 'connecting' | 'open' | 'ready' | 'waiting' | 'stopped';

/**
 * The agent's one WebSocket session with the controller: bearer token on the upgrade, no
 * permessage-deflate, AgentHello -> ControllerWelcome, heartbeats both ways (a peer
 * silent for HEARTBEAT_MISSES_ALLOWED intervals is dropped), reconnect with jittered
 * exponential backoff. Close codes that forbid a retry end it for good.
 */
export class ControllerConnection {
  private state: State = 'starting';
  private ws?: WebSocket;
  private encoder = new FrameEncoder();
  private welcome?: ControllerWelcome;
  private readonly backoff: Backoff;
  private heartbeatTimer?: NodeJS.Timeout;
  private helloTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private lastHeard = 0;
  /** The last connection problem reported at warn level: the same one again goes to debug. */
  private lastProblem = '';
  /** The last failure will not fix itself (wrong path, untrusted certificate): retry slowly. */
  private slowRetry = false;

  constructor(
    private readonly options: ControllerConnectionOptions,
    private readonly handlers: ConnectionHandlers,
    private readonly log: Logger,
  ) {
    this.backoff = new Backoff(options.reconnectInitialDelayMs, options.reconnectMaxDelayMs);
  }

  /** True once ControllerWelcome arrived on the current connection. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /** The current welcome's limits (defaults before the first welcome). */
  get limits(): Pick<ControllerWelcome, 'maxFrameBytes' | 'maxBatchChanges' | 'maxInFlightBatches' | 'protocolVersion'> {
    return this.welcome ?? { ...DEFAULT_LIMITS, protocolVersion: PROTOCOL_VERSION };
  }

  start(): void {
    if (this.state !== 'starting') return;
    this.connect();
  }

  /** Encodes and sends a message on the welcomed connection; false when not connected. */
  send(body: BodyInput): boolean {
    if (this.state !== 'ready' || !this.ws) return false;
    return this.sendBytes(this.encoder.encode(body));
  }

  /** Encodes a message with this connection's next message id, for {@link sendBytes}. */
  encode(body: BodyInput): Uint8Array {
    return this.encoder.encode(body);
  }

  sendBytes(bytes: Uint8Array): boolean {
    if (this.state !== 'ready' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(bytes, { binary: true });
    return true;
  }

  /** Drops the current connection (it is retried with backoff). For tests and protocol errors. */
  drop(reason: string): void {
    this.log.warn({ reason }, 'dropping controller connection');
    this.ws?.terminate();
  }

  async close(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clearTimers();
    const ws = this.ws;
    this.ws = undefined;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = once(ws, 'close').catch(() => undefined);
      ws.close(CloseCode.GOING_AWAY, 'agent stopping');
      const timer = setTimeout(() => ws.terminate(), 2000);
      await closed;
      clearTimeout(timer);
    }
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const ws = new WebSocket(this.options.url, {
      headers: { Authorization: `Bearer ${this.options.token}` },
      perMessageDeflate: false,
      handshakeTimeout: this.options.helloTimeoutMs,
      maxPayload: 64 * 1024 * 1024,
      ...(this.options.tls.ca ? { ca: this.options.tls.ca } : {}),
      ...(this.options.tls.cert ? { cert: this.options.tls.cert, key: this.options.tls.key } : {}),
    });
    this.ws = ws;
    ws.binaryType = 'nodebuffer';
    ws.on('open', () => this.onOpen(ws));
    ws.on('message', (data, isBinary) => this.onMessage(ws, data, isBinary));
    // The controller's WebSocket pings (ws answers them) count as signs of life too.
    ws.on('ping', () => (this.lastHeard = Date.now()));
    ws.on('pong', () => (this.lastHeard = Date.now()));
    // After an HTTP answer to the upgrade, terminate() raises an error of its own: not news.
    let answered = false;
    ws.on('error', (error) => {
      if (answered) return;
      const tls = tlsTrustHint(error, 'controller', 'SYNCGUARD_CA_FILE');
      if (tls) this.slowRetry = true;
      this.problem(tls ?? redactUrlsIn(error.message), { err: redactUrlsIn(error.message) }, 'controller connection error');
    });
    ws.on('unexpected-response', (_req, res) => {
      answered = true;
      if (res.statusCode === 404) {
        this.slowRetry = true;
        this.problem(
          `controller answered HTTP 404 to the upgrade at ${redactUrl(this.options.url)}: SYNCGUARD_CONTROLLER_URL must be the ` +
            "controller's agent endpoint, ending in /agent (e.g. wss://syncguard.example.com/agent)",
          { status: 404 },
          'wrong controller URL',
        );
      } else this.problem(`HTTP ${res.statusCode}`, { status: res.statusCode }, 'controller refused the WebSocket upgrade');
      if (res.statusCode === 401 || res.statusCode === 403) {
        this.refuse(
          new AgentError(
            'AGENT_ERR_CONNECTION_REFUSED',
            `controller answered HTTP ${res.statusCode} to the upgrade: SYNCGUARD_AGENT_TOKEN is unknown ` +
              '(mistyped, or the agent was deleted or its token rotated: syncguardctl agents rotate-token)',
          ),
        );
      }
      ws.terminate();
    });
    ws.on('close', (code, reason) => this.onClose(ws, code, reason.toString()));
  }

  private onOpen(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.state = 'open';
    this.encoder = new FrameEncoder({ protocolVersion: PROTOCOL_VERSION, maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes });
    this.lastHeard = Date.now();
    ws.send(this.encoder.encode({ type: 'agentHello', value: this.handlers.hello() }), { binary: true });
    this.helloTimer = setTimeout(() => {
      this.log.warn({ code: 'AGENT_ERR_PROTOCOL', timeoutMs: this.options.helloTimeoutMs }, 'no ControllerWelcome in time');
      ws.terminate();
    }, this.options.helloTimeoutMs);
  }

  private onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    if (ws !== this.ws) return;
    this.lastHeard = Date.now();
    const decoded = tryDecodeFrame(isBinary ? data : String(data), {
      maxFrameBytes: 64 * 1024 * 1024,
      versions: SUPPORTED_PROTOCOL_VERSIONS,
    });
    if (!decoded.ok) {
      this.log.warn(
        { code: 'AGENT_ERR_PROTOCOL', protocolCode: decoded.error.code, err: decoded.error.message },
        'bad frame from the controller',
      );
      this.send({ type: 'error', value: { code: decoded.error.wireCode, message: decoded.error.message, fatal: true } });
      ws.close(decoded.error.closeCode, decoded.error.code);
      return;
    }
    const body = decoded.frame.body;
    if (this.state === 'open') {
      if (body.type === 'controllerWelcome') {
        this.onWelcome(body.value);
      } else if (body.type === 'error') {
        this.log.error({ code: body.value.code, message: body.value.message }, 'controller refused the hello');
      } else {
        this.log.warn({ type: body.type }, 'message before ControllerWelcome ignored');
      }
      return;
    }
    if (body.type === 'heartbeat') return;
    if (body.type === 'error') {
      this.log[body.value.fatal ? 'error' : 'warn'](
        { code: body.value.code, cycleId: body.value.cycleId, fatal: body.value.fatal },
        `controller error: ${body.value.message}`,
      );
      return;
    }
    try {
      this.handlers.message(body);
    } catch (error) {
      this.log.error(
        { code: 'AGENT_ERR_INTERNAL', type: body.type, err: (error as Error).message },
        'failed to handle a controller message',
      );
    }
  }

  private onWelcome(welcome: ControllerWelcome): void {
    clearTimeout(this.helloTimer);
    if (!SUPPORTED_PROTOCOL_VERSIONS.includes(welcome.protocolVersion)) {
      this.refuse(
        new AgentError(
          'AGENT_ERR_CONNECTION_REFUSED',
          `controller chose protocol version ${welcome.protocolVersion}, which this agent does not speak`,
        ),
      );
      this.ws?.close(CloseCode.UNSUPPORTED_VERSION, 'unsupported version');
      return;
    }
    this.welcome = welcome;
    this.encoder.protocolVersion = welcome.protocolVersion;
    this.encoder.maxFrameBytes = welcome.maxFrameBytes;
    this.state = 'ready';
    this.backoff.reset();
    this.lastProblem = '';
    this.log.info(
      {
        agentId: welcome.agentId,
        sessionId: welcome.sessionId,
        heartbeatIntervalMs: welcome.heartbeatIntervalMs,
        maxFrameBytes: welcome.maxFrameBytes,
        maxBatchChanges: welcome.maxBatchChanges,
        maxInFlightBatches: welcome.maxInFlightBatches,
        assignments: welcome.assignments,
      },
      'connected to the controller',
    );
    let lastTick = Date.now();
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      // A late tick means this process was busy (e.g. committing a large cycle) and could not
      // read its socket: the peer's silence is then ours, so judge again from now.
      if (now - lastTick > welcome.heartbeatIntervalMs * 2) this.lastHeard = now;
      lastTick = now;
      if (now - this.lastHeard > welcome.heartbeatIntervalMs * HEARTBEAT_MISSES_ALLOWED) {
        this.log.warn('controller silent for too long');
        this.ws?.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
        this.ws?.terminate();
        return;
      }
      this.send({ type: 'heartbeat', value: { sentAtUnixMs: Date.now() } });
    }, welcome.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    try {
      this.handlers.welcomed(welcome);
    } catch (error) {
      this.log.error({ code: 'AGENT_ERR_INTERNAL', err: (error as Error).message }, 'failed to resume after the welcome');
    }
  }

  private onClose(ws: WebSocket, code: number, reason: string): void {
    if (ws !== this.ws) return;
    this.clearTimers();
    const wasReady = this.state === 'ready';
    this.ws = undefined;
    if (this.state === 'stopped') return;
    const info = describeCloseCode(code);
    if (wasReady) this.handlers.disconnected();
    if (!isRetryableClose(code)) {
      const hint =
        code === CloseCode.AGENT_REVOKED
          ? '; give the agent a new SYNCGUARD_AGENT_TOKEN (syncguardctl agents rotate-token, or register it again) and restart it'
          : '';
      this.refuse(
        new AgentError(
          'AGENT_ERR_CONNECTION_REFUSED',
          `controller closed the connection with ${code} ${info?.name ?? ''}: ${reason || info?.description || ''}${hint}`,
        ),
      );
      return;
    }
    // A problem that will not fix itself is retried at the longest delay, not hammered.
    const delay = this.slowRetry ? this.options.reconnectMaxDelayMs : this.backoff.next();
    this.slowRetry = false;
    this.log.info({ code, closeName: info?.name, reason, retryInMs: delay }, 'controller connection closed; reconnecting');
    this.state = 'waiting';
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Logs a connection problem at warn the first time, at debug while it repeats. */
  private problem(message: string, fields: Record<string, unknown>, what: string): void {
    const repeated = message === this.lastProblem;
    this.lastProblem = message;
    this.log[repeated ? 'debug' : 'warn']({ ...fields, problem: message, url: redactUrl(this.options.url) }, what);
  }

  private refuse(error: AgentError): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.clearTimers();
    this.ws?.terminate();
    this.ws = undefined;
    this.handlers.refused(error);
  }

  private clearTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.helloTimer);
    clearTimeout(this.retryTimer);
  }
}

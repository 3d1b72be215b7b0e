import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, type BodyInput } from '@syncguard/protocol';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { type AuthFailureLimiter, clientAddress } from '../auth/auth-failure-limiter';
import type { CompiledControllerOptions } from '../controller-options';
import type { ControllerMetrics } from '../metrics';
import type { Keys } from '../store/keys';
import { AgentSession, type SessionHandler } from './agent-session';

/** SHA-256 (hex) of an agent token: what Redis stores instead of the token. */
export function hashAgentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A frame for an agent; or (`supersede`) the session id of an agent's connection to close;
 * or (`revoke`) close the agent's connection with AGENT_REVOKED: every one when `tokenHash`
 * is empty (the agent was deleted), else only one authenticated with that token (rotated).
 */
type AgentCommand =
  | { agentId: string; body: BodyInput }
  | { agentId: string; supersede: string }
  | { agentId: string; revoke: { tokenHash: string; reason: string } };

/**
 * Accepts agents at `/agent` on the controller's HTTP server. The upgrade is refused
 * with HTTP 401 unless `Authorization: Bearer <token>` names a registered agent. Holds
 * this process's sessions; messages for an agent connected to another replica are
 * published on the Redis channel `P:agent-commands`, which every replica reads.
 */
export class AgentGateway {
  private readonly wss: WebSocketServer;
  private readonly sessions = new Map<string, AgentSession>();
  private closing = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: Keys,
    private readonly options: CompiledControllerOptions,
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
    private readonly handler: SessionHandler,
    /** Failed upgrades count per client address; a blocked address gets 429 (see AuthFailureLimiter). */
    private readonly authLimiter: AuthFailureLimiter | null = null,
  ) {
    // ws enforces a hard cap above ours so that a frame just over our limit still gets an
    // Error frame with FRAME_TOO_LARGE before the close.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes * 2 + 1024 });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.commands) return;
      try {
        const command = JSON.parse(message) as AgentCommand;
        const session = this.sessions.get(command.agentId);
        if ('supersede' in command) {
          if (session?.sessionId === command.supersede) session.close(CloseCode.SUPERSEDED, 'superseded by a new connection');
        } else if ('revoke' in command) {
          this.revokeLocal(command.agentId, command.revoke.tokenHash, command.revoke.reason);
        } else {
          session?.send(command.body);
        }
      } catch (error) {
        this.logger.warn({ err: error }, 'bad agent command on the pub/sub channel');
      }
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.keys.commands);
  }

  /** The HTTP server's `upgrade` listener. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/agent' || this.closing) {
      reject(socket, this.closing ? 503 : 404, this.closing ? 'Service Unavailable' : 'Not Found');
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const client = clientAddress(req, this.options.trustProxy);
    const limiter = this.authLimiter;
    (limiter ? limiter.retryAfterSeconds(client) : Promise.resolve(0))
      .then(async (retryAfter) => {
        if (retryAfter > 0) return reject(socket, 429, 'Too Many Requests', `Retry-After: ${retryAfter}\r\n`);
        const tokenHash = match ? hashAgentToken(match[1]!) : '';
        const agentId = match ? await this.redis.get(this.keys.agentToken(tokenHash)) : null;
        if (!agentId) {
          if (header)
            await limiter?.recordFailure(client, 'agent', match ? 'unknown agent token' : 'malformed Authorization header');
          return reject(socket, 401, 'Unauthorized');
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          const session = new AgentSession(ws, agentId, tokenHash, this.handler, this.options, this.logger, this.metrics);
          void session.done.then(() => {
            if (this.sessions.get(agentId) === session) {
              this.sessions.delete(agentId);
              this.metrics.connectedAgents.set(this.sessions.size);
            }
          });
        });
      })
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'agent upgrade failed');
        reject(socket, 503, 'Service Unavailable');
      });
  }

  /** Called by the engine once a session said hello: it becomes the agent's session here. */
  register(session: AgentSession): void {
    const previous = this.sessions.get(session.agentId);
    this.sessions.set(session.agentId, session);
    this.metrics.connectedAgents.set(this.sessions.size);
    if (previous && previous !== session) previous.close(CloseCode.SUPERSEDED, 'superseded by a new connection');
  }

  /** True when this session is (still) the agent's current one in this process. */
  isCurrent(session: AgentSession): boolean {
    return this.sessions.get(session.agentId) === session;
  }

  /**
   * Closes an agent's older connection held by another replica (SUPERSEDED): an agent is
   * connected once, to one replica, so that no two connections of it run cycles.
   */
  async supersede(agentId: string, sessionId: string): Promise<void> {
    await this.redis.publish(this.keys.commands, JSON.stringify({ agentId, supersede: sessionId } satisfies AgentCommand));
  }

  /**
   * Closes the agent's connection with AGENT_REVOKED, here and (through Redis) on every
   * other replica: any connection when `tokenHash` is empty (the agent was deleted), else
   * the one authenticated with that token (it was rotated). A connection that misses the
   * command (pub/sub is not durable) is closed at its next heartbeat, when its token no
   * longer matches (Engine.alive).
   */
  async revoke(agentId: string, tokenHash: string, reason: string): Promise<void> {
    this.revokeLocal(agentId, tokenHash, reason);
    await this.redis.publish(
      this.keys.commands,
      JSON.stringify({ agentId, revoke: { tokenHash, reason } } satisfies AgentCommand),
    );
  }

  private revokeLocal(agentId: string, tokenHash: string, reason: string): void {
    const session = this.sessions.get(agentId);
    if (session && (tokenHash === '' || session.tokenHash === tokenHash)) session.revoke(reason);
  }

  /** Sends to the agent here, or through Redis to the replica that holds it. */
  async send(agentId: string, body: BodyInput): Promise<void> {
    const local = this.sessions.get(agentId);
    if (local?.ready) {
      local.send(body);
      return;
    }
    await this.redis.publish(this.keys.commands, JSON.stringify({ agentId, body } satisfies AgentCommand));
  }

  /** Closes every session with GOING_AWAY and waits for their cleanup. */
  async close(): Promise<void> {
    this.closing = true;
    const sessions = [...this.sessions.values()];
    for (const s of sessions) s.close(CloseCode.GOING_AWAY, 'controller shutting down');
    await Promise.race([Promise.all(sessions.map((s) => s.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.subscriber.unsubscribe().catch(() => undefined);
  }
}

function reject(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.write(`HTTP/1.1 ${status} ${text}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode } from '@syncguard/protocol';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { type AuthFailureLimiter, clientAddress } from '../auth/auth-failure-limiter';
import type { CompiledControllerOptions } from '../controller-options';
import type { ControllerMetrics } from '../metrics';
import type { AgentChannel } from './agent-channel';
import { AgentSession, type SessionHandler } from './agent-session';

/** SHA-256 (hex) of an agent token: what Redis stores instead of the token. */
export function hashAgentToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Who an agent token stands for (store/agent-store.ts implements it). */
export interface AgentTokens {
  /** The id of the agent whose token has this SHA-256 (hex), or null when none has. */
  agentIdForToken(tokenHash: string): Promise<string | null>;
}

/**
 * Accepts agents at `/agent` on the controller's HTTP server. The upgrade is refused
 * with HTTP 401 unless `Authorization: Bearer <token>` names a registered agent; each
 * connection becomes an AgentSession whose frames go to the SessionHandler, and whose
 * place among this process's sessions the AgentChannel keeps.
 */
export class AgentGateway {
  private readonly wss: WebSocketServer;
  private closing = false;

  constructor(
    private readonly tokens: AgentTokens,
    private readonly channel: AgentChannel,
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
        const agentId = match ? await this.tokens.agentIdForToken(tokenHash) : null;
        if (!agentId) {
          if (header)
            await limiter?.recordFailure(client, 'agent', match ? 'unknown agent token' : 'malformed Authorization header');
          return reject(socket, 401, 'Unauthorized');
        }
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          const session = new AgentSession(ws, agentId, tokenHash, this.handler, this.options, this.logger, this.metrics);
          void session.done.then(() => this.channel.forget(session));
        });
      })
      .catch((error: unknown) => {
        this.logger.error({ err: error }, 'agent upgrade failed');
        reject(socket, 503, 'Service Unavailable');
      });
  }

  /** Closes every session with GOING_AWAY and waits for their cleanup. */
  async close(): Promise<void> {
    this.closing = true;
    const sessions = this.channel.all();
    for (const s of sessions) s.close(CloseCode.GOING_AWAY, 'controller shutting down');
    await Promise.race([Promise.all(sessions.map((s) => s.done)), new Promise((r) => setTimeout(r, 3000).unref())]);
    for (const client of this.wss.clients) client.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await this.channel.stop();
  }
}

function reject(socket: Duplex, status: number, text: string, headers = ''): void {
  socket.write(`HTTP/1.1 ${status} ${text}\r\n${headers}Connection: close\r\nContent-Length: 0\r\n\r\n`);
  socket.destroy();
}

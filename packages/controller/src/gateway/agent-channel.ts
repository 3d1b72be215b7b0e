import { CloseCode, type BodyInput } from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import type { AgentSession } from './agent-session';

/**
 * The channel every replica reads (store/agent-command-bus.ts implements it on Redis
 * pub/sub, `P:agent-commands`). Not durable: a message published while a replica is not
 * subscribed is not seen by it.
 */
export interface AgentCommandBus {
  /** Sets the one listener of the messages published (by any replica) once subscribed. */
  onMessage(listener: (message: string) => void): void;
  subscribe(): Promise<void>;
  unsubscribe(): Promise<void>;
  publish(message: string): Promise<void>;
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
 * This process's agent sessions, and the way to any agent's session: a frame for an agent
 * connected here is sent at once; one for an agent connected to another replica is
 * published on the command bus (Redis pub/sub), which every replica reads.
 */
export class AgentChannel {
  private readonly sessions = new Map<string, AgentSession>();

  constructor(
    private readonly bus: AgentCommandBus,
    private readonly logger: Logger,
    private readonly metrics: ControllerMetrics,
  ) {
    bus.onMessage((message: string) => {
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
    await this.bus.subscribe();
  }

  async stop(): Promise<void> {
    await this.bus.unsubscribe().catch(() => undefined);
  }

  /** The sessions held here. */
  all(): AgentSession[] {
    return [...this.sessions.values()];
  }

  /** A session closed: it is no longer the agent's here. */
  forget(session: AgentSession): void {
    if (this.sessions.get(session.agentId) === session) {
      this.sessions.delete(session.agentId);
      this.metrics.connectedAgents.set(this.sessions.size);
    }
  }

  /** Called once a session said hello: it becomes the agent's session here. */
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
    await this.bus.publish(JSON.stringify({ agentId, supersede: sessionId } satisfies AgentCommand));
  }

  /**
   * Closes the agent's connection with AGENT_REVOKED, here and (through Redis) on every
   * other replica: any connection when `tokenHash` is empty (the agent was deleted), else
   * the one authenticated with that token (it was rotated). A connection that misses the
   * command (pub/sub is not durable) is closed at its next heartbeat, when its token no
   * longer matches (SessionService.alive).
   */
  async revoke(agentId: string, tokenHash: string, reason: string): Promise<void> {
    this.revokeLocal(agentId, tokenHash, reason);
    await this.bus.publish(JSON.stringify({ agentId, revoke: { tokenHash, reason } } satisfies AgentCommand));
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
    await this.bus.publish(JSON.stringify({ agentId, body } satisfies AgentCommand));
  }
}

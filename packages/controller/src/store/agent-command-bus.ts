import type { Redis } from 'ioredis';
import type { AgentCommandBus } from '../gateway/agent-channel';
import type { Keys } from './keys';

/**
 * The agent command channel on Redis pub/sub (`P:agent-commands`): published on the main
 * connection, read on a connection of its own (a subscribed connection takes no other commands).
 */
export class RedisAgentCommandBus implements AgentCommandBus {
  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly keys: Keys,
  ) {}

  onMessage(listener: (message: string) => void): void {
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.commands) listener(message);
    });
  }

  async subscribe(): Promise<void> {
    await this.subscriber.subscribe(this.keys.commands);
  }

  async unsubscribe(): Promise<void> {
    await this.subscriber.unsubscribe();
  }

  async publish(message: string): Promise<void> {
    await this.redis.publish(this.keys.commands, message);
  }
}

import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ControllerError } from '../errors';
import { redactUrlCredentials } from '../redact';
import { checkRedisRequirements } from './redis-requirements';

/** A connection to Redis, as the stores take it (and tests that look into Redis). */
export type RedisConnection = Redis;

/** What BullMQ's queues and workers are given to reach Redis. */
export type QueueConnection = ConnectionOptions;

export interface RedisConnectionsOptions {
  redisUrl: string;
  /** Commands of the main connection fail after this instead of hanging on a silent Redis. */
  commandTimeoutMs: number;
  onError: (error: Error) => void;
}

/**
 * The controller's three connections to Redis: `main` for the stores (with a command
 * timeout: a Redis that stops answering fails API and gateway commands with
 * SG_ERR_UNAVAILABLE instead of hanging them), `queues` for BullMQ (which issues blocking
 * commands, so no timeout) and `subscriber` for pub/sub.
 */
export class RedisConnections {
  private constructor(
    readonly main: Redis,
    readonly queues: Redis,
    readonly subscriber: Redis,
  ) {}

  /** Connects all three and checks the server's version and settings; SG_ERR_REDIS when it cannot connect. */
  static async create(options: RedisConnectionsOptions): Promise<RedisConnections> {
    const main = new Redis(options.redisUrl, {
      maxRetriesPerRequest: 3,
      lazyConnect: true,
      commandTimeout: options.commandTimeoutMs,
    });
    const queues = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    const subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
    const all = [main, queues, subscriber];
    for (const r of all) r.on('error', options.onError);
    try {
      await Promise.all(all.map((r) => r.connect()));
    } catch (cause) {
      for (const r of all) r.disconnect();
      const at = redactUrlCredentials(options.redisUrl);
      throw new ControllerError('SG_ERR_REDIS', `cannot connect to Redis at ${at}: ${(cause as Error).message}`, { cause });
    }
    try {
      await checkRedisRequirements(main);
    } catch (error) {
      for (const r of all) r.disconnect();
      throw error;
    }
    return new RedisConnections(main, queues, subscriber);
  }

  /** True when Redis answers a PING on the main connection. */
  async ping(): Promise<boolean> {
    try {
      return (await this.main.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Quits each connection in turn (subscriber, queues, main); `step` runs each so that one failure stops none. */
  async close(step: (name: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    for (const r of [this.subscriber, this.queues, this.main]) await step('redis', () => r.quit());
  }
}

import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, type ConnectedRedis, type RedisSettings } from './redis-connection';

/** A connection to Redis, as the stores take it (and tests that look into Redis): one server, Sentinel or Cluster. */
export type RedisConnection = Redis;

/** What BullMQ's queues and workers are given to reach Redis. */
export type QueueConnection = ConnectionOptions;

export interface RedisConnectionsOptions {
  /** Where Redis is and how to connect (compileRedisSettings: topology, credentials, TLS, command timeout). */
  settings: RedisSettings;
  onError: (error: Error) => void;
}

/**
 * The controller's connections to Redis, one per role (store/redis-connection.ts): `main`
 * for the stores and `producer` for BullMQ's queues adding jobs, both with the command
 * timeout (a Redis that stops answering fails API and gateway commands with
 * SG_ERR_UNAVAILABLE instead of hanging them); `worker` for BullMQ's workers (which block on
 * Redis, so no timeout) and `subscriber` for pub/sub.
 */
export class RedisConnections {
  readonly main: Redis;
  readonly producer: Redis;
  readonly worker: Redis;
  readonly subscriber: Redis;

  private constructor(private readonly connected: ConnectedRedis) {
    this.main = connected.commands;
    this.producer = connected.producer;
    this.worker = connected.worker;
    this.subscriber = connected.subscriber;
  }

  /** Connects every role and checks the server's (every Cluster master's) version and settings; SG_ERR_REDIS when it cannot. */
  static async create(options: RedisConnectionsOptions): Promise<RedisConnections> {
    return new RedisConnections(await connectRedis(options.settings, options.onError));
  }

  /** Whether they talk to a Redis Cluster. */
  get cluster(): boolean {
    return this.connected.cluster;
  }

  /** True when Redis answers a PING on the main connection. */
  async ping(): Promise<boolean> {
    try {
      return (await this.main.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  /** Quits every connection; `step` runs it so that a failure stops no other close step. */
  async close(step: (name: string, fn: () => Promise<unknown>) => Promise<void>): Promise<void> {
    await step('redis', () => this.connected.close());
  }
}

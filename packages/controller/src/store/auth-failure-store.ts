import type { Redis } from 'ioredis';
import type { AuthFailureCounts } from '../auth/auth-failure-limiter';
import type { Keys } from './keys';
import { COUNT_IN_WINDOW, callScript } from './scripts';

/**
 * Failed authentications per client address, in fixed windows shared by every replica:
 * `P:authfail:{address}` (a string with a TTL, the count).
 */
export class AuthFailureStore implements AuthFailureCounts {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async current(address: string): Promise<{ count: number | null; ttlMs: number }> {
    const key = this.keys.authFailures(address);
    const [[, count], [, ttl]] = (await this.redis.multi().get(key).pttl(key).exec()) as [
      [unknown, string | null],
      [unknown, number],
    ];
    return { count: count === null ? null : Number(count), ttlMs: ttl };
  }

  async count(address: string, windowMs: number): Promise<number> {
    return (await callScript(this.redis, COUNT_IN_WINDOW, [this.keys.authFailures(address)], [windowMs])) as number;
  }
}

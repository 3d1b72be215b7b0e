import type { IncomingMessage } from 'node:http';
import proxyaddr from '@fastify/proxy-addr';
import type { Logger } from 'pino';

/** Where a secret was presented, for the log. */
export type AuthSurface = 'api' | 'dashboard' | 'agent';

export interface AuthFailureLimiterOptions {
  /** Failures one address may make per window; 0: no limit (failures are still logged). */
  limit: number;
  windowMs: number;
}

/** Where the failures are counted, shared by every replica (store/auth-failure-store.ts implements it). */
export interface AuthFailureCounts {
  /** The address's failures in the current window (null: none) and the ms left of the window (<= 0: none set). */
  current(address: string): Promise<{ count: number | null; ttlMs: number }>;
  /** Counts one more failure of the address in a window of `windowMs` starting with its first; answers the count. */
  count(address: string, windowMs: number): Promise<number>;
}

/**
 * Counts failed authentications per client address in Redis (fixed windows), so that
 * every replica sees the same count: once an address has failed `limit` times in the
 * window, every request of it that needs a secret is refused (429) until the window
 * ends, a right secret included, so that guessing learns nothing more.
 */
export class AuthFailureLimiter {
  constructor(
    private readonly counts: AuthFailureCounts,
    private readonly options: AuthFailureLimiterOptions,
    private readonly logger: Logger,
  ) {}

  /** Seconds until `address` may present a secret again; 0 when it may now. */
  async retryAfterSeconds(address: string): Promise<number> {
    if (this.options.limit === 0) return 0;
    const { count, ttlMs: ttl } = await this.counts.current(address);
    if (count === null || count < this.options.limit) return 0;
    return Math.max(1, Math.ceil((ttl > 0 ? ttl : this.options.windowMs) / 1000));
  }

  /** Counts a failed authentication of `address` and logs it at warn (never the secret). */
  async recordFailure(address: string, surface: AuthSurface, reason: string): Promise<void> {
    const failures = await this.counts.count(address, this.options.windowMs);
    const blocked = this.options.limit > 0 && failures >= this.options.limit;
    this.logger.warn(
      { client: address, surface, reason, failures, ...(blocked ? { blockedForMs: this.options.windowMs } : {}) },
      blocked ? 'authentication failed; client address blocked until the window ends' : 'authentication failed',
    );
  }
}

/**
 * The client address of a raw request as Fastify computes `request.ip` with the same
 * `trustProxy` list: the TCP peer, or the first untrusted `X-Forwarded-For` hop when
 * the peer is a trusted proxy.
 */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[]): string {
  if (trustProxy.length === 0) return req.socket.remoteAddress ?? 'unknown';
  return proxyaddr(req, [...trustProxy]);
}

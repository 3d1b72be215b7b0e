import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Actor } from '../model';
import { sha256 } from './token-store';

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * Browser sessions of the /admin/queues dashboard: `?token=` is exchanged once for a
 * random session id (256 bits), so that the cookie never holds the long-lived token.
 * Redis keeps only the id's SHA-256, with the session's TTL. Keys:
 * `${keyPrefix}:dashboard-session:<hex sha256 of the id>` (string with TTL, the Actor as JSON).
 */
export class DashboardSessions {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    readonly ttlMs: number,
  ) {}

  private key(id: string): string {
    return `${this.keyPrefix}:dashboard-session:${sha256(id).toString('hex')}`;
  }

  /** A new session for `actor`; answers its id (what the cookie holds). */
  async create(actor: Actor): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const record: Actor = { tokenId: actor.tokenId, name: actor.name, role: actor.role };
    await this.redis.set(this.key(id), JSON.stringify(record), 'PX', this.ttlMs);
    return id;
  }

  /** The actor of a live session, or null for an unknown, expired or malformed id. */
  async get(id: string): Promise<Actor | null> {
    if (!SESSION_ID.test(id)) return null;
    const raw = await this.redis.get(this.key(id));
    if (!raw) return null;
    try {
      return JSON.parse(raw) as Actor;
    } catch {
      return null;
    }
  }
}

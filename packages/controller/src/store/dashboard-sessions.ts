import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Actor } from '../model';
import type { Keys } from './keys';
import { sha256 } from './token-store';

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

type SessionRecord = Actor & { credential: string };

/**
 * Browser sessions of the /admin/queues dashboard: `?token=` is exchanged once for a
 * random session id (256 bits), so that the cookie never holds the long-lived token.
 * Redis keeps only the id's SHA-256, with the session's TTL. Keys:
 * `P:dashboard-session:<hex sha256 of the id>` (string with TTL, the Actor as JSON).
 */
export class DashboardSessions {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly ttlMs: number,
  ) {}

  private key(id: string): string {
    return this.keys.dashboardSession(sha256(id).toString('hex'));
  }

  /**
   * A new session for `actor`; answers its id (what the cookie holds). `credential` ties it
   * to the secret it was made with where the actor's id cannot (the bootstrap token's
   * fingerprint): the session ends when that changes.
   */
  async create(actor: Actor, credential = ''): Promise<string> {
    const id = randomBytes(32).toString('base64url');
    const record: SessionRecord = { tokenId: actor.tokenId, name: actor.name, role: actor.role, credential };
    await this.redis.set(this.key(id), JSON.stringify(record), 'PX', this.ttlMs);
    return id;
  }

  /** The actor and credential of a live session, or null for an unknown, expired or malformed id. */
  async get(id: string): Promise<{ actor: Actor; credential: string } | null> {
    if (!SESSION_ID.test(id)) return null;
    const raw = await this.redis.get(this.key(id));
    if (!raw) return null;
    try {
      const r = JSON.parse(raw) as SessionRecord;
      return { actor: { tokenId: r.tokenId, name: r.name, role: r.role }, credential: r.credential ?? '' };
    } catch {
      return null;
    }
  }
}

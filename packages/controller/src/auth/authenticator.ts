import type { Actor } from '../model';
import { ApiTokenStore, BOOTSTRAP_ACTOR, secretEquals, sha256 } from '../store/token-store';

/**
 * Turns a presented secret into the Actor it stands for: the bootstrap admin token
 * (SYNCGUARD_ADMIN_TOKEN) or an API token of the store. Both compared in constant time.
 */
export class Authenticator {
  constructor(
    private readonly adminToken: string,
    readonly tokens: ApiTokenStore,
  ) {}

  /**
   * SHA-256 (hex) of the bootstrap token: what a dashboard session made with it records, so
   * that the session ends when the token is changed (a restart with a new one).
   */
  get bootstrapFingerprint(): string {
    return sha256(this.adminToken).toString('hex');
  }

  async authenticate(secret: string | undefined): Promise<Actor | null> {
    if (!secret) return null;
    if (this.adminToken.length > 0 && secretEquals(secret, this.adminToken)) return { ...BOOTSTRAP_ACTOR };
    const record = await this.tokens.verify(secret);
    return record ? { tokenId: record.id, name: record.name, role: record.role } : null;
  }
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

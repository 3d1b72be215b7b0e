import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { HSET_IF_EXISTS, callScript } from './scripts';
import type { Keys } from './keys';
import { NotFoundError, ValidationError } from '../errors';
import type { Actor, ApiToken, Role } from '../model';

/** Actor of the bootstrap token (SYNCGUARD_ADMIN_TOKEN). */
export const BOOTSTRAP_ACTOR: Readonly<Actor> = Object.freeze({ tokenId: 'bootstrap', name: 'bootstrap-admin', role: 'admin' });

/** Prefix of tokens minted by {@link ApiTokenStore}: `sgt_<id>_<secret>`. */
const TOKEN_PREFIX = 'sgt_';
const ID_PATTERN = /^[0-9a-f]{16}$/;
/** Writes of lastUsedAt are coalesced to one per token and minute. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Constant-time equality of two secrets, whatever their lengths (compares their SHA-256). */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/**
 * API tokens in Redis. The secret is shown once, at creation; Redis keeps only its SHA-256
 * (a 256-bit random secret needs no slow hash). Keys (store/keys.ts), under the prefix:
 * - `{tokens}:apitoken:<id>`: hash {id, name, role, createdAt, lastUsedAt, hash (hex SHA-256 of the token)}
 * - `{tokens}:apitokens`: sorted set of ids scored by creation time (ms); one hash tag, since they are written in one MULTI
 *
 * A token reads `sgt_<id>_<secret>`: the id locates the record, then the hashes are
 * compared with crypto.timingSafeEqual.
 */
export class ApiTokenStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private key(id: string): string {
    return this.keys.apiToken(id);
  }

  private get indexKey(): string {
    return this.keys.apiTokens;
  }

  async create(input: { name: string; role: Role }): Promise<ApiToken & { token: string }> {
    const name = input.name.trim();
    if (name.length === 0) throw new ValidationError('name', 'must not be empty');
    if (input.role !== 'admin' && input.role !== 'reader') throw new ValidationError('role', "must be 'admin' or 'reader'");
    const id = randomBytes(8).toString('hex');
    const token = `${TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
    const at = this.now();
    const record: ApiToken = { id, name, role: input.role, createdAt: at.toISOString(), lastUsedAt: null };
    await this.redis
      .multi()
      .hset(this.key(id), {
        id,
        name,
        role: input.role,
        createdAt: record.createdAt,
        lastUsedAt: '',
        hash: sha256(token).toString('hex'),
      })
      .zadd(this.indexKey, at.getTime(), id)
      .exec();
    return { ...record, token };
  }

  /** Every token, oldest first, without secrets. */
  async list(): Promise<ApiToken[]> {
    const ids = await this.redis.zrange(this.indexKey, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    const tokens: ApiToken[] = [];
    for (const [error, fields] of results) {
      const record = error ? null : toApiToken(fields as Record<string, string>);
      if (record) tokens.push(record);
    }
    return tokens;
  }

  async get(id: string): Promise<ApiToken> {
    const record = ID_PATTERN.test(id) ? toApiToken(await this.redis.hgetall(this.key(id))) : null;
    if (!record) throw new NotFoundError('token', id);
    return record;
  }

  async revoke(id: string): Promise<ApiToken> {
    const record = await this.get(id);
    await this.redis.multi().del(this.key(id)).zrem(this.indexKey, id).exec();
    return record;
  }

  /** The token's record when `token` is a live token of this store, else null. Records the use. */
  async verify(token: string): Promise<ApiToken | null> {
    if (!token.startsWith(TOKEN_PREFIX)) return null;
    const id = token.slice(TOKEN_PREFIX.length, TOKEN_PREFIX.length + 16);
    if (!ID_PATTERN.test(id) || token[TOKEN_PREFIX.length + 16] !== '_') return null;
    const fields = await this.redis.hgetall(this.key(id));
    const record = toApiToken(fields);
    if (!record || !fields.hash || fields.hash.length !== 64) return null;
    if (!timingSafeEqual(sha256(token), Buffer.from(fields.hash, 'hex'))) return null;
    const at = this.now();
    if (!record.lastUsedAt || at.getTime() - Date.parse(record.lastUsedAt) >= LAST_USED_RESOLUTION_MS) {
      // Only when the record still exists: a concurrent revoke must not leave a stub behind.
      await callScript(this.redis, HSET_IF_EXISTS, [this.key(id)], ['lastUsedAt', at.toISOString()]);
      record.lastUsedAt = at.toISOString();
    }
    return record;
  }
}

function toApiToken(fields: Record<string, string>): ApiToken | null {
  if (!fields.id || !fields.name || (fields.role !== 'admin' && fields.role !== 'reader')) return null;
  return {
    id: fields.id,
    name: fields.name,
    role: fields.role,
    createdAt: fields.createdAt ?? '',
    lastUsedAt: fields.lastUsedAt ? fields.lastUsedAt : null,
  };
}

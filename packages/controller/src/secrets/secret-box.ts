import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { ControllerError } from '../errors';

/** The form of a sealed secret: `sg1:<key id>:<iv>:<tag>:<ciphertext>` (base64url parts). */
const VERSION = 'sg1';
const KEY_BYTES = 32;
const IV_BYTES = 12;

/**
 * A secret could not be opened: sealed with a key the controller no longer has
 * (SYNCGUARD_SECRET_KEY changed without SYNCGUARD_SECRET_KEY_PREVIOUS), altered, or moved
 * to another record than the one it was sealed for.
 */
export class SecretError extends ControllerError {
  override name = 'SecretError';
  constructor(message: string) {
    super('SG_ERR_SECRET', message, { status: 500 });
  }
}

/**
 * Reads a key as SYNCGUARD_SECRET_KEY gives it: 32 bytes, base64 (`openssl rand -base64 32`)
 * or 64 hex digits. Returns null for a text that is neither (the caller names the setting).
 */
export function parseSecretKey(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const key = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  return null;
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('syncguard-secret-key').update(key).digest('base64url').slice(0, 8);
}

/**
 * Seals and opens secrets (webhook secrets, SCIM tokens, OAuth client secrets) with
 * AES-256-GCM. Each sealed value names the key that sealed it, so that a key can be
 * rotated: the new key seals, the previous keys still open what they sealed, and
 * `reseal` moves a value to the current key. `context` (e.g. `configuration:<id>:target.auth.token`)
 * is bound in as additional data: a sealed value copied to another record does not open.
 */
export class SecretBox {
  private readonly currentId: string;
  private readonly keys = new Map<string, Buffer>();

  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    if (current.length !== KEY_BYTES) throw new Error(`a secret key is ${KEY_BYTES} bytes`);
    this.currentId = keyId(current);
    this.keys.set(this.currentId, current);
    for (const k of previous) if (k.length === KEY_BYTES && !this.keys.has(keyId(k))) this.keys.set(keyId(k), k);
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(this.currentId)!, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.currentId,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      ct.toString('base64url'),
    ].join(':');
  }

  open(sealed: string, context: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new SecretError(`${context}: not a sealed secret`);
    const key = this.keys.get(parts[1]!);
    if (!key)
      throw new SecretError(
        `${context}: sealed with a key this controller does not have (key id ${parts[1]}); set it in SYNCGUARD_SECRET_KEY_PREVIOUS`,
      );
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[2]!, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(parts[4]!, 'base64url')), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw new SecretError(
        `${context}: the sealed secret does not open (altered, or sealed for another record): ${(cause as Error).message}`,
      );
    }
  }

  /** True when `sealed` was sealed with the current key. */
  isCurrent(sealed: string): boolean {
    return sealed.split(':')[1] === this.currentId;
  }

  /** The value sealed again with the current key (the same value when it already is). */
  reseal(sealed: string, context: string): string {
    return this.isCurrent(sealed) ? sealed : this.seal(this.open(sealed, context), context);
  }
}

import { randomBytes } from 'node:crypto';
import { SecretBox, SecretError, parseSecretKey } from './secret-box';

describe('SecretBox', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);

  it('seals so that the text is not in the sealed value, and opens it again', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('s3cret-token', 'configuration:a:target.auth.token');
    expect(sealed).not.toContain('s3cret');
    expect(sealed).toMatch(/^sg1:/);
    expect(box.seal('s3cret-token', 'configuration:a:target.auth.token')).not.toBe(sealed); // a fresh IV each time
    expect(box.open(sealed, 'configuration:a:target.auth.token')).toBe('s3cret-token');
  });

  it('refuses a value moved to another record, altered, or sealed with an unknown key', () => {
    const box = new SecretBox(k1);
    const sealed = box.seal('x', 'configuration:a:t');
    expect(() => box.open(sealed, 'configuration:b:t')).toThrow(SecretError);
    const parts = sealed.split(':');
    parts[4] = Buffer.from('y').toString('base64url');
    expect(() => box.open(parts.join(':'), 'configuration:a:t')).toThrow(/does not open/);
    expect(() => new SecretBox(k2).open(sealed, 'configuration:a:t')).toThrow(/SYNCGUARD_SECRET_KEY_PREVIOUS/);
    expect(() => box.open('plain text', 'configuration:a:t')).toThrow(/not a sealed secret/);
  });

  it('rotates: a previous key still opens, and reseal moves a value to the current key', () => {
    const old = new SecretBox(k1);
    const sealed = old.seal('x', 'c');
    const rotated = new SecretBox(k2, [k1]);
    expect(rotated.open(sealed, 'c')).toBe('x');
    expect(rotated.isCurrent(sealed)).toBe(false);
    const moved = rotated.reseal(sealed, 'c');
    expect(rotated.isCurrent(moved)).toBe(true);
    expect(new SecretBox(k2).open(moved, 'c')).toBe('x');
    expect(rotated.reseal(moved, 'c')).toBe(moved);
  });

  it('reads keys as base64 or hex of 32 bytes, and nothing else', () => {
    expect(parseSecretKey(k1.toString('base64'))?.equals(k1)).toBe(true);
    expect(parseSecretKey(k1.toString('hex'))?.equals(k1)).toBe(true);
    expect(parseSecretKey('short')).toBeNull();
    expect(parseSecretKey(randomBytes(16).toString('base64'))).toBeNull();
  });
});

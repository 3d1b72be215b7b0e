import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors';
import type { StoredTargetSettings } from '../model';
import { SecretBox } from '../secrets/secret-box';
import { secretContext, targetView, validateTarget } from './target-settings';

const box = new SecretBox(randomBytes(32));
const sealing = { box, configurationId: 'cfg-1' };
const scim = { type: 'scim', baseUrl: 'https://app.example.com/scim/v2/', auth: { type: 'bearer', token: 'tok-123' } };

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  throw new Error('no ValidationError');
}

describe('validateTarget', () => {
  it('fills the defaults, trims the base URL and seals the token', () => {
    const t = validateTarget(scim, undefined, sealing);
    expect(t).toMatchObject({
      type: 'scim',
      baseUrl: 'https://app.example.com/scim/v2',
      deleteMode: 'delete',
      updateMethod: 'patch',
      concurrency: 4,
      maxRequestsPerSecond: null,
      failureQuarantinePercent: 40,
      requestTimeoutSeconds: 30,
      mapping: null,
    });
    expect(JSON.stringify(t)).not.toContain('tok-123');
    if (t.type !== 'scim' || t.auth.type !== 'bearer') throw new Error('not a bearer SCIM target');
    expect(box.open(t.auth.tokenSealed, secretContext('cfg-1', 'token'))).toBe('tok-123');
  });

  it('shows secrets as write-only', () => {
    const view = targetView(validateTarget(scim, undefined, sealing));
    expect(view).toMatchObject({ auth: { type: 'bearer', token: null, tokenSet: true } });
    const oauth = targetView(
      validateTarget(
        {
          type: 'scim',
          baseUrl: 'https://a.example',
          auth: { type: 'oauth2', tokenUrl: 'https://a.example/t', clientId: 'c', clientSecret: 's3' },
        },
        undefined,
        sealing,
      ),
    );
    expect(oauth).toMatchObject({
      auth: { type: 'oauth2', clientId: 'c', clientSecret: null, clientSecretSet: true, scope: null },
    });
    expect(JSON.stringify(oauth)).not.toContain('s3');
    expect(targetView(undefined)).toEqual({ type: 'cloudDirectory' });
  });

  it('refuses a SCIM target without a secret key, naming target', () => {
    expect(fieldOf(() => validateTarget(scim, undefined, { box: null, configurationId: 'x' }))).toBe('target');
    expect(validateTarget({ type: 'cloudDirectory' }, undefined, { box: null, configurationId: 'x' })).toEqual({
      type: 'cloudDirectory',
    });
  });

  it.each([
    [{ ...scim, baseUrl: 'ftp://x' }, 'target.baseUrl'],
    [{ ...scim, baseUrl: 'https://u:p@x' }, 'target.baseUrl'],
    [{ type: 'scim', auth: scim.auth }, 'target.baseUrl'],
    [{ type: 'scim', baseUrl: 'https://x' }, 'target.auth'],
    [{ ...scim, auth: { type: 'bearer' } }, 'target.auth.token'],
    [{ ...scim, auth: { type: 'basic' } }, 'target.auth.type'],
    [{ ...scim, auth: { type: 'oauth2', clientId: 'c', clientSecret: 's' } }, 'target.auth.tokenUrl'],
    [{ ...scim, concurrency: 0 }, 'target.concurrency'],
    [{ ...scim, concurrency: '4' }, 'target.concurrency'],
    [{ ...scim, maxRequestsPerSecond: 0 }, 'target.maxRequestsPerSecond'],
    [{ ...scim, failureQuarantinePercent: 101 }, 'target.failureQuarantinePercent'],
    [{ ...scim, deleteMode: 'purge' }, 'target.deleteMode'],
    [{ ...scim, updateMethod: 'post' }, 'target.updateMethod'],
    [{ ...scim, updateMethod: null }, 'target.updateMethod'],
    [{ ...scim, mapping: { user: { userName: null } } }, 'target.mapping.user.userName'],
    [{ ...scim, mapping: { user: { shoeSize: 'x' } } }, 'target.mapping.user.shoeSize'],
    [{ ...scim, mapping: { directory: 'novell' } }, 'target.mapping.directory'],
    [{ ...scim, colour: 'red' }, 'target.colour'],
    [{ type: 'ftp' }, 'target.type'],
    ['scim', 'target'],
  ])('refuses %j naming %s', (input, field) => {
    expect(fieldOf(() => validateTarget(input, undefined, sealing))).toBe(field);
  });

  it('merges a PATCH: the token stays unless given, another type starts afresh, a rotated key re-seals', () => {
    const first = validateTarget(scim, undefined, sealing);
    const second = validateTarget({ deleteMode: 'deactivate', maxRequestsPerSecond: 20 }, first, sealing) as Extract<
      StoredTargetSettings,
      { type: 'scim' }
    >;
    expect(second).toMatchObject({
      deleteMode: 'deactivate',
      maxRequestsPerSecond: 20,
      baseUrl: 'https://app.example.com/scim/v2',
    });
    expect(second.auth).toEqual((first as typeof second).auth);
    expect(validateTarget({ type: 'cloudDirectory' }, second, sealing)).toEqual({ type: 'cloudDirectory' });
    expect(
      fieldOf(() => validateTarget({ auth: { type: 'oauth2', tokenUrl: 'https://t', clientId: 'c' } }, second, sealing)),
    ).toBe('target.auth.clientSecret');

    const rotated = new SecretBox(randomBytes(32), [
      (box as unknown as { keys: Map<string, Buffer> }).keys.values().next().value!,
    ]);
    const resealed = validateTarget({}, second, { box: rotated, configurationId: 'cfg-1' }) as typeof second;
    if (resealed.auth.type !== 'bearer' || second.auth.type !== 'bearer') throw new Error('not bearer');
    expect(rotated.isCurrent(resealed.auth.tokenSealed)).toBe(true);
    expect(rotated.open(resealed.auth.tokenSealed, secretContext('cfg-1', 'token'))).toBe('tok-123');
  });
});

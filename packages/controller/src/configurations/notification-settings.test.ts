import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors';
import { SecretBox, SecretError } from '../secrets/secret-box';
import { applyConfigurationPatch, validateConfigurationInput } from './configuration-validation';
import {
  emailRecipients,
  openWebhookSecret,
  publicNotifications,
  validateNotifications as validate,
  webhookSecretContext,
} from './notification-settings';
import type { NotificationSettings } from '../model';

const NOW = '2026-12-01T12:00:00.000Z';
const SECRET = 'a-secret-of-32-characters-length';
const base = { name: 'n', source: { baseDn: 'dc=example,dc=com' } };
const box = new SecretBox(randomBytes(32));
const validateNotifications = (v: unknown, current: NotificationSettings, email: string | null) =>
  validate(v, current, email, { box, configurationId: 'id' });

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).field;
  }
  throw new Error('no ValidationError');
}

describe('notifications settings', () => {
  it('defaults to none, and a configuration stored before them reads as none', () => {
    const cfg = validateConfigurationInput(base, 'id', NOW);
    expect(cfg.notifications).toEqual({ emails: [], webhooks: [] });
    const { notifications: _, ...old } = cfg;
    expect(publicNotifications({ notifications: undefined })).toEqual({ emails: [], webhooks: [] });
    expect(emailRecipients({ ...old, notificationEmail: 'ops@example.com' })).toEqual(['ops@example.com']);
  });

  it('counts notificationEmail as one recipient, once, and refuses the 21st', () => {
    const emails = Array.from({ length: 20 }, (_, i) => `u${i}@example.com`);
    const cfg = validateConfigurationInput(
      { ...base, notificationEmail: 'U0@example.com', notifications: { emails } },
      'id',
      NOW,
    );
    expect(emailRecipients(cfg)).toHaveLength(20);
    expect(
      fieldOf(() =>
        validateConfigurationInput({ ...base, notificationEmail: 'x@example.com', notifications: { emails } }, 'id', NOW),
      ),
    ).toBe('notifications.emails');
    expect(
      fieldOf(() => validateNotifications({ emails: [...emails, 'y@example.com'] }, { emails: [], webhooks: [] }, null)),
    ).toBe('notifications.emails');
  });

  it('names the bad field', () => {
    const none = { emails: [], webhooks: [] };
    expect(fieldOf(() => validateNotifications({ emails: ['nope'] }, none, null))).toBe('notifications.emails.0');
    expect(fieldOf(() => validateNotifications({ emails: 'a@b.c' }, none, null))).toBe('notifications.emails');
    expect(fieldOf(() => validateNotifications({ webhooks: [{ url: 'ftp://x', secret: SECRET }] }, none, null))).toBe(
      'notifications.webhooks.0.url',
    );
    expect(fieldOf(() => validateNotifications({ webhooks: [{ url: 'https://x.example/h' }] }, none, null))).toBe(
      'notifications.webhooks.0.secret',
    );
    expect(
      fieldOf(() => validateNotifications({ webhooks: [{ url: 'https://x.example/h', secret: 'short' }] }, none, null)),
    ).toBe('notifications.webhooks.0.secret');
    expect(fieldOf(() => validateNotifications({ webhooks: [{ url: 'https://x.example/h', secret: 12 }] }, none, null))).toBe(
      'notifications.webhooks.0.secret',
    );
    expect(
      fieldOf(() =>
        validateNotifications(
          {
            webhooks: [
              { url: 'https://x.example/h', secret: SECRET },
              { url: 'https://x.example/h', secret: SECRET },
            ],
          },
          none,
          null,
        ),
      ),
    ).toBe('notifications.webhooks.1.url');
    const six = Array.from({ length: 6 }, (_, i) => ({ url: `https://x.example/${i}`, secret: SECRET }));
    expect(fieldOf(() => validateNotifications({ webhooks: six }, none, null))).toBe('notifications.webhooks');
    expect(fieldOf(() => validateNotifications({ sms: [] }, none, null))).toBe('notifications.sms');
    expect(fieldOf(() => validateNotifications(null, none, null))).toBe('notifications');
  });

  it('never reads a secret back, and a PATCH without one keeps the stored secret of the same URL', () => {
    const cfg = validateConfigurationInput(
      { ...base, notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: SECRET }] } },
      'id',
      NOW,
      box,
    );
    expect(publicNotifications(cfg).webhooks).toEqual([{ url: 'https://hooks.example/a', secret: null, secretSet: true }]);
    const opened = (c: typeof cfg) => c.notifications!.webhooks.map((w) => [w.url, openWebhookSecret(box, 'id', w)]);
    // The portal sends back what it read, with another hook added.
    const read = publicNotifications(cfg);
    const next = applyConfigurationPatch(
      cfg,
      { notifications: { webhooks: [...read.webhooks, { url: 'https://hooks.example/b', secret: `${SECRET}-b` }] } },
      NOW,
      box,
    );
    expect(opened(next)).toEqual([
      ['https://hooks.example/a', SECRET],
      ['https://hooks.example/b', `${SECRET}-b`],
    ]);
    // A new secret replaces the old one; the emails were left alone.
    const rotated = applyConfigurationPatch(
      next,
      { notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: `${SECRET}-2` }] } },
      NOW,
      box,
    );
    expect(opened(rotated)).toEqual([['https://hooks.example/a', `${SECRET}-2`]]);
  });

  it('stores secrets sealed, bound to the configuration and URL, and refuses a new one without SYNCGUARD_SECRET_KEY', () => {
    const cfg = validateConfigurationInput(
      { ...base, notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: SECRET }] } },
      'id',
      NOW,
      box,
    );
    const stored = cfg.notifications!.webhooks[0]!;
    expect(JSON.stringify(cfg)).not.toContain(SECRET);
    expect(stored.secret).toBeUndefined();
    expect(stored.secretSealed).toMatch(/^sg1:/);
    // Moved to another URL or configuration, the sealed value does not open.
    expect(() => openWebhookSecret(box, 'id', { url: 'https://hooks.example/b', secretSealed: stored.secretSealed })).toThrow(
      SecretError,
    );
    expect(() => openWebhookSecret(box, 'other', stored)).toThrow(SecretError);
    expect(() => openWebhookSecret(null, 'id', stored)).toThrow(/SYNCGUARD_SECRET_KEY/);

    let error: unknown;
    try {
      validateConfigurationInput(
        { ...base, notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: SECRET }] } },
        'id',
        NOW,
        null,
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('notifications.webhooks.0.secret');
    expect((error as Error).message).toContain('SYNCGUARD_SECRET_KEY');
    // Without the key, the other settings still change, and a kept secret stays as sealed.
    const renamed = applyConfigurationPatch(cfg, { name: 'renamed', notifications: { emails: ['a@example.com'] } }, NOW, null);
    expect(renamed.notifications!.webhooks).toEqual([stored]);
  });

  it('seals again with the current key on any change (key rotation), and seals a secret an earlier build stored in clear', () => {
    const oldKey = randomBytes(32);
    const before = new SecretBox(oldKey);
    const cfg = validateConfigurationInput(
      { ...base, notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: SECRET }] } },
      'id',
      NOW,
      before,
    );
    const newKey = randomBytes(32);
    const rotatedBox = new SecretBox(newKey, [oldKey]);
    const next = applyConfigurationPatch(cfg, { name: 'renamed' }, NOW, rotatedBox);
    const w = next.notifications!.webhooks[0]!;
    expect(rotatedBox.isCurrent(w.secretSealed!)).toBe(true);
    // It opens with the new key alone: the old one can be dropped from SYNCGUARD_SECRET_KEY_PREVIOUS.
    expect(openWebhookSecret(new SecretBox(newKey), 'id', w)).toBe(SECRET);
    const legacy = { ...cfg, notifications: { emails: [], webhooks: [{ url: 'https://hooks.example/a', secret: SECRET }] } };
    expect(publicNotifications(legacy).webhooks[0]!.secretSet).toBe(true);
    expect(openWebhookSecret(null, 'id', legacy.notifications.webhooks[0]!)).toBe(SECRET);
    const sealed = applyConfigurationPatch(legacy, { name: 'again' }, NOW, box);
    expect(JSON.stringify(sealed)).not.toContain(SECRET);
    expect(openWebhookSecret(box, 'id', sealed.notifications!.webhooks[0]!)).toBe(SECRET);
    expect(webhookSecretContext('id', 'https://hooks.example/a')).toBe(
      'configuration:id:notifications.webhooks[https://hooks.example/a].secret',
    );
  });
});

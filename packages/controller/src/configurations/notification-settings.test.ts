import { ValidationError } from '../errors';
import { applyConfigurationPatch, validateConfigurationInput } from './configuration-validation';
import { emailRecipients, publicNotifications, validateNotifications } from './notification-settings';

const NOW = '2026-12-01T12:00:00.000Z';
const SECRET = 'a-secret-of-32-characters-length';
const base = { name: 'n', source: { baseDn: 'dc=example,dc=com' } };

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
    );
    expect(publicNotifications(cfg).webhooks).toEqual([{ url: 'https://hooks.example/a', secret: null, secretSet: true }]);
    // The portal sends back what it read, with another hook added.
    const read = publicNotifications(cfg);
    const next = applyConfigurationPatch(
      cfg,
      { notifications: { webhooks: [...read.webhooks, { url: 'https://hooks.example/b', secret: `${SECRET}-b` }] } },
      NOW,
    );
    expect(next.notifications?.webhooks).toEqual([
      { url: 'https://hooks.example/a', secret: SECRET },
      { url: 'https://hooks.example/b', secret: `${SECRET}-b` },
    ]);
    // A new secret replaces the old one; the emails were left alone.
    const rotated = applyConfigurationPatch(
      next,
      { notifications: { webhooks: [{ url: 'https://hooks.example/a', secret: `${SECRET}-2` }] } },
      NOW,
    );
    expect(rotated.notifications?.webhooks).toEqual([{ url: 'https://hooks.example/a', secret: `${SECRET}-2` }]);
  });
});

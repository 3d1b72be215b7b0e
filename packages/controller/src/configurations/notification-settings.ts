import { ValidationError } from '../errors';
import { SecretError, type SecretBox } from '../secrets/secret-box';
import type { Configuration, NotificationSettings, StoredConfiguration, WebhookSettings, WebhookView } from '../model';

/** At most this many email recipients, `notificationEmail` counted with them. */
export const MAX_NOTIFICATION_EMAILS = 20;
export const MAX_WEBHOOKS = 5;
export const MIN_WEBHOOK_SECRET = 16;
export const MAX_WEBHOOK_SECRET = 256;

const EMAIL = /^[^\s@]+@[^\s@]+\.?[^\s@]*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where a webhook's sealed secret belongs: bound into its seal, so that it opens for that configuration and URL only. */
export function webhookSecretContext(configurationId: string, url: string): string {
  return `configuration:${configurationId}:notifications.webhooks[${url}].secret`;
}

/** What validation needs to seal webhook secrets; `box` is null when SYNCGUARD_SECRET_KEY is not set. */
export interface WebhookSealing {
  box: SecretBox | null;
  configurationId: string;
}

/**
 * Checks `notifications` of a POST or PATCH body against the stored settings (`current`):
 * each list given replaces the stored one; a webhook given without a secret (left out or
 * null) keeps the secret stored for its URL, and a new URL needs one. `notificationEmail`
 * (already checked) counts as one recipient. Secrets are sealed with `sealing.box`; a new
 * secret without one is refused (400 naming SYNCGUARD_SECRET_KEY), and the kept ones are
 * sealed again with the current key (key rotation: any change of the configuration re-seals).
 * Throws ValidationError naming the field.
 */
export function validateNotifications(
  v: unknown,
  current: NotificationSettings,
  notificationEmail: string | null,
  sealing: WebhookSealing = { box: null, configurationId: '' },
): NotificationSettings {
  const out: NotificationSettings = { emails: [...current.emails], webhooks: current.webhooks.map((w) => ({ ...w })) };
  if (v !== undefined) {
    if (!isObject(v)) throw new ValidationError('notifications', 'must be an object');
    for (const k of Object.keys(v))
      if (k !== 'emails' && k !== 'webhooks') throw new ValidationError(`notifications.${k}`, 'is not a known setting');
    if (v.emails !== undefined) out.emails = emails(v.emails);
    if (v.webhooks !== undefined) out.webhooks = webhooks(v.webhooks, current.webhooks, sealing);
  }
  if (sealing.box) out.webhooks = out.webhooks.map((w) => resealed(w, sealing.box!, sealing.configurationId));
  const recipients = new Set(out.emails.map((e) => e.toLowerCase()));
  if (notificationEmail) recipients.add(notificationEmail.toLowerCase());
  if (recipients.size > MAX_NOTIFICATION_EMAILS)
    throw new ValidationError(
      'notifications.emails',
      `must hold at most ${MAX_NOTIFICATION_EMAILS} addresses (notificationEmail counted with them)`,
    );
  return out;
}

function emails(v: unknown): string[] {
  const field = 'notifications.emails';
  if (!Array.isArray(v)) throw new ValidationError(field, 'must be a list of email addresses');
  if (v.length > MAX_NOTIFICATION_EMAILS)
    throw new ValidationError(field, `must hold at most ${MAX_NOTIFICATION_EMAILS} addresses`);
  const seen = new Map<string, string>();
  v.forEach((e, i) => {
    if (typeof e !== 'string') throw new ValidationError(`${field}.${i}`, 'must be a string');
    const s = e.trim();
    if (!EMAIL.test(s) || s.length > 320)
      throw new ValidationError(`${field}.${i}`, `is not an email address: ${JSON.stringify(e)}`);
    if (!seen.has(s.toLowerCase())) seen.set(s.toLowerCase(), s);
  });
  return [...seen.values()];
}

/** A stored webhook with its secret sealed with the current key (one stored in clear by an earlier build: sealed now). */
function resealed(w: WebhookSettings, box: SecretBox, configurationId: string): WebhookSettings {
  const context = webhookSecretContext(configurationId, w.url);
  if (w.secretSealed) return { url: w.url, secretSealed: box.reseal(w.secretSealed, context) };
  if (w.secret) return { url: w.url, secretSealed: box.seal(w.secret, context) };
  return { ...w };
}

function webhooks(v: unknown, stored: readonly WebhookSettings[], sealing: WebhookSealing): WebhookSettings[] {
  const field = 'notifications.webhooks';
  if (!Array.isArray(v)) throw new ValidationError(field, 'must be a list of {url, secret}');
  if (v.length > MAX_WEBHOOKS) throw new ValidationError(field, `must hold at most ${MAX_WEBHOOKS} webhooks`);
  const urls = new Set<string>();
  return v.map((w, i) => {
    const at = `${field}.${i}`;
    if (!isObject(w)) throw new ValidationError(at, 'must be an object {url, secret}');
    for (const k of Object.keys(w))
      if (k !== 'url' && k !== 'secret' && k !== 'secretSet') throw new ValidationError(`${at}.${k}`, 'is not a known setting');
    const url = webhookUrl(`${at}.url`, w.url);
    if (urls.has(url)) throw new ValidationError(`${at}.url`, `is listed twice: ${url}`);
    urls.add(url);
    if (w.secret === undefined || w.secret === null) {
      const kept = stored.find((s) => s.url === url);
      if (!kept) throw new ValidationError(`${at}.secret`, 'is required for a new webhook');
      return { ...kept };
    }
    if (typeof w.secret !== 'string') throw new ValidationError(`${at}.secret`, 'must be a string or null');
    if (w.secret.length < MIN_WEBHOOK_SECRET || w.secret.length > MAX_WEBHOOK_SECRET)
      throw new ValidationError(`${at}.secret`, `must be ${MIN_WEBHOOK_SECRET} to ${MAX_WEBHOOK_SECRET} characters`);
    if (!sealing.box)
      throw new ValidationError(
        `${at}.secret`,
        'needs SYNCGUARD_SECRET_KEY set on the controller, to store webhook secrets encrypted',
      );
    return { url, secretSealed: sealing.box.seal(w.secret, webhookSecretContext(sealing.configurationId, url)) };
  });
}

function webhookUrl(field: string, v: unknown): string {
  if (typeof v !== 'string') throw new ValidationError(field, 'must be a string');
  let url: URL;
  try {
    url = new URL(v.trim());
  } catch {
    throw new ValidationError(field, `is not a URL: ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ValidationError(field, 'must be an http:// or https:// URL');
  if (url.username || url.password) throw new ValidationError(field, 'must not carry a user or password (sign with the secret)');
  if (url.href.length > 2048) throw new ValidationError(field, 'must be at most 2048 characters');
  return url.href;
}

/** The stored notification settings of a configuration (none for one stored before them). */
export function notificationsOf(cfg: Pick<StoredConfiguration, 'notifications'>): NotificationSettings {
  return cfg.notifications ?? { emails: [], webhooks: [] };
}

/** Every email recipient of a configuration: `notificationEmail` first, then `notifications.emails`, once each. */
export function emailRecipients(cfg: Pick<StoredConfiguration, 'notifications' | 'notificationEmail'>): string[] {
  const all = [...(cfg.notificationEmail ? [cfg.notificationEmail] : []), ...notificationsOf(cfg).emails];
  const seen = new Map<string, string>();
  for (const e of all) if (!seen.has(e.toLowerCase())) seen.set(e.toLowerCase(), e);
  return [...seen.values()];
}

/** The configuration as every read answers it: webhook secrets are never shown. */
export function publicNotifications(cfg: Pick<StoredConfiguration, 'notifications'>): Configuration['notifications'] {
  const n = notificationsOf(cfg);
  return {
    emails: [...n.emails],
    webhooks: n.webhooks.map((w): WebhookView => ({ url: w.url, secret: null, secretSet: Boolean(w.secretSealed || w.secret) })),
  };
}

/**
 * The secret that signs a webhook's bodies: opened with `box` (SecretError when it does not
 * open), or as an earlier build stored it in clear. Throws a SecretError naming
 * SYNCGUARD_SECRET_KEY when the secret is sealed and the controller has no key.
 */
export function openWebhookSecret(box: SecretBox | null, configurationId: string, w: WebhookSettings): string {
  if (w.secretSealed) {
    if (!box)
      throw new SecretError(
        `configuration ${configurationId}: the secret of webhook ${w.url} cannot be opened: SYNCGUARD_SECRET_KEY is not set on this controller`,
      );
    return box.open(w.secretSealed, webhookSecretContext(configurationId, w.url));
  }
  return w.secret ?? '';
}

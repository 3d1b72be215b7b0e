import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { emailRecipients, notificationsOf, openWebhookSecret } from '../configurations/notification-settings';
import type { SecretBox } from '../secrets/secret-box';
import { ConflictError } from '../errors';
import { cycleEventId, type OutboxEntry } from '../cycles/cycle-events';
import { newCycleId } from '../cycles/cycle-id';
import type { ConfigurationReader, CycleRecords, AuditTrail } from '../cycles/cycle-records';
import type { Mailer } from '../mail/mailer';
import { quarantineEmail } from '../mail/quarantine-email';
import type { ControllerMetrics } from '../metrics';
import type {
  Actor,
  Cycle,
  NotificationDelivery,
  NotificationEventName,
  NotificationEventView,
  NotificationStatus,
  Quarantine,
} from '../model';
import type { DeliveryJob, NotificationQueue } from '../pipeline/notification-queue';
import { eventEmail } from './event-email';
import type { NotificationEventHeader, NotificationRecords, StoredNotificationEvent } from './notification-records';
import { postWebhook } from './webhook-sender';

export interface NotificationServiceDeps {
  records: NotificationRecords;
  cycles: Pick<CycleRecords, 'read' | 'quarantine'>;
  configs: ConfigurationReader;
  audit: AuditTrail;
  queue: NotificationQueue;
  mailer: Mailer;
  metrics: ControllerMetrics;
  logger: Logger;
  publicUrl: () => string;
  webhookTimeoutMs: number;
  userAgent: string;
  /** Opens webhook secrets (null without SYNCGUARD_SECRET_KEY: a sealed secret's delivery then fails, naming the setting). */
  secrets: SecretBox | null;
  /** The quarantined cycle's deletes as the email names them (`412 moved out of scope from ou=eng`), largest first. */
  describeHeld?: (configurationId: string, cycleId: string) => Promise<string[]>;
}

/** What a webhook receives (and what an email is written from): the contract's body. */
export interface WebhookBody {
  id: string;
  event: NotificationEventName;
  at: string;
  configuration: { id: string; name: string };
  quarantine: Omit<Quarantine, 'notification'> | null;
  cycle: Cycle | null;
  /** Who caused it: the admin's token name for allow-deletes, reject-deletes, restart and the test; null otherwise. */
  actor: string | null;
}

/** The event id of a cycle's event (it lives with the outbox entries, cycles/cycle-events.ts). */
export { cycleEventId };

/** The key of an endpoint within an event: stable for the same address or URL. */
export function endpointKey(channel: 'email' | 'webhook', to: string): string {
  const norm = channel === 'email' ? to.toLowerCase() : to;
  return `${channel === 'email' ? 'e' : 'w'}-${createHash('sha256').update(norm).digest('hex').slice(0, 16)}`;
}

/**
 * Notifications: every event of a configuration goes, once, to each of its email
 * recipients and webhooks. An event arrives from the outbox (notifications/outbox-dispatcher.ts),
 * is recorded (its body fixed) and one `notify` job per endpoint queued; each job sends,
 * retries with backoff and records its delivery's state, which the status and
 * GET .../notifications show.
 */
export class NotificationService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  /**
   * Records an outbox entry's event and queues its delivery jobs. Idempotent: an event
   * recorded before keeps its body, and its jobs (ids `<event id>.<endpoint key>`) are queued
   * again, which BullMQ ignores for a job id it holds: one delivery per event and endpoint.
   * Throws when Redis fails (the entry stays in the outbox for the next dispatch).
   */
  async queueEvent(entry: OutboxEntry): Promise<void> {
    const quarantine =
      entry.quarantine ??
      (entry.event === 'quarantine.started' ? await this.deps.cycles.quarantine(entry.configurationId) : null);
    await this.emit({
      id: entry.id,
      event: entry.event,
      configurationId: entry.configurationId,
      cycleId: entry.cycleId,
      quarantine: quarantine ?? null,
      actor: entry.actor,
      at: entry.at,
    });
  }

  /** POST .../notifications/test: a `notification.test` event to every endpoint. 409 when there is none. */
  async test(configurationId: string, actor: Actor): Promise<{ eventId: string; deliveries: number }> {
    const cfg = await this.deps.configs.get(configurationId);
    const count = emailRecipients(cfg).length + notificationsOf(cfg).webhooks.length;
    if (count === 0)
      throw new ConflictError(
        'SG_ERR_NO_NOTIFICATIONS',
        `configuration ${configurationId} has no email recipients and no webhooks to notify`,
      );
    // A random id in the configuration's slot, like a cycle id (store/keys.ts, "Hash tags").
    const id = newCycleId(configurationId);
    await this.emit({
      id,
      event: 'notification.test',
      configurationId,
      cycleId: null,
      quarantine: null,
      actor: actor.name,
      at: new Date().toISOString(),
    });
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'notifications.test',
      target: { type: 'configuration', id: configurationId },
      details: { eventId: id, deliveries: count },
    });
    return { eventId: id, deliveries: count };
  }

  /** The configuration's newest events with their deliveries, newest first. */
  async recent(configurationId: string, limit: number): Promise<NotificationEventView[]> {
    await this.deps.configs.get(configurationId);
    return (await this.deps.records.recent(configurationId, limit)).map(view);
  }

  private async emit(e: {
    id: string;
    event: NotificationEventName;
    configurationId: string;
    cycleId: string | null;
    quarantine: Omit<Quarantine, 'notification'> | null;
    actor: string | null;
    at: string;
  }): Promise<void> {
    const cfg = await this.deps.configs.load(e.configurationId);
    if (!cfg) return;
    const at = e.at;
    const cycle = e.cycleId ? await this.deps.cycles.read(e.cycleId) : null;
    const body: WebhookBody = {
      id: e.id,
      event: e.event,
      at,
      configuration: { id: cfg.id, name: cfg.name },
      quarantine: e.quarantine,
      cycle,
      actor: e.actor,
    };
    const endpoints: { channel: 'email' | 'webhook'; to: string }[] = [
      ...emailRecipients(cfg).map((to) => ({ channel: 'email' as const, to })),
      ...notificationsOf(cfg).webhooks.map((w) => ({ channel: 'webhook' as const, to: w.url })),
    ];
    const deliveries = new Map<string, NotificationDelivery>();
    for (const p of endpoints)
      deliveries.set(endpointKey(p.channel, p.to), {
        channel: p.channel,
        to: p.to,
        status: 'pending',
        attempts: 0,
        lastError: null,
        responseStatus: null,
        deliveredAt: null,
      });
    const header: NotificationEventHeader = { id: e.id, event: e.event, at, configurationId: cfg.id, cycleId: e.cycleId };
    const created = await this.deps.records.create(header, JSON.stringify(body), deliveries);
    if (!created) {
      // Reported before (a job run again): its jobs were queued with it; queueing them again adds nothing.
      const stored = await this.deps.records.get(e.id);
      if (!stored) return;
      await this.deps.queue.add(jobsOf(stored));
      return;
    }
    this.deps.logger.info(
      { configurationId: cfg.id, eventId: e.id, event: e.event, endpoints: endpoints.length },
      'notification event',
    );
    await this.deps.queue.add(
      [...deliveries].map(([key, d]) => ({ eventId: e.id, configurationId: cfg.id, key, channel: d.channel, to: d.to })),
    );
  }

  /** The body of a `notify` job: one attempt of one delivery. Throws to have it retried. */
  async deliver(job: DeliveryJob, attempt: number, maxAttempts: number): Promise<void> {
    const stored = await this.deps.records.get(job.eventId);
    const current = stored?.deliveries.get(job.key);
    if (!stored || !current || current.status === 'delivered' || current.status === 'cancelled') return;
    const cfg = await this.deps.configs.load(job.configurationId);
    const set = async (d: Partial<NotificationDelivery>) => {
      const next = { ...current, ...d };
      stored.deliveries.set(job.key, next);
      await this.deps.records.setDelivery(job.eventId, job.key, next);
    };
    const webhook = cfg ? notificationsOf(cfg).webhooks.find((w) => w.url === job.to) : undefined;
    if (!cfg || (job.channel === 'webhook' && !webhook)) {
      await set({
        status: 'cancelled',
        lastError: cfg ? 'the webhook was removed from the configuration' : 'the configuration was removed',
      });
      return;
    }
    const last = attempt >= maxAttempts;
    if (job.channel === 'email') {
      try {
        await this.deps.mailer.send({ to: job.to, ...(await this.emailOf(stored)) });
      } catch (error) {
        this.deps.metrics.emails.inc({ result: 'failed' });
        this.deps.logger.error(
          { err: error, configurationId: cfg.id, eventId: job.eventId, event: stored.header.event, attempt, maxAttempts },
          last ? 'notification email failed for good' : 'notification email failed; will retry',
        );
        await set({ status: last ? 'failed' : 'pending', attempts: attempt, lastError: (error as Error).message });
        throw error;
      }
      this.deps.metrics.emails.inc({ result: 'sent' });
      this.deps.logger.info(
        { configurationId: cfg.id, eventId: job.eventId, event: stored.header.event, to: job.to },
        'notification email sent',
      );
      await set({ status: 'delivered', attempts: attempt, lastError: null, deliveredAt: new Date().toISOString() });
      return;
    }
    let secret: string;
    try {
      secret = openWebhookSecret(this.deps.secrets, cfg.id, webhook!);
    } catch (error) {
      // Trying again opens nothing more: failed for good, with the reason (the key setting) shown.
      this.deps.metrics.webhooks.inc({ result: 'failed' });
      this.deps.logger.error({ err: error, configurationId: cfg.id, eventId: job.eventId, url: job.to }, 'webhook not signed');
      await set({ status: 'failed', attempts: attempt, lastError: (error as Error).message });
      return;
    }
    const outcome = await postWebhook({
      url: job.to,
      secret,
      body: stored.body,
      event: stored.header.event,
      deliveryId: job.eventId,
      timeoutMs: this.deps.webhookTimeoutMs,
      userAgent: this.deps.userAgent,
    });
    if (!outcome.ok) {
      this.deps.metrics.webhooks.inc({ result: 'failed' });
      this.deps.logger.error(
        { err: outcome.error, configurationId: cfg.id, eventId: job.eventId, event: stored.header.event, attempt, maxAttempts },
        last ? 'webhook failed for good' : 'webhook failed; will retry',
      );
      await set({
        status: last ? 'failed' : 'pending',
        attempts: attempt,
        lastError: outcome.error.message,
        responseStatus: outcome.status,
      });
      throw outcome.error;
    }
    this.deps.metrics.webhooks.inc({ result: 'delivered' });
    this.deps.logger.info(
      { configurationId: cfg.id, eventId: job.eventId, event: stored.header.event, url: job.to },
      'webhook delivered',
    );
    await set({
      status: 'delivered',
      attempts: attempt,
      lastError: null,
      responseStatus: outcome.status,
      deliveredAt: new Date().toISOString(),
    });
  }

  private async emailOf(stored: StoredNotificationEvent): Promise<{ subject: string; text: string }> {
    const body = JSON.parse(stored.body) as WebhookBody;
    const publicUrl = this.deps.publicUrl();
    if (body.event === 'quarantine.started' && body.quarantine) {
      const q = body.quarantine;
      return quarantineEmail({
        configuration: body.configuration,
        cycleId: q.cycleId,
        deleteCount: q.deleteCount,
        threshold: q.threshold,
        trippedBy: q.trippedBy,
        hold: q.hold,
        since: q.since,
        staged: await this.deps.records.stagedPreview(q.cycleId),
        publicUrl,
        groups: this.deps.describeHeld ? await this.deps.describeHeld(body.configuration.id, q.cycleId).catch(() => []) : [],
      });
    }
    return eventEmail({
      event: body.event,
      configuration: body.configuration,
      at: body.at,
      cycleId: stored.header.cycleId,
      quarantine: body.quarantine,
      cycle: body.cycle,
      actor: body.actor,
      publicUrl,
    });
  }

  /**
   * The status's `quarantine.notification`: the quarantine emails of the cycle taken together
   * (read, never stored, so that deliveries finishing at once cannot leave it stale); null
   * when the quarantine has no email delivery (the stored `none` or `pending` stands).
   */
  async quarantineNotification(configurationId: string, cycleId: string): Promise<Quarantine['notification'] | null> {
    const stored = await this.deps.records.get(cycleEventId('quarantine.started', configurationId, cycleId));
    const emails = stored ? [...stored.deliveries.values()].filter((d) => d.channel === 'email') : [];
    if (emails.length === 0) return null;
    const status: NotificationStatus = emails.some((d) => d.status === 'pending')
      ? 'pending'
      : emails.every((d) => d.status === 'delivered')
        ? 'sent'
        : 'failed';
    const sent = emails
      .map((d) => d.deliveredAt)
      .filter((t): t is string => t !== null)
      .sort();
    return {
      status,
      attempts: Math.max(...emails.map((d) => d.attempts)),
      lastError: emails.map((d) => d.lastError).find((x) => x !== null) ?? null,
      sentAt: status === 'sent' ? (sent[sent.length - 1] ?? null) : null,
    };
  }
}

function jobsOf(stored: StoredNotificationEvent): DeliveryJob[] {
  return [...stored.deliveries].map(([key, d]) => ({
    eventId: stored.header.id,
    configurationId: stored.header.configurationId,
    key,
    channel: d.channel,
    to: d.to,
  }));
}

function view(e: StoredNotificationEvent): NotificationEventView {
  return {
    id: e.header.id,
    event: e.header.event,
    at: e.header.at,
    cycleId: e.header.cycleId,
    deliveries: [...e.deliveries.values()].sort((a, b) =>
      a.channel === b.channel ? a.to.localeCompare(b.to) : a.channel < b.channel ? -1 : 1,
    ),
  };
}

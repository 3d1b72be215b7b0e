import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import type { ObjectTypeName, Quarantine } from '../model';
import type { StoredConfiguration } from '../model';
import type { Keys } from '../store/keys';
import { SET_NOTIFICATION, callScript } from '../store/scripts';
import { decodeNotification, decodeQuarantine, encodeNotification } from '../store/quarantine-codec';
import type { Mailer } from './mailer';
import { quarantineEmail } from './quarantine-email';

type Notification = Quarantine['notification'];

/**
 * Sends the one email of a quarantine; the body of the `mail` BullMQ job (retried with
 * exponential backoff). Progress is kept in the configuration's state hash
 * (`notification`), which the status shows as `quarantine.notification`.
 */
export class QuarantineNotifier {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly mailer: Mailer,
    private readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
    private readonly publicUrl: () => string,
    private readonly loadConfiguration: (id: string) => Promise<StoredConfiguration | null>,
  ) {}

  /** Throws when the send failed and should be retried. */
  async process(configurationId: string, cycleId: string, attempt: number, maxAttempts: number): Promise<void> {
    const [quarantineRaw, notificationRaw] = await this.redis.hmget(
      this.keys.state(configurationId),
      'quarantine',
      'notification',
    );
    if (!quarantineRaw) return;
    const q = decodeQuarantine(quarantineRaw);
    if (q.cycleId !== cycleId) return; // released or restarted meanwhile
    const previous = notificationRaw ? decodeNotification(notificationRaw) : null;
    if (previous?.status === 'sent' || previous?.status === 'none') return;
    const cfg = await this.loadConfiguration(configurationId);
    if (!cfg?.notificationEmail) {
      await this.update(configurationId, cycleId, { status: 'none', attempts: 0, lastError: null, sentAt: null });
      return;
    }
    const preview = await this.redis.hget(this.keys.cycle(cycleId), 'stagedPreview');
    const staged = preview ? (JSON.parse(preview) as { dn: string; objectType: ObjectTypeName }[]) : [];
    const message = quarantineEmail({
      configuration: cfg,
      cycleId,
      reason: q.reason,
      deleteCount: q.deleteCount,
      threshold: q.threshold,
      trippedBy: q.trippedBy,
      since: q.since,
      staged,
      publicUrl: this.publicUrl(),
    });
    try {
      await this.mailer.send({ to: cfg.notificationEmail, ...message });
    } catch (error) {
      const last = attempt >= maxAttempts;
      this.metrics.emails.inc({ result: 'failed' });
      this.logger.error(
        { err: error, configurationId, cycleId, attempt, maxAttempts },
        last ? 'quarantine email failed for good' : 'quarantine email failed; will retry',
      );
      await this.update(configurationId, cycleId, {
        status: last ? 'failed' : 'pending',
        attempts: attempt,
        lastError: (error as Error).message,
        sentAt: null,
      });
      throw error;
    }
    this.metrics.emails.inc({ result: 'sent' });
    this.logger.info({ configurationId, cycleId, to: cfg.notificationEmail }, 'quarantine email sent');
    await this.update(configurationId, cycleId, {
      status: 'sent',
      attempts: attempt,
      lastError: null,
      sentAt: new Date().toISOString(),
    });
  }

  /** Writes the notification state while the quarantine of `cycleId` is still the current one. */
  private async update(configurationId: string, cycleId: string, n: Notification): Promise<void> {
    await callScript(this.redis, SET_NOTIFICATION, [this.keys.state(configurationId)], [cycleId, encodeNotification(n)]);
  }
}

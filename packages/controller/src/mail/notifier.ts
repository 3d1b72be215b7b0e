import type { Logger } from 'pino';
import type { ControllerMetrics } from '../metrics';
import type { ObjectTypeName, Quarantine } from '../model';
import type { StoredConfiguration } from '../model';
import type { Mailer } from './mailer';
import { quarantineEmail } from './quarantine-email';

export type Notification = Quarantine['notification'];

/** What the notifier reads and writes of a quarantine (store/cycle-store.ts implements it). */
export interface QuarantineNotifications {
  /** The configuration's held quarantine and its notification's progress, null where absent. */
  notificationOf(
    configurationId: string,
  ): Promise<{ quarantine: Omit<Quarantine, 'notification'> | null; notification: Notification | null }>;
  /** The first staged deletes of a quarantined cycle, as its record keeps them for the email. */
  stagedPreview(cycleId: string): Promise<{ dn: string; objectType: ObjectTypeName }[]>;
  /** Writes the notification's progress while the quarantine of `cycleId` is still the configuration's. */
  setNotification(configurationId: string, cycleId: string, notification: Notification): Promise<void>;
}

/**
 * Sends the one email of a quarantine; the body of the `mail` BullMQ job (retried with
 * exponential backoff). Progress is kept in the configuration's state hash
 * (`notification`), which the status shows as `quarantine.notification`.
 */
export class QuarantineNotifier {
  constructor(
    private readonly records: QuarantineNotifications,
    private readonly mailer: Mailer,
    private readonly metrics: ControllerMetrics,
    private readonly logger: Logger,
    private readonly publicUrl: () => string,
    private readonly loadConfiguration: (id: string) => Promise<StoredConfiguration | null>,
  ) {}

  /** Throws when the send failed and should be retried. */
  async process(configurationId: string, cycleId: string, attempt: number, maxAttempts: number): Promise<void> {
    const { quarantine: q, notification: previous } = await this.records.notificationOf(configurationId);
    if (!q) return;
    if (q.cycleId !== cycleId) return; // released or restarted meanwhile
    if (previous?.status === 'sent' || previous?.status === 'none') return;
    const cfg = await this.loadConfiguration(configurationId);
    if (!cfg?.notificationEmail) {
      await this.update(configurationId, cycleId, { status: 'none', attempts: 0, lastError: null, sentAt: null });
      return;
    }
    const staged = await this.records.stagedPreview(cycleId);
    const message = quarantineEmail({
      configuration: cfg,
      cycleId,
      reason: q.reason,
      deleteCount: q.deleteCount,
      threshold: q.threshold,
      trippedBy: q.trippedBy,
      hold: q.hold,
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
    await this.records.setNotification(configurationId, cycleId, n);
  }
}

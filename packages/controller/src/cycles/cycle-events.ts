import type { NotificationEventName, Quarantine } from '../model';

/** One thing that happened to a configuration that its notifications report. */
export interface CycleEvent {
  event: Exclude<NotificationEventName, 'notification.test'>;
  configurationId: string;
  cycleId: string;
  /** The quarantine as it was (released, rejected and restarted ones are gone from the state by then). */
  quarantine?: Omit<Quarantine, 'notification'> | null;
  /** Who did it (allow-deletes, reject-deletes, restart). */
  actor?: string | null;
}

/**
 * Where the cycle services report their events (notifications/notification-service.ts
 * answers it). `publish` never throws: a notification that cannot be queued is logged, and
 * the command that caused it has still happened.
 */
export interface CycleEvents {
  publish(event: CycleEvent): Promise<void>;
}

/** Reports nothing (services built without notifications, in tests). */
export const NO_EVENTS: CycleEvents = { publish: async () => undefined };

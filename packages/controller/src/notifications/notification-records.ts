import type { NotificationDelivery, NotificationEventName } from '../model';

/** What every delivery of an event reads: who, what and when, beside the body. */
export interface NotificationEventHeader {
  id: string;
  event: NotificationEventName;
  at: string;
  configurationId: string;
  cycleId: string | null;
}

/** A stored event: its header, the body sent to webhooks (exact bytes), and its deliveries by endpoint key. */
export interface StoredNotificationEvent {
  header: NotificationEventHeader;
  body: string;
  deliveries: Map<string, NotificationDelivery>;
}

/**
 * Where notification events and their delivery state are kept (store/notification-store.ts
 * implements it, in Redis).
 */
export interface NotificationRecords {
  /**
   * Records an event with its deliveries (all pending). Answers false, changing nothing, when
   * an event of that id is already recorded: the first body stays the one every retry sends.
   */
  create(header: NotificationEventHeader, body: string, deliveries: ReadonlyMap<string, NotificationDelivery>): Promise<boolean>;
  get(eventId: string): Promise<StoredNotificationEvent | null>;
  /** Writes one delivery's state while the event is recorded. */
  setDelivery(eventId: string, key: string, delivery: NotificationDelivery): Promise<void>;
  /** The configuration's newest events, newest first. */
  recent(configurationId: string, limit: number): Promise<StoredNotificationEvent[]>;
  /** The first staged deletes of a quarantined cycle (DN and type), as its evaluation kept them. */
  stagedPreview(cycleId: string): Promise<{ dn: string; objectType: 'user' | 'group' }[]>;
}

import { createHash } from 'node:crypto';
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
 * An event as the outbox keeps it (`P:{C}:config:<id>:outbox`, field = `id`): written in the
 * same script or MULTI as the transition it reports, so that the transition and its event
 * are recorded together or not at all; a dispatcher moves it into the `notify` queue.
 */
export interface OutboxEntry {
  id: string;
  event: CycleEvent['event'];
  configurationId: string;
  cycleId: string;
  /** When the transition happened (ISO 8601): the webhook body's `at`. */
  at: string;
  quarantine: Omit<Quarantine, 'notification'> | null;
  actor: string | null;
}

/** An outbox entry ready for a transition to write: its field and its JSON. */
export interface OutboxEvent {
  id: string;
  entry: string;
}

/** The event id of a cycle's event: the same event of the same cycle is one event, however often it is reported. */
export function cycleEventId(event: string, configurationId: string, cycleId: string): string {
  const h = createHash('sha256').update(`${event}\0${configurationId}\0${cycleId}`).digest('hex');
  // It begins with the configuration id's first 8 hex digits, as a cycle id does: the event's
  // key lives in its configuration's Redis Cluster slot (store/keys.ts, "Hash tags").
  return `${configurationId.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The outbox entry of an event, for the transition that causes it to write (pass it to the
 * store's transition: `CycleRecords.release`, `discard`, `markFailed`, a quarantine's
 * commit). Deterministic id: a transition run again writes the same entry.
 */
export function outboxEvent(e: CycleEvent, at: string = new Date().toISOString()): OutboxEvent {
  const entry: OutboxEntry = {
    id: cycleEventId(e.event, e.configurationId, e.cycleId),
    event: e.event,
    configurationId: e.configurationId,
    cycleId: e.cycleId,
    at,
    quarantine: e.quarantine ?? null,
    actor: e.actor ?? null,
  };
  return { id: entry.id, entry: JSON.stringify(entry) };
}

/** Reads an outbox entry back; null for a value that is not one (logged and dropped by the dispatcher). */
export function parseOutboxEntry(text: string): OutboxEntry | null {
  try {
    const v = JSON.parse(text) as Partial<OutboxEntry>;
    if (typeof v.id !== 'string' || typeof v.event !== 'string' || typeof v.configurationId !== 'string') return null;
    if (typeof v.cycleId !== 'string' || typeof v.at !== 'string') return null;
    return { ...v, quarantine: v.quarantine ?? null, actor: v.actor ?? null } as OutboxEntry;
  } catch {
    return null;
  }
}

/**
 * Where the cycle services report their events (notifications/ answers it). Neither method
 * throws: a notification that cannot be queued is logged (and, once in the outbox, queued
 * later by any replica's sweep), and the command that caused it has still happened.
 */
export interface CycleEvents {
  /**
   * Moves the configuration's outbox entries into the `notify` queue now. Call it after a
   * transition that wrote its event (an {@link outboxEvent}) with it: should this process die
   * first, a sweep of any controller queues the entry later, once.
   */
  dispatch(configurationId: string): Promise<void>;
  /**
   * Writes the event to the outbox on its own and dispatches it: for an event whose
   * transition did not write it (a crash between the transition and this call loses it).
   * Prefer writing the entry with the transition and calling {@link dispatch}.
   */
  publish(event: CycleEvent): Promise<void>;
}

/** Reports nothing (services built without notifications, in tests). */
export const NO_EVENTS: CycleEvents = { dispatch: async () => undefined, publish: async () => undefined };

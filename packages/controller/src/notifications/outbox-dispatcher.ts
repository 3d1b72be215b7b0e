import type { Logger } from 'pino';
import {
  outboxEvent,
  parseOutboxEntry,
  type CycleEvent,
  type CycleEvents,
  type OutboxEntry,
  type OutboxEvent,
} from '../cycles/cycle-events';

/**
 * The configurations' notification outboxes (store/cycle-store.ts implements it, in
 * `P:{C}:config:<id>:outbox`, one hash per configuration in its slot).
 */
export interface OutboxRecords {
  /** Writes one entry on its own (an event whose transition did not write it). */
  appendOutbox(configurationId: string, event: OutboxEvent): Promise<void>;
  /** Every entry of the configuration's outbox: event id -> entry JSON. */
  outboxEntries(configurationId: string): Promise<Map<string, string>>;
  /** Removes an entry while it still holds `entry` (the same event written again meanwhile stays). */
  removeOutboxEntry(configurationId: string, eventId: string, entry: string): Promise<void>;
}

export interface OutboxDispatcherDeps {
  outbox: OutboxRecords;
  /** The ids of every configuration (the sweep reads each one's outbox). */
  configurationIds: () => Promise<string[]>;
  /** Records the event and queues its delivery jobs, idempotently (NotificationService.queueEvent). */
  queueEvent: (entry: OutboxEntry) => Promise<void>;
  logger: Logger;
  /** How often every outbox is swept (ms); 0: no sweep but the one at start. */
  sweepIntervalMs: number;
  /** A pause before dispatching after a transition (ms), for crash tests that kill a controller in between. Default 0. */
  dispatchDelayMs?: number;
}

/**
 * Moves outbox entries into the `notify` queue. A transition writes its event to its
 * configuration's outbox in the same script or MULTI (so a crash cannot keep the one
 * without the other); this process then dispatches it at once, and every controller with
 * workers sweeps all outboxes at start and every `sweepIntervalMs`, so an entry left by a
 * controller that died in between is queued by any replica, after a restart too. Queueing
 * is idempotent (event and job ids are fixed), so an entry dispatched twice (two replicas, a
 * crash between the enqueue and the removal) still delivers once per endpoint.
 */
export class OutboxDispatcher implements CycleEvents {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private readonly pending = new Set<Promise<void>>();
  private readonly delayed = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly deps: OutboxDispatcherDeps) {}

  async dispatch(configurationId: string): Promise<void> {
    const delay = this.deps.dispatchDelayMs ?? 0;
    if (delay <= 0) return this.track(this.drain(configurationId));
    const t = setTimeout(() => {
      this.delayed.delete(t);
      void this.track(this.drain(configurationId));
    }, delay);
    this.delayed.add(t);
  }

  async publish(e: CycleEvent): Promise<void> {
    try {
      await this.deps.outbox.appendOutbox(e.configurationId, outboxEvent(e));
    } catch (error) {
      this.deps.logger.error({ err: error, ...e, quarantine: undefined }, 'notification not written to the outbox');
      return;
    }
    await this.dispatch(e.configurationId);
  }

  /**
   * Starts sweeping: at once (in the background, so that a controller with many
   * configurations is not held from listening), then every sweepIntervalMs until closed.
   */
  start(): void {
    if (this.closed) return;
    void this.sweep();
    if (this.deps.sweepIntervalMs > 0) this.timer = setInterval(() => void this.sweep(), this.deps.sweepIntervalMs);
  }

  /** Dispatches every configuration's outbox (one sweep at a time in this process). */
  sweep(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.sweeping ??= (async () => {
      try {
        for (const id of await this.deps.configurationIds()) {
          if (this.closed) break;
          await this.drain(id);
        }
      } catch (error) {
        this.deps.logger.error({ err: error }, 'outbox sweep failed; the next one tries again');
      } finally {
        this.sweeping = null;
      }
    })();
    return this.track(this.sweeping);
  }

  /** Queues each entry of the outbox, then removes it. Never throws: what fails stays for the next sweep. */
  private async drain(configurationId: string): Promise<void> {
    let entries: Map<string, string>;
    try {
      entries = await this.deps.outbox.outboxEntries(configurationId);
    } catch (error) {
      this.deps.logger.error({ err: error, configurationId }, 'outbox not read; the next sweep tries again');
      return;
    }
    for (const [id, raw] of entries) {
      if (this.closed) return;
      try {
        const entry = parseOutboxEntry(raw);
        if (entry) await this.deps.queueEvent(entry);
        else
          this.deps.logger.error({ configurationId, eventId: id, entry: raw.slice(0, 200) }, 'outbox entry unreadable; dropped');
        await this.deps.outbox.removeOutboxEntry(configurationId, id, raw);
      } catch (error) {
        this.deps.logger.error(
          { err: error, configurationId, eventId: id },
          'notification not queued; the next sweep tries again',
        );
      }
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /** Stops sweeping and waits for the dispatches under way. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    await Promise.allSettled([...this.pending]);
  }
}

import type { Logger } from 'pino';
import { decodeFrame, encodeFrame, type ChangeBatch, type CycleComplete } from '@syncguard/protocol';
import type { CycleCounts, ObjectRow, StateStore } from '../cache/state-store';
import type { ControllerConnection } from './controller-connection';

interface Stream {
  cycleId: string;
  /** Highest sequence written to the outbox. */
  last: number;
  /** Highest sequence sent on the current connection. */
  sent: number;
  /** Highest sequence acknowledged. */
  acked: number;
  /** CycleComplete to send once every batch went out; undefined while reading. */
  complete?: CycleComplete;
  completeSent: boolean;
}

/**
 * The durable outbox of ChangeBatch frames. A batch is written to SQLite before it is
 * sent and deleted when a cumulative BatchAck covers it. After a (re)connect every
 * unacknowledged batch is resent with its original sequence number, then the stream
 * goes on. At most `maxInFlightBatches` batches are unacknowledged: producers wait in
 * {@link waitForRoom}, which is the agent's backpressure on reading the directory.
 */
export class Outbox {
  private readonly streams = new Map<string, Stream>();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly store: StateStore,
    private readonly connection: ControllerConnection,
    private readonly log: Logger,
    /** Called when a stream is fully sent and acknowledged after CycleComplete went out. */
    private readonly onDrained: (cycleId: string) => void,
    /** Called when a stored batch cannot be sent any more (e.g. the new welcome's maxFrameBytes is smaller). */
    private readonly onUnsendable: (cycleId: string, error: unknown) => void = () => undefined,
  ) {}

  /** Starts tracking a cycle's stream (a new cycle, or one found in the store at start). */
  open(cycleId: string, last = 0, acked = 0, completeJson = '', completeSent = false): void {
    this.streams.set(cycleId, {
      cycleId,
      last,
      sent: acked,
      acked,
      complete: completeJson ? (JSON.parse(completeJson) as CycleComplete) : undefined,
      completeSent,
    });
  }

  has(cycleId: string): boolean {
    return this.streams.has(cycleId);
  }

  /** Unacknowledged batches over all streams. */
  get unackedCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.last - s.acked;
    return n;
  }

  private get window(): number {
    return this.connection.limits.maxInFlightBatches;
  }

  /** Batches sent on this connection and not acknowledged, over all streams. */
  private inFlight(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.sent - s.acked;
    return n;
  }

  /** Resolves once fewer than maxInFlightBatches batches are unacknowledged. */
  async waitForRoom(signal?: AbortSignal): Promise<void> {
    while (this.unackedCount >= this.window) {
      if (signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Writes a batch (and the cycle rows of its objects) to the outbox and sends it when the connection allows. */
  push(batch: ChangeBatch, rows: readonly ObjectRow[], counts: CycleCounts): void {
    const stream = this.streams.get(batch.cycleId);
    if (!stream) throw new Error(`outbox: unknown cycle ${batch.cycleId}`);
    const limits = this.connection.limits;
    // Sent at once only within the window: producers of two cycles woken together by one
    // ack may both push, and the controller disconnects an agent beyond the window.
    const direct = this.connection.ready && stream.sent === stream.last && this.inFlight() < this.window;
    const bytes = direct
      ? this.connection.encode({ type: 'changeBatch', value: batch })
      : encodeFrame(
          { type: 'changeBatch', value: batch },
          { protocolVersion: limits.protocolVersion, maxFrameBytes: limits.maxFrameBytes },
        );
    this.store.putBatch(batch.cycleId, batch.sequence, bytes, rows, counts);
    stream.last = batch.sequence;
    if (direct && this.connection.sendBytes(bytes)) stream.sent = batch.sequence;
    else this.pump();
  }

  /** The read finished: CycleComplete goes out after the last batch. */
  complete(cycleId: string, complete: CycleComplete): void {
    const stream = this.streams.get(cycleId);
    if (!stream) return;
    this.store.setComplete(cycleId, JSON.stringify(complete));
    stream.complete = complete;
    this.pump();
  }

  /** Cumulative BatchAck. */
  ack(cycleId: string, through: number): void {
    const stream = this.streams.get(cycleId);
    if (!stream) return;
    if (through > stream.last) {
      this.log.warn({ cycleId, through, last: stream.last }, 'BatchAck beyond the last batch sent; ignored');
      return;
    }
    if (through <= stream.acked) return;
    this.store.ack(cycleId, through);
    stream.acked = through;
    if (stream.sent < through) stream.sent = through;
    this.wake();
    this.pump();
  }

  /** Stops tracking a stream (committed, aborted, failed). The store rows go with the cycle. */
  forget(cycleId: string): void {
    this.streams.delete(cycleId);
    this.wake();
  }

  /** A new connection was welcomed: everything unacknowledged is sent again. */
  resend(): void {
    for (const s of this.streams.values()) {
      s.sent = s.acked;
      s.completeSent = false;
    }
    this.pump();
  }

  /** The connection dropped: nothing counts as sent any more (acks are still valid). */
  disconnected(): void {
    for (const s of this.streams.values()) s.sent = s.acked;
  }

  /** Sends whatever the window allows, oldest stream first. */
  pump(): void {
    if (!this.connection.ready) return;
    for (const s of this.streams.values()) {
      if (s.sent < s.last) {
        const room = this.window - this.inFlight();
        if (room <= 0) return;
        const rows = this.store.unacked(s.cycleId, s.sent).slice(0, room);
        for (const row of rows) {
          let bytes: Uint8Array;
          try {
            bytes = this.connection.encode(decodeFrame(row.frame, { maxFrameBytes: Number.MAX_SAFE_INTEGER }).body);
          } catch (error) {
            this.log.error(
              { cycleId: s.cycleId, sequence: row.sequence, err: (error as Error).message },
              'a stored batch cannot be sent',
            );
            this.onUnsendable(s.cycleId, error);
            return;
          }
          if (!this.connection.sendBytes(bytes)) return;
          s.sent = row.sequence;
        }
        if (s.sent < s.last) return;
      }
      if (s.complete && !s.completeSent && s.sent === s.last) {
        if (!this.connection.send({ type: 'cycleComplete', value: s.complete })) return;
        s.completeSent = true;
        this.store.markCompleteSent(s.cycleId);
      }
      if (s.complete && s.completeSent && s.acked === s.last) this.onDrained(s.cycleId);
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

import pino from 'pino';
import { outboxEvent, parseOutboxEntry, type OutboxEntry, type OutboxEvent } from '../cycles/cycle-events';
import { OutboxDispatcher, type OutboxRecords } from './outbox-dispatcher';

/** The outboxes in memory (the Redis store is tested in outbox.int.test.ts). */
class MemoryOutbox implements OutboxRecords {
  readonly boxes = new Map<string, Map<string, string>>();
  failReads = 0;
  private box(id: string): Map<string, string> {
    let b = this.boxes.get(id);
    if (!b) this.boxes.set(id, (b = new Map()));
    return b;
  }
  async appendOutbox(configurationId: string, event: OutboxEvent): Promise<void> {
    this.box(configurationId).set(event.id, event.entry);
  }
  async outboxEntries(configurationId: string): Promise<Map<string, string>> {
    if (this.failReads > 0) {
      this.failReads -= 1;
      throw new Error('redis down');
    }
    return new Map(this.box(configurationId));
  }
  async removeOutboxEntry(configurationId: string, eventId: string, entry: string): Promise<void> {
    if (this.box(configurationId).get(eventId) === entry) this.box(configurationId).delete(eventId);
  }
}

const CFG = 'c0ffee00-0000-4000-8000-000000000001';
const logger = pino({ level: 'silent' });

function setup(queueEvent: (e: OutboxEntry) => Promise<void>, extra: { dispatchDelayMs?: number } = {}) {
  const outbox = new MemoryOutbox();
  const dispatcher = new OutboxDispatcher({
    outbox,
    configurationIds: async () => [...outbox.boxes.keys()],
    queueEvent,
    logger,
    sweepIntervalMs: 0,
    ...extra,
  });
  return { outbox, dispatcher };
}

describe('OutboxDispatcher', () => {
  it('queues each entry once and removes it; an entry that fails to queue stays for the next sweep', async () => {
    const queued: string[] = [];
    let failNext = true;
    const { outbox, dispatcher } = setup(async (e) => {
      if (failNext) {
        failNext = false;
        throw new Error('notify queue unreachable');
      }
      queued.push(`${e.event}:${e.cycleId}`);
    });
    await outbox.appendOutbox(CFG, outboxEvent({ event: 'quarantine.started', configurationId: CFG, cycleId: 'y1' }));
    await dispatcher.dispatch(CFG);
    expect(queued).toEqual([]);
    expect(outbox.boxes.get(CFG)!.size).toBe(1);
    await dispatcher.sweep();
    expect(queued).toEqual(['quarantine.started:y1']);
    expect(outbox.boxes.get(CFG)!.size).toBe(0);
    await dispatcher.close();
  });

  it('survives a failed read, drops an unreadable entry, and writes what publish is given before queueing it', async () => {
    const queued: OutboxEntry[] = [];
    const { outbox, dispatcher } = setup(async (e) => void queued.push(e));
    outbox.failReads = 1;
    await outbox.appendOutbox(CFG, { id: 'bad', entry: '{not json' });
    await expect(dispatcher.dispatch(CFG)).resolves.toBeUndefined();
    expect(outbox.boxes.get(CFG)!.has('bad')).toBe(true);
    await dispatcher.publish({ event: 'quarantine.released', configurationId: CFG, cycleId: 'y2', actor: 'alice' });
    expect(outbox.boxes.get(CFG)!.size).toBe(0);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ event: 'quarantine.released', cycleId: 'y2', actor: 'alice', quarantine: null });
    expect(queued[0]!.id.startsWith(CFG.slice(0, 8))).toBe(true);
    await dispatcher.close();
  });

  it('with a dispatch delay queues nothing until then, and close() cancels it (the entry stays for the next controller)', async () => {
    const queued: OutboxEntry[] = [];
    const { outbox, dispatcher } = setup(async (e) => void queued.push(e), { dispatchDelayMs: 60_000 });
    await outbox.appendOutbox(CFG, outboxEvent({ event: 'cycle.failed', configurationId: CFG, cycleId: 'y3' }));
    await dispatcher.dispatch(CFG);
    await dispatcher.close();
    expect(queued).toEqual([]);
    expect(outbox.boxes.get(CFG)!.size).toBe(1);
    await dispatcher.sweep(); // closed: sweeps nothing
    expect(queued).toEqual([]);
  });

  it('gives one event of one cycle one id, whenever it is written', () => {
    const a = outboxEvent({ event: 'quarantine.started', configurationId: CFG, cycleId: 'y1' }, '2026-12-01T00:00:00.000Z');
    const b = outboxEvent({ event: 'quarantine.started', configurationId: CFG, cycleId: 'y1' }, '2026-12-02T00:00:00.000Z');
    const c = outboxEvent({ event: 'quarantine.restarted', configurationId: CFG, cycleId: 'y1' });
    expect(a.id).toBe(b.id);
    expect(c.id).not.toBe(a.id);
    expect(parseOutboxEntry(a.entry)).toMatchObject({ id: a.id, at: '2026-12-01T00:00:00.000Z', actor: null });
    expect(parseOutboxEntry('{"id": 1}')).toBeNull();
    expect(parseOutboxEntry('nope')).toBeNull();
  });
});

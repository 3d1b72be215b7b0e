import {
  NO_NOTIFICATION,
  StoredFormatError,
  decodeNotification,
  decodeQuarantine,
  encodeNotification,
  encodeQuarantine,
  type StoredQuarantine,
} from './quarantine-codec';

const quarantine: StoredQuarantine = {
  reason: 'TooManyDeletes',
  deleteCount: 612,
  threshold: 500,
  trippedBy: [
    { rule: 'count', value: 612, limit: 500 },
    { rule: 'percentage', value: 12.2, limit: 10, of: 5000 },
    { rule: 'type:user', value: 300, limit: 300 },
    { rule: 'type:group', value: 20, limit: 20 },
    { rule: 'window', value: 1000, limit: 1000 },
    { rule: 'memberRemovals', value: 2000, limit: 2000 },
    { rule: 'protected', value: 1, limit: 1 },
  ],
  seriesCount: 1,
  hold: 'deletes',
  cycleId: 'c1',
  since: '2026-11-24T10:00:00.000Z',
};

describe('quarantine codec', () => {
  it('round-trips a quarantine', () => {
    expect(decodeQuarantine(encodeQuarantine(quarantine))).toEqual(quarantine);
  });

  it('reads a quarantine stored before seriesCount as found by one cycle', () => {
    const { seriesCount: _, ...old } = quarantine;
    expect(decodeQuarantine(JSON.stringify(old)).seriesCount).toBe(1);
  });

  it('reads a quarantine stored before the delete lane as holding its cycle, and refuses an unknown hold', () => {
    const { hold: _, ...old } = quarantine;
    expect(decodeQuarantine(JSON.stringify(old)).hold).toBe('cycle');
    expect(() => decodeQuarantine(JSON.stringify({ ...quarantine, hold: 'all' }))).toThrow(StoredFormatError);
  });

  it('keeps only the known fields', () => {
    const raw = encodeQuarantine({ ...quarantine, extra: 1 } as StoredQuarantine);
    expect(Object.keys(JSON.parse(raw) as object)).not.toContain('extra');
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['another reason', JSON.stringify({ ...quarantine, reason: 'Other' })],
    ['a string count', JSON.stringify({ ...quarantine, deleteCount: '612' })],
    ['no trippedBy', JSON.stringify({ ...quarantine, trippedBy: undefined })],
    ['a fractional of', JSON.stringify({ ...quarantine, trippedBy: [{ rule: 'percentage', value: 1, limit: 1, of: 2.5 }] })],
    ['a seriesCount of 0', JSON.stringify({ ...quarantine, seriesCount: 0 })],
    ['an unknown rule', JSON.stringify({ ...quarantine, trippedBy: [{ rule: 'nope', value: 1, limit: 1 }] })],
  ])('refuses %s', (_what, raw) => {
    expect(() => decodeQuarantine(raw)).toThrow(StoredFormatError);
  });

  it('round-trips notifications', () => {
    expect(decodeNotification(encodeNotification(NO_NOTIFICATION))).toEqual(NO_NOTIFICATION);
    const sent = { status: 'sent' as const, attempts: 2, lastError: 'x', sentAt: '2026-11-24T10:00:00.000Z' };
    expect(decodeNotification(encodeNotification(sent))).toEqual(sent);
    expect(() => decodeNotification(JSON.stringify({ ...sent, status: 'lost' }))).toThrow(StoredFormatError);
  });
});

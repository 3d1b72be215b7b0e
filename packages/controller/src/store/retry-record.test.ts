import { decodeRetryRecord, encodeRetryRecord, type RetryRecord } from './retry-record';

describe('retry records', () => {
  const common = {
    objectType: 'user' as const,
    dn: 'uid=a,dc=x',
    reason: 'HTTP 503',
    failedAt: '2026-12-01T00:00:00.000Z',
    attempts: 2,
  };

  it.each<RetryRecord>([
    { op: 'delete', ...common },
    { op: 'upsert', ...common, hash: 'ab', disabled: true, change: null },
    {
      op: 'upsert',
      ...common,
      objectType: 'group',
      hash: 'cd',
      disabled: false,
      change: { protocolVersion: 1, bytes: Buffer.from([0, 1, 255]) },
    },
  ])('round-trip %#', (record) => {
    expect(decodeRetryRecord(encodeRetryRecord(record))).toEqual(record);
  });

  it('refuses what is not one', () => {
    expect(() => decodeRetryRecord(JSON.stringify({ op: 'delete', ...common, objectType: 'printer' }))).toThrow(
      'not a retry record',
    );
    expect(() => decodeRetryRecord(JSON.stringify({ op: 'upsert', ...common, hash: 1, disabled: false, change: null }))).toThrow(
      'not a retry record',
    );
  });
});

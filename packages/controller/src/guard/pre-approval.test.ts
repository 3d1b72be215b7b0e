import { coveringApproval, type PreApproval } from './pre-approval';

const NOW = 1_000_000;
const a = (id: string, maxDeletes: number, expiresInMs: number, spent = false, createdAtMs = 0): PreApproval => ({
  id,
  maxDeletes,
  expiresAtMs: NOW + expiresInMs,
  createdAtMs,
  spent,
});
const count = [{ rule: 'count' as const, value: 50, limit: 10 }];

describe('coveringApproval', () => {
  it('covers a cycle of at most maxDeletes deletes before the expiry; the edge is inclusive', () => {
    expect(coveringApproval([a('x', 50, 1)], { deletes: 50, trippedBy: count, nowMs: NOW })?.id).toBe('x');
    expect(coveringApproval([a('x', 49, 1)], { deletes: 50, trippedBy: count, nowMs: NOW })).toBeNull();
    expect(coveringApproval([a('x', 50, 0)], { deletes: 50, trippedBy: count, nowMs: NOW })).toBeNull();
    expect(coveringApproval([a('x', 50, 10, true)], { deletes: 50, trippedBy: count, nowMs: NOW })).toBeNull();
  });

  it('takes the one that expires first, then the oldest', () => {
    const list = [a('late', 100, 5000), a('soon', 60, 1000), a('small', 10, 10), a('soon-new', 60, 1000, false, 5)];
    expect(coveringApproval(list, { deletes: 50, trippedBy: count, nowMs: NOW })?.id).toBe('soon');
  });

  it('never lifts the protected rule', () => {
    expect(
      coveringApproval([a('x', 500, 1000)], {
        deletes: 5,
        trippedBy: [...count, { rule: 'protected', value: 1, limit: 1 }],
        nowMs: NOW,
      }),
    ).toBeNull();
  });
});

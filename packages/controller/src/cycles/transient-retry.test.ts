import { TRANSIENT_RETRY, transientRetryDelay } from './cycle-processor';

describe('the cycle brought forward after transient failures', () => {
  it('waits for the Retry-After, bounded, or the default without one', () => {
    expect(transientRetryDelay(2500, 3600)).toBe(2500);
    expect(transientRetryDelay(0, 3600)).toBe(TRANSIENT_RETRY.defaultMs);
    expect(transientRetryDelay(10, 3600)).toBe(TRANSIENT_RETRY.minMs);
    expect(transientRetryDelay(24 * 3600_000, 86_400)).toBe(TRANSIENT_RETRY.maxMs);
  });

  it('is not brought forward when the schedule comes as soon', () => {
    expect(transientRetryDelay(60_000, 60)).toBeNull();
    expect(transientRetryDelay(0, 10)).toBeNull();
    expect(transientRetryDelay(5_000, 10)).toBe(5_000);
  });
});

import { negotiateVersion, isSupportedVersion, PROTOCOL_VERSION } from './version';
import { isRetryableClose, CloseCode } from './close-codes';

describe('version negotiation', () => {
  it('picks the highest common version', () => {
    expect(negotiateVersion([1])).toBe(1);
    expect(negotiateVersion([3, 1, 2], [1, 2])).toBe(2);
    expect(negotiateVersion([2, 3])).toBeUndefined();
    expect(negotiateVersion([])).toBeUndefined();
    expect(isSupportedVersion(PROTOCOL_VERSION)).toBe(true);
    expect(isSupportedVersion(0)).toBe(false);
  });
});

describe('close codes', () => {
  it('tells the agent when reconnecting cannot help', () => {
    expect(isRetryableClose(CloseCode.AUTH_FAILED)).toBe(false);
    expect(isRetryableClose(CloseCode.AGENT_REVOKED)).toBe(false);
    expect(isRetryableClose(CloseCode.UNSUPPORTED_VERSION)).toBe(false);
    expect(isRetryableClose(CloseCode.GOING_AWAY)).toBe(true);
    expect(isRetryableClose(1006)).toBe(true);
    expect(CloseCode.AUTH_FAILED).toBeGreaterThanOrEqual(4000);
  });
});

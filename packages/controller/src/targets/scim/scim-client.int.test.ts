import { ScimPeer } from '@syncguard/testkit';
import { ScimClient, ScimTransientError, type ScimClientOptions } from './scim-client';

/** The most requests the peer had in flight at once. */
function mostInFlight(peer: ScimPeer): number {
  const edges = peer.requests.flatMap((r) => [
    [r.at.getTime(), 1],
    [r.answeredAt.getTime(), -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d!));
  return most;
}

describe('ScimClient against a real SCIM peer', () => {
  let peer: ScimPeer;
  beforeAll(async () => {
    peer = await ScimPeer.start({ oauth: { clientId: 'cid', clientSecret: 'csecret', expiresInSeconds: 3600 } });
  });
  afterAll(() => peer.close());
  beforeEach(() => {
    peer.clearRequests();
    peer.latency(0);
  });

  const client = (o: Partial<ScimClientOptions> = {}) =>
    new ScimClient({
      baseUrl: peer.url,
      credentials: { type: 'bearer', token: peer.token },
      concurrency: 4,
      maxRequestsPerSecond: null,
      timeoutMs: 5000,
      backoffMs: 10,
      ...o,
    });

  it('sends SCIM JSON with the bearer token', async () => {
    const res = await client().request('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'c1',
    });
    expect(res.status).toBe(201);
    expect(peer.requests[0]).toMatchObject({ contentType: 'application/scim+json', authorization: `Bearer ${peer.token}` });
  });

  it('waits out 429 and 503 with Retry-After, and retries 500s, until the answer', async () => {
    const c = client();
    peer.throttle(2, 0, 429);
    expect((await c.request('GET', '/Users')).status).toBe(200);
    peer.throttle(1, 0, 503);
    expect((await c.request('GET', '/Users')).status).toBe(200);
    peer.fail(3);
    expect((await c.request('GET', '/Users')).status).toBe(200);
    expect(peer.requests.map((r) => r.status)).toEqual([429, 429, 200, 503, 200, 500, 500, 500, 200]);
  });

  it('gives up after its attempts with a transient error, and answers permanent errors as they are', async () => {
    const c = client({ maxAttempts: 3 });
    peer.fail(5);
    await expect(c.request('GET', '/Users')).rejects.toBeInstanceOf(ScimTransientError);
    expect(peer.requests).toHaveLength(3);
    peer.fail(0);
    expect((await c.request('GET', '/Users/nope')).status).toBe(404);
  });

  it('retries a request that times out', async () => {
    const c = client({ timeoutMs: 100, maxAttempts: 2 });
    peer.latency(300);
    await expect(c.request('GET', '/Users')).rejects.toThrow(/timed out after 100 ms/);
    expect(c.requestsSent).toBe(2);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const c = client({ concurrency: 3 });
    peer.latency(30);
    await Promise.all(Array.from({ length: 15 }, () => c.request('GET', '/Users?count=1')));
    expect(peer.requests).toHaveLength(15);
    expect(mostInFlight(peer)).toBeLessThanOrEqual(3);
    expect(mostInFlight(peer)).toBeGreaterThan(1);
  });

  it('OAuth client credentials: one token for concurrent requests, fetched again after a 401', async () => {
    const c = client({
      credentials: { type: 'oauth2', tokenUrl: peer.tokenUrl, clientId: 'cid', clientSecret: 'csecret', scope: 'scim' },
    });
    await Promise.all(Array.from({ length: 6 }, () => c.request('GET', '/Users?count=1')));
    expect(peer.requests.filter((r) => r.path === '/oauth/token')).toHaveLength(1);
    // The cached token stops working (the provider forgot it): one 401, a new token, the request again.
    (c as unknown as { token: { value: string } }).token.value = 'revoked';
    expect((await c.request('GET', '/Users?count=1')).status).toBe(200);
    expect(peer.requests.filter((r) => r.path === '/oauth/token')).toHaveLength(2);
    const bad = client({
      credentials: { type: 'oauth2', tokenUrl: peer.tokenUrl, clientId: 'cid', clientSecret: 'wrong', scope: null },
      maxAttempts: 1,
    });
    await expect(bad.request('GET', '/Users')).rejects.toThrow(/token endpoint answered HTTP 401/);
  });
});

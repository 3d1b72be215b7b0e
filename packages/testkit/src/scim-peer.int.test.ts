import { ScimPeer } from './scim-peer';

const JSON_SCIM = 'application/scim+json';

describe('ScimPeer', () => {
  let peer: ScimPeer;
  beforeAll(async () => {
    peer = await ScimPeer.start({ oauth: { clientId: 'c1', clientSecret: 's1' } });
  });
  afterAll(async () => peer.close());
  beforeEach(() => peer.clearRequests());

  type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const call = async (method: string, path: string, body?: unknown, token = peer.token) => {
    const res = await fetch(`${peer.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': JSON_SCIM },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Body) : null };
  };

  it('creates, finds by filter, patches and deletes users and groups, and records every request', async () => {
    const created = await call('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
      userName: 'alice',
      externalId: 'uuid-1',
      name: { givenName: 'Alice', familyName: 'A' },
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'R&D' },
    });
    expect(created.status).toBe(201);
    const id = created.body!.id as string;
    const found = await call('GET', `/Users?filter=${encodeURIComponent('userName eq "ALICE"')}`);
    expect(found.body!.totalResults).toBe(1);
    expect(found.body!.Resources[0].id).toBe(id);
    const byExt = await call('GET', `/Users?filter=${encodeURIComponent('externalId eq "uuid-1"')}`);
    expect(byExt.body!.Resources[0].id).toBe(id);
    const dup = await call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'alice' });
    expect(dup.status).toBe(409);
    expect(dup.body!.scimType).toBe('uniqueness');
    const patched = await call('PATCH', `/Users/${id}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    expect(patched.status).toBe(200);
    expect(peer.user('alice')!.active).toBe(false);
    expect(peer.user('alice')!['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User']).toEqual({ department: 'R&D' });
    const group = await call('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'staff',
      members: [{ value: id }],
    });
    expect(group.status).toBe(201);
    const gid = group.body!.id as string;
    const removed = await call('PATCH', `/Groups/${gid}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }],
    });
    expect(removed.status).toBe(200);
    expect(peer.group('staff')!.members).toEqual([]);
    expect((await call('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await call('DELETE', `/Users/${id}`)).status).toBe(404);
    expect(peer.users()).toHaveLength(0);
    expect(peer.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      'POST 201',
      'GET 200',
      'GET 200',
      'POST 409',
      'PATCH 200',
      'POST 201',
      'PATCH 200',
      'DELETE 204',
      'DELETE 404',
    ]);
    expect(peer.requests[0]!.contentType).toBe(JSON_SCIM);
    expect(peer.writes()).toHaveLength(7);
  });

  it('refuses a bad token, and accepts one issued by its OAuth endpoint', async () => {
    expect((await call('GET', '/Users', undefined, 'wrong')).status).toBe(401);
    const bad = await fetch(peer.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=c1&client_secret=nope',
    });
    expect(bad.status).toBe(401);
    const res = await fetch(peer.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=c1&client_secret=s1',
    });
    const token = ((await res.json()) as { access_token: string }).access_token;
    expect((await call('GET', '/Users', undefined, token)).status).toBe(200);
  });

  it('answers 429 with Retry-After, 500s, and a permanent 400 for one user, as switched', async () => {
    peer.throttle(2, 3);
    const t = await call('GET', '/Users');
    expect(t.status).toBe(429);
    expect(t.headers.get('retry-after')).toBe('3');
    expect((await call('GET', '/Users')).status).toBe(429);
    expect((await call('GET', '/Users')).status).toBe(200);
    peer.fail(1);
    expect((await call('GET', '/Users')).status).toBe(500);
    expect((await call('GET', '/Users')).status).toBe(200);
    peer.reject('bob', 'bob is not allowed');
    const r = await call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'bob' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ scimType: 'invalidValue', detail: 'bob is not allowed' });
    peer.reject('bob', null);
    expect(
      (await call('POST', '/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'bob' })).status,
    ).toBe(201);
  });
});

import { ApiClient, ApiError, apiErrorFrom, listOf, parseFieldMessage, withQuery, type FetchLike } from './client';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that answers from a table and records what it was asked. */
function fakeFetch(answers: Record<string, { status: number; body?: unknown; raw?: string }>) {
  const calls: Call[] = [];
  const fetch: FetchLike = async (url, init) => {
    calls.push({ url, init });
    const key = `${init?.method ?? 'GET'} ${url}`;
    const a = answers[key];
    if (!a) return new Response(JSON.stringify({ error: { code: 'SG_ERR_NOT_FOUND', message: `no ${key}` } }), { status: 404 });
    return new Response(a.raw ?? (a.body === undefined ? null : JSON.stringify(a.body)), { status: a.status });
  };
  return { fetch, calls };
}

describe('parseFieldMessage', () => {
  it('reads the field the API names before the colon', () => {
    expect(parseFieldMessage('accidentalDeletes.threshold: must be >= 1')).toEqual({
      field: 'accidentalDeletes.threshold',
      detail: 'must be >= 1',
    });
    expect(parseFieldMessage('notificationEmail: must be an email address')?.field).toBe('notificationEmail');
    expect(parseFieldMessage('source.objectTypes[0]: must be user or group')?.field).toBe('source.objectTypes[0]');
  });

  it("reads Fastify's schema messages", () => {
    expect(parseFieldMessage('body/accidentalDeletes/threshold must be >= 1')).toEqual({
      field: 'accidentalDeletes.threshold',
      detail: 'must be >= 1',
    });
  });

  it('finds no field in a sentence', () => {
    expect(parseFieldMessage('configuration abc is not quarantined')).toBeNull();
    expect(parseFieldMessage('Bad request: body is not JSON')).toBeNull();
  });
});

describe('apiErrorFrom', () => {
  it("keeps the API's code and message, and the field of a 400", () => {
    const e = apiErrorFrom(400, {
      error: { code: 'SG_ERR_INVALID_INPUT', message: 'accidentalDeletes.threshold: must be >= 1' },
    });
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(400);
    expect(e.code).toBe('SG_ERR_INVALID_INPUT');
    expect(e.message).toBe('accidentalDeletes.threshold: must be >= 1');
    expect(e.field).toBe('accidentalDeletes.threshold');
    expect(e.detail).toBe('must be >= 1');
  });

  it("prefers the API's error.field", () => {
    const e = apiErrorFrom(400, {
      error: {
        code: 'SG_ERR_INVALID_INPUT',
        message: 'accidentalDeletes.threshold: must be integer',
        field: 'accidentalDeletes.threshold',
      },
    });
    expect(e.field).toBe('accidentalDeletes.threshold');
    expect(e.detail).toBe('must be integer');
    const body = apiErrorFrom(400, { error: { code: 'SG_ERR_INVALID_INPUT', message: 'body: not JSON', field: 'body' } });
    expect(body.field).toBe('body');
    expect(body.detail).toBe('not JSON');
  });

  it('names no field outside a 400', () => {
    const e = apiErrorFrom(409, { error: { code: 'SG_ERR_NOT_QUARANTINED', message: 'state: not quarantined' } });
    expect(e.field).toBeNull();
    expect(e.detail).toBe('state: not quarantined');
  });

  it("reads Fastify's own error bodies", () => {
    const e = apiErrorFrom(400, {
      statusCode: 400,
      error: 'Bad Request',
      message: 'body/notificationEmail must match format "email"',
    });
    expect(e.code).toBe('HTTP_400');
    expect(e.field).toBe('notificationEmail');
  });

  it('explains an answer without a body', () => {
    expect(apiErrorFrom(401, null).message).toMatch(/token/);
    expect(apiErrorFrom(403, null).message).toMatch(/role/);
    expect(apiErrorFrom(502, null, 'Bad Gateway').message).toBe('The controller answered 502 Bad Gateway.');
  });
});

describe('withQuery and listOf', () => {
  it('leaves out empty values and encodes the rest', () => {
    expect(withQuery('/x', { action: 'StagedDelete', cycleId: '', cursor: null, dn: 'uid=a b,dc=x', limit: 50 })).toBe(
      '/x?action=StagedDelete&dn=uid%3Da+b%2Cdc%3Dx&limit=50',
    );
    expect(withQuery('/x', {})).toBe('/x');
  });

  it('takes bare lists and pages', () => {
    expect(listOf([1, 2])).toEqual([1, 2]);
    expect(listOf({ items: [3], nextCursor: null })).toEqual([3]);
    expect(listOf(null)).toEqual([]);
  });
});

describe('ApiClient', () => {
  it('sends the bearer token to the same-origin /api/v1 and parses JSON', async () => {
    const f = fakeFetch({ 'GET /api/v1/configurations?limit=100': { status: 200, body: [{ id: 'c1' }] } });
    const client = new ApiClient({ token: 'tok', fetch: f.fetch });
    await expect(client.listConfigurations()).resolves.toEqual([{ id: 'c1' }]);
    expect(f.calls[0]!.url).toBe('/api/v1/configurations?limit=100');
    expect((f.calls[0]!.init!.headers as Record<string, string>).Authorization).toBe('Bearer tok');
  });

  it('follows nextCursor through every page of a list', async () => {
    const f = fakeFetch({
      'GET /api/v1/agents?limit=100': { status: 200, body: { items: [{ id: 'a1' }], nextCursor: 'n1' } },
      'GET /api/v1/agents?limit=100&cursor=n1': { status: 200, body: { items: [{ id: 'a2' }], nextCursor: null } },
    });
    await expect(new ApiClient({ token: 't', fetch: f.fetch }).listAgents()).resolves.toEqual([{ id: 'a1' }, { id: 'a2' }]);
  });

  it('sends JSON bodies with PATCH and POST', async () => {
    const f = fakeFetch({
      'PATCH /api/v1/configurations/c%2F1': { status: 200, body: { id: 'c/1' } },
      'POST /api/v1/configurations/c1/allow-deletes': { status: 200, body: { state: 'applied', cycleId: 'y', deleted: 612 } },
    });
    const client = new ApiClient({ token: 't', fetch: f.fetch });
    await client.updateConfiguration('c/1', { notificationEmail: null, accidentalDeletes: { threshold: 10 } });
    expect(JSON.parse(f.calls[0]!.init!.body as string)).toEqual({
      notificationEmail: null,
      accidentalDeletes: { threshold: 10 },
    });
    expect((f.calls[0]!.init!.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    await expect(client.allowDeletes('c1')).resolves.toEqual({ state: 'applied', cycleId: 'y', deleted: 612 });
  });

  it('throws ApiError with the API message and calls onUnauthorized on 401', async () => {
    const f = fakeFetch({
      'GET /api/v1/agents?limit=100': { status: 401, body: { error: { code: 'SG_ERR_UNAUTHORIZED', message: 'unknown token' } } },
    });
    const onUnauthorized = jest.fn();
    const client = new ApiClient({ token: 'bad', fetch: f.fetch, onUnauthorized });
    await expect(client.listAgents()).rejects.toMatchObject({
      status: 401,
      code: 'SG_ERR_UNAUTHORIZED',
      message: 'unknown token',
    });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
  });

  it('copes with a body that is not JSON', async () => {
    const f = fakeFetch({ 'GET /api/v1/agents?limit=100': { status: 500, raw: '<html>oops</html>' } });
    await expect(new ApiClient({ token: 't', fetch: f.fetch }).listAgents()).rejects.toMatchObject({
      status: 500,
      code: 'HTTP_500',
    });
  });

  it('turns a network failure into status 0', async () => {
    const client = new ApiClient({
      token: 't',
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    await expect(client.listConfigurations()).rejects.toMatchObject({ status: 0, code: 'NETWORK' });
  });

  it('learns the role from GET /tokens: 200 admin, 403 reader, 404 unknown, 401 thrown', async () => {
    const role = (status: number) =>
      new ApiClient({
        token: 't',
        fetch: fakeFetch({ 'GET /api/v1/tokens': { status, body: status === 200 ? [] : undefined } }).fetch,
      }).role();
    await expect(role(200)).resolves.toBe('admin');
    await expect(role(403)).resolves.toBe('reader');
    await expect(role(404)).resolves.toBeNull();
    await expect(role(401)).rejects.toBeInstanceOf(ApiError);
  });

  it('asks for provisioning logs with the filters set and normalises the page', async () => {
    const f = fakeFetch({
      'GET /api/v1/configurations/c1/provisioning-logs?action=StagedDelete&cycleId=y&limit=50&cursor=abc': {
        status: 200,
        body: { items: [{ id: 'l1' }], nextCursor: 'def' },
      },
    });
    const page = await new ApiClient({ token: 't', fetch: f.fetch }).listLogs('c1', {
      action: 'StagedDelete',
      cycleId: 'y',
      dn: '',
      limit: 50,
      cursor: 'abc',
    });
    expect(page).toEqual({ items: [{ id: 'l1' }], nextCursor: 'def' });
  });

  it('lists, creates and revokes pre-approvals, and names the field of a refused one', async () => {
    const f = fakeFetch({
      'GET /api/v1/configurations/c1/delete-approvals': { status: 200, body: { items: [{ id: 'a1', state: 'active' }] } },
      'POST /api/v1/configurations/c1/delete-approvals': { status: 201, body: { id: 'a2', maxDeletes: 10 } },
      'DELETE /api/v1/configurations/c1/delete-approvals/a1': { status: 204 },
      'POST /api/v1/configurations/c2/delete-approvals': {
        status: 400,
        body: { error: { code: 'SG_ERR_INVALID_INPUT', message: 'body/maxDeletes must be >= 1' } },
      },
    });
    const client = new ApiClient({ token: 't', fetch: f.fetch });
    expect(await client.listDeleteApprovals('c1')).toEqual([{ id: 'a1', state: 'active' }]);
    expect(await client.createDeleteApproval('c1', { maxDeletes: 10, expiresInHours: 24, reason: 'r' })).toEqual({
      id: 'a2',
      maxDeletes: 10,
    });
    expect(JSON.parse(String(f.calls[1]!.init?.body))).toEqual({ maxDeletes: 10, expiresInHours: 24, reason: 'r' });
    expect(await client.revokeDeleteApproval('c1', 'a1')).toBeNull();
    const e = (await client
      .createDeleteApproval('c2', { maxDeletes: 0, expiresInHours: 24, reason: 'r' })
      .catch((x) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.field).toBe('maxDeletes');
  });
});

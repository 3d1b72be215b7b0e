/* global URL, setTimeout */
// Development only: serves packages/portal/dist and a small in-memory imitation of the
// controller's /api/v1 (contract.md) so that the portal can be looked at and screenshotted
// without Redis, slapd and an agent. Tokens: "admin-token" (admin) and "reader-token" (reader).
// Usage: node packages/portal/dev/mock-api.cjs [port]   (after npm run build -w @syncguard/portal)
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const DIST = path.join(__dirname, '..', 'dist');
const port = Number(process.argv[2] ?? process.env.PORT ?? 5174);
const now = Date.now();
const iso = (msAgo) => new Date(now - msAgo).toISOString();

const configs = [
  {
    id: 'cfg-corp',
    name: 'corp.example.com',
    agentIds: ['agt-1'],
    source: { baseDn: 'ou=people,dc=example,dc=com', filter: '(objectClass=inetOrgPerson)', objectTypes: ['user', 'group'] },
    syncIntervalSeconds: 120,
    accidentalDeletes: { enabled: true, threshold: 500, countDisables: false },
    notificationEmail: 'ops@example.com',
    state: 'quarantined',
  },
  {
    id: 'cfg-lab',
    name: 'lab.example.com',
    agentIds: ['agt-1', 'agt-2'],
    source: { baseDn: 'ou=lab,dc=example,dc=com', filter: '', objectTypes: ['user'] },
    syncIntervalSeconds: 300,
    accidentalDeletes: { enabled: true, threshold: 50, countDisables: false },
    notificationEmail: null,
    state: 'healthy',
  },
];
const cycles = {
  'cfg-corp': [
    {
      id: 'cyc-3',
      state: 'quarantined',
      mode: 'delta',
      trigger: 'schedule',
      startedAt: iso(600e3),
      completedAt: iso(590e3),
      counts: { create: 0, update: 3, delete: 612 },
      error: null,
    },
    {
      id: 'cyc-2',
      state: 'applied',
      mode: 'delta',
      trigger: 'schedule',
      startedAt: iso(720e3),
      completedAt: iso(715e3),
      counts: { create: 4, update: 12, delete: 2 },
      error: null,
    },
    {
      id: 'cyc-1',
      state: 'applied',
      mode: 'full',
      trigger: 'agent-connected',
      startedAt: iso(840e3),
      completedAt: iso(820e3),
      counts: { create: 1200, update: 0, delete: 0 },
      error: null,
    },
  ],
  'cfg-lab': [
    {
      id: 'cyc-9',
      state: 'applied',
      mode: 'delta',
      trigger: 'schedule',
      startedAt: iso(60e3),
      completedAt: iso(58e3),
      counts: { create: 0, update: 1, delete: 0 },
      error: null,
    },
  ],
};
const quarantine = {
  'cfg-corp': {
    reason: 'TooManyDeletes',
    deleteCount: 612,
    threshold: 500,
    cycleId: 'cyc-3',
    since: iso(590e3),
    notification: { status: 'sent', attempts: 1, lastError: null, sentAt: iso(589e3) },
  },
};
const logs = { 'cfg-corp': [], 'cfg-lab': [] };
for (let i = 0; i < 612; i++) {
  logs['cfg-corp'].push({
    id: `l-s${i}`,
    cycleId: 'cyc-3',
    at: iso(590e3 - i),
    action: 'StagedDelete',
    status: 'staged',
    objectType: i % 10 === 0 ? 'group' : 'user',
    objectId: `o${i}`,
    dn:
      i % 10 === 0
        ? `cn=team-${i},ou=groups,dc=example,dc=com`
        : `uid=user${String(i).padStart(4, '0')},ou=sales,ou=people,dc=example,dc=com`,
    details: null,
  });
}
for (let i = 0; i < 12; i++) {
  logs['cfg-corp'].push({
    id: `l-u${i}`,
    cycleId: 'cyc-2',
    at: iso(716e3 - i),
    action: 'Update',
    status: 'success',
    objectType: 'user',
    objectId: `u${i}`,
    dn: `uid=staff${i},ou=people,dc=example,dc=com`,
    details: 'mail, telephoneNumber',
  });
}
const agents = [
  {
    id: 'agt-1',
    name: 'dc1-agent',
    status: 'connected',
    lastSeenAt: iso(4e3),
    version: '0.1.0',
    hostname: 'dc1.corp.example.com',
    configurationIds: ['cfg-corp', 'cfg-lab'],
  },
  {
    id: 'agt-2',
    name: 'dc2-agent',
    status: 'disconnected',
    lastSeenAt: iso(86400e3 * 2),
    version: '0.1.0',
    hostname: 'dc2.corp.example.com',
    configurationIds: ['cfg-lab'],
  },
];

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

function status(id) {
  const c = configs.find((x) => x.id === id);
  return { state: c.state, quarantine: c.state === 'quarantined' ? quarantine[id] : null, lastCycle: cycles[id][0] ?? null };
}

function api(req, res, url, body) {
  const auth = req.headers.authorization ?? '';
  const role = auth === 'Bearer admin-token' ? 'admin' : auth === 'Bearer reader-token' ? 'reader' : null;
  if (!role) return fail(res, 401, 'SG_ERR_UNAUTHORIZED', 'missing or unknown API token');
  const p = url.pathname.replace(/^\/api\/v1/, '');
  const write = req.method !== 'GET';
  if ((write || p === '/tokens') && role !== 'admin') return fail(res, 403, 'SG_ERR_FORBIDDEN', 'this needs the admin role');
  if (p === '/tokens') return send(res, 200, [{ id: 'bootstrap', name: 'bootstrap-admin', role: 'admin' }]);
  if (p === '/configurations') return send(res, 200, configs);
  if (p === '/agents') return send(res, 200, agents);
  let m = /^\/agents\/([^/]+)$/.exec(p);
  if (m) {
    const a = agents.find((x) => x.id === m[1]);
    return a ? send(res, 200, a) : fail(res, 404, 'SG_ERR_NOT_FOUND', `agent ${m[1]} not found`);
  }
  m = /^\/configurations\/([^/]+)(\/[a-z-]+)?$/.exec(p);
  const c = m && configs.find((x) => x.id === m[1]);
  if (!c) return fail(res, 404, 'SG_ERR_NOT_FOUND', `configuration ${m ? m[1] : ''} not found`);
  const sub = m[2] ?? '';
  if (sub === '' && req.method === 'GET') return send(res, 200, c);
  if (sub === '' && req.method === 'PATCH') {
    const t = body.accidentalDeletes?.threshold;
    if (t !== undefined && !(Number.isInteger(t) && t >= 1))
      return fail(res, 400, 'SG_ERR_INVALID_INPUT', 'accidentalDeletes.threshold: must be a whole number >= 1');
    if (body.notificationEmail && !/^[^@\s]+@[^@\s]+$/.test(body.notificationEmail))
      return fail(res, 400, 'SG_ERR_INVALID_INPUT', 'notificationEmail: must be an email address');
    if ('notificationEmail' in body) c.notificationEmail = body.notificationEmail;
    Object.assign(c.accidentalDeletes, body.accidentalDeletes ?? {});
    return send(res, 200, c);
  }
  if (sub === '/status') return send(res, 200, status(c.id));
  if (sub === '/cycles' && req.method === 'GET') return send(res, 200, cycles[c.id]);
  if (sub === '/provisioning-logs') {
    let items = logs[c.id];
    const action = url.searchParams.get('action');
    const cycleId = url.searchParams.get('cycleId');
    if (action) items = items.filter((e) => e.action === action);
    if (cycleId) items = items.filter((e) => e.cycleId === cycleId);
    // No `dn` support on purpose: the portal then searches the loaded page itself.
    const start = Number(url.searchParams.get('cursor') ?? 0);
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const page = items.slice(start, start + limit);
    return send(res, 200, { items: page, nextCursor: start + limit < items.length ? String(start + limit) : null });
  }
  if (sub === '/allow-deletes' || sub === '/restart') {
    if (c.state !== 'quarantined') return fail(res, 409, 'SG_ERR_NOT_QUARANTINED', `configuration ${c.id} is not quarantined`);
    const q = quarantine[c.id];
    c.state = 'pending';
    cycles[c.id][0].state = sub === '/allow-deletes' ? 'applied' : 'discarded';
    setTimeout(() => {
      cycles[c.id].unshift({
        id: `cyc-${Date.now()}`,
        state: 'applied',
        mode: 'delta',
        trigger: 'schedule',
        startedAt: new Date().toISOString(),
        completedAt: new Date().toISOString(),
        counts: { create: 0, update: 0, delete: 0 },
        error: null,
      });
      c.state = 'healthy';
    }, 5000);
    return sub === '/allow-deletes'
      ? send(res, 200, { cycleId: q.cycleId, deleted: q.deleteCount })
      : send(res, 202, { cycleId: 'cyc-new' });
  }
  if (sub === '/cycles' && req.method === 'POST') return send(res, 202, { cycleId: `cyc-${Date.now()}` });
  return fail(res, 404, 'SG_ERR_NOT_FOUND', 'no such route');
}

const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
};
http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    if (url.pathname.startsWith('/api/')) {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => api(req, res, url, raw ? JSON.parse(raw) : {}));
      return;
    }
    let file = path.join(DIST, path.normalize(url.pathname));
    if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  })
  .listen(port, '127.0.0.1', () => console.log(`portal with a mock API on http://127.0.0.1:${port}/`));

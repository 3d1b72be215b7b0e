import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import {
  startRedis,
  startSlapd,
  startSmtp,
  usersLdif,
  groupLdif,
  userDns,
  type RedisServer,
  type SlapdServer,
  type SmtpSink,
} from './index';

// slapadd, slapd starts and thousands of modifies: seconds each on a loaded machine (5 s is jest's default).
jest.setTimeout(60_000);

describe('slapd', () => {
  let slapd: SlapdServer;
  beforeAll(async () => {
    slapd = await startSlapd({ seedLdif: usersLdif('ou=people,dc=example,dc=com', 5) });
  });
  afterAll(() => slapd.dispose());

  it('serves the seeded entries and accepts changes over LDAP', async () => {
    expect((await slapd.search(slapd.peopleDn, '(objectClass=inetOrgPerson)', ['uid'])).match(/^uid: /gm)).toHaveLength(5);
    await slapd.add(groupLdif(slapd.groupsDn, 'staff', userDns(slapd.peopleDn, 2)));
    await slapd.delete(['uid=user4,ou=people,dc=example,dc=com']);
    const out = await slapd.search(slapd.suffix, '(|(objectClass=inetOrgPerson)(objectClass=groupOfNames))', ['entryUUID']);
    expect(out.match(/^entryUUID: /gm)).toHaveLength(5);
  });

  it('survives kill and start with its data', async () => {
    await slapd.kill();
    expect(slapd.running).toBe(false);
    await slapd.start();
    expect((await slapd.search(slapd.peopleDn, '(uid=user1)', ['uid'])).includes('uid: user1')).toBe(true);
  });
});

describe('slapd with a cached seed', () => {
  let cacheDir: string;
  const servers: SlapdServer[] = [];
  const people = 'ou=people,dc=example,dc=com';
  let reads = 0;
  const seed = (key: string, count: number) => ({
    key,
    entries: count,
    cacheDir,
    ldif: function* () {
      reads++;
      for (let start = 0; start < count; start += 100) yield usersLdif(people, Math.min(100, count - start), { start });
    },
  });
  const start = async (options: Parameters<typeof startSlapd>[0]) => {
    const server = await startSlapd(options);
    servers.push(server);
    return server;
  };
  const uids = async (server: SlapdServer) =>
    (await server.search(people, '(objectClass=inetOrgPerson)', ['uid'])).match(/^uid: /gm)?.length ?? 0;
  beforeAll(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-slapd-cache-test-'));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.dispose()));
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('loads the seed once, then copies the cached database, each server with its own copy', async () => {
    const first = await start({ cachedSeed: seed('users-250', 250) });
    expect(first.seededFromCache).toBe(false);
    expect(await uids(first)).toBe(250);
    await first.delete([`uid=user0,${people}`]);

    const second = await start({ cachedSeed: seed('users-250', 250), seedLdif: usersLdif(people, 1, { prefix: 'extra' }) });
    expect(second.seededFromCache).toBe(true);
    expect(reads).toBe(1);
    // The first server's delete is not in the cache; seedLdif is loaded on top of the copy.
    expect(await uids(second)).toBe(251);
    expect(await uids(first)).toBe(249);
    expect((await fs.readdir(cacheDir)).filter((f) => f.endsWith('.mdb'))).toHaveLength(1);
  });

  it('loads again for another key or other database settings (an accesslog), not from the cache', async () => {
    const other = await start({ cachedSeed: seed('users-120', 120) });
    expect(other.seededFromCache).toBe(false);
    expect(await uids(other)).toBe(120);
    const logged = await start({ cachedSeed: seed('users-250', 250), accesslog: true });
    expect(logged.seededFromCache).toBe(false);
    expect(await uids(logged)).toBe(250);
    expect((await fs.readdir(cacheDir)).filter((f) => f.endsWith('.mdb'))).toHaveLength(3);
  });

  it('refuses a seed that does not fit on the disk, before writing anything', async () => {
    const before = reads;
    await expect(startSlapd({ cachedSeed: seed('users-huge', 1e15) })).rejects.toThrow(/not enough free disk/);
    expect(reads).toBe(before);
    expect((await fs.readdir(cacheDir)).some((f) => f.includes('partial'))).toBe(false);
  });
});

describe('slapd with noSync', () => {
  let slapd: SlapdServer;
  afterAll(() => slapd.dispose());

  it('keeps writes over a kill (they are only not flushed per transaction), accesslog included', async () => {
    slapd = await startSlapd({ seedLdif: usersLdif('ou=people,dc=example,dc=com', 3), accesslog: true, noSync: true });
    await slapd.modify('dn: uid=user1,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: title\ntitle: Unflushed\n');
    await slapd.kill();
    await slapd.start();
    expect(await slapd.search(slapd.peopleDn, '(uid=user1)', ['title'])).toContain('title: Unflushed');
    const log = await slapd.search(slapd.accesslogBase, '(reqType=modify)', ['reqDN']);
    expect(log).toContain('reqDN: uid=user1,ou=people,dc=example,dc=com');
  });

  it('logs every write past the 10 MB that mdb maps by default for the accesslog database', async () => {
    // 2,500 modifies of 5 KB each: about 13 MB of log, which a 10 MB database cannot hold.
    const value = 'x'.repeat(5000);
    const mods = Array.from(
      { length: 2500 },
      (_, i) =>
        `dn: uid=user${i % 3},ou=people,dc=example,dc=com\nchangetype: modify\nreplace: description\ndescription: ${value}${i}\n`,
    );
    await slapd.modify(mods.join('\n'));
    const log = await slapd.search(slapd.accesslogBase, '(&(reqType=modify)(reqResult=0))', ['1.1']);
    expect(log.match(/^dn: /gm)).toHaveLength(2501);
  });
});

describe('redis-server', () => {
  let redis: RedisServer;
  afterAll(() => redis.dispose());

  it('keeps data across a kill when persistent', async () => {
    redis = await startRedis({ persistent: true });
    expect(await redis.command('SET', 'k', 'v')).toMatch(/^\+OK/);
    await redis.kill();
    await redis.start();
    expect(await redis.command('GET', 'k')).toContain('v');
  });
});

describe('smtp sink', () => {
  let smtp: SmtpSink;
  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterAll(() => smtp.dispose());

  it('receives and parses mail, and refuses connections while stopped', async () => {
    const transport = nodemailer.createTransport({ url: smtp.url } as never);
    await transport.sendMail({ from: 'a@example.com', to: 'ops@example.com', subject: 'Hello', text: 'Body 612' });
    const [mail] = await smtp.waitForMessages(1);
    expect(mail).toMatchObject({ to: ['ops@example.com'], subject: 'Hello' });
    expect(mail!.text).toContain('612');
    await smtp.stop();
    await expect(transport.sendMail({ from: 'a@example.com', to: 'x@example.com', subject: 'x', text: 'x' })).rejects.toThrow();
    await smtp.start();
    await transport.sendMail({ from: 'a@example.com', to: 'x@example.com', subject: 'again', text: 'x' });
    await smtp.waitForMessages(2);
  });
});

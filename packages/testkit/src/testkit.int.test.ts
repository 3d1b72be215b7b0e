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

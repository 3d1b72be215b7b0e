import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { adGroupLdif, adOusLdif, adUserDns, adUsersLdif, startSambaDc, type SambaDc } from './index';

const run = promisify(execFile);
const OU = 'OU=kit,DC=corp,DC=example';

// Provisioning a domain (the first time, before the cache has it) takes a few seconds.
jest.setTimeout(60_000);

/** ldapsearch as `bindDn`, trusting the domain's CA; resolves with stdout or rejects with the tool's error. */
async function ldapsearch(dc: SambaDc, url: string, bindDn: string, password: string, base: string, ...rest: string[]) {
  const { stdout } = await run(
    'ldapsearch',
    ['-x', '-H', url, '-D', bindDn, '-w', password, '-LLL', '-o', 'ldif-wrap=no', '-b', base, ...rest],
    {
      env: { ...process.env, LDAPTLS_CACERT: dc.caFile },
    },
  );
  return stdout;
}

describe('Samba AD DC', () => {
  let cacheDir: string;
  let dc: SambaDc;
  const seed =
    adOusLdif(OU) +
    adUsersLdif(OU, 30) +
    adGroupLdif(OU, 'inner', adUserDns(OU, 3)) +
    adGroupLdif(OU, 'outer', [`CN=inner,${OU}`, ...adUserDns(OU, 2, { start: 10 })]);

  beforeAll(async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-samba-cache-test-'));
    dc = await startSambaDc({ seedLdif: seed, cacheDir });
    // A fresh cache: this provisions a domain from scratch, which takes a minute or more on a
    // loaded 2-core machine.
  }, 300_000);
  afterAll(async () => {
    await dc?.dispose();
    await fs.rm(cacheDir, { recursive: true, force: true });
  });

  it('serves the seeded domain over LDAPS to the service account, and StartTLS on 389', async () => {
    const users = await ldapsearch(
      dc,
      dc.url,
      dc.serviceDn,
      dc.servicePassword,
      OU,
      '(&(objectCategory=person)(objectClass=user))',
      'sAMAccountName',
    );
    expect(users.match(/^sAMAccountName: /gm)).toHaveLength(30);
    const outer = await ldapsearch(
      dc,
      dc.startTlsUrl,
      dc.serviceDn,
      dc.servicePassword,
      `CN=outer,${OU}`,
      '-ZZ',
      '-s',
      'base',
      '(objectClass=*)',
      'member',
    );
    expect(outer.match(/^member: /gm)).toHaveLength(3);
    // Nested: the matching-rule-in-chain of AD finds the inner group's members in outer.
    const nested = await ldapsearch(
      dc,
      dc.url,
      dc.serviceDn,
      dc.servicePassword,
      OU,
      `(memberOf:1.2.840.113556.1.4.1941:=CN=outer,${OU})`,
      'cn',
    );
    expect(nested.match(/^cn: /gm)).toHaveLength(6);
  });

  it('refuses a wrong password and a simple bind without TLS', async () => {
    await expect(ldapsearch(dc, dc.url, dc.serviceDn, 'wrong', '', '-s', 'base')).rejects.toThrow(/Invalid credentials \(49\)/);
    await expect(ldapsearch(dc, dc.startTlsUrl, dc.serviceDn, dc.servicePassword, '', '-s', 'base')).rejects.toThrow(
      /Strong\(er\) authentication required/,
    );
  });

  it('changes over LDAP, reads objectGUIDs, and survives kill and start', async () => {
    await dc.add(adUsersLdif(OU, 1, { prefix: 'late' }));
    await dc.setDisabled([`CN=late0,${OU}`], true);
    expect(await dc.search(`CN=late0,${OU}`, '(objectClass=*)', ['userAccountControl'])).toContain('userAccountControl: 546');
    expect(await dc.objectGuid(`CN=late0,${OU}`)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await dc.kill();
    expect(dc.running).toBe(false);
    await dc.start();
    expect(await dc.search(OU, '(sAMAccountName=late0)', ['cn'])).toContain('cn: late0');
  });

  it('caches the provisioned and the seeded domain: a second domain with the same seed is restored whole, on another address', async () => {
    const tarballs = (await fs.readdir(cacheDir)).filter((f) => f.endsWith('.tar'));
    expect(tarballs).toHaveLength(2);
    expect(dc.restoredFrom).toBeNull();
    const second = await startSambaDc({ seedLdif: seed, cacheDir });
    try {
      // Restored from the seeded tarball: neither provisioned nor seeded again.
      expect(second.restoredFrom).toBe('seeded');
      expect((await fs.readdir(cacheDir)).filter((f) => f.endsWith('.tar'))).toEqual(tarballs);
      expect(second.address).not.toBe(dc.address);
      const users = await ldapsearch(
        second,
        second.url,
        second.serviceDn,
        second.servicePassword,
        OU,
        '(objectClass=user)',
        'cn',
      );
      expect(users.match(/^cn: /gm)).toHaveLength(30);
      // The same cached domain: the same objects, with the same ids.
      expect(await second.objectGuid(`CN=user1,${OU}`)).toBe(await dc.objectGuid(`CN=user1,${OU}`));
    } finally {
      await second.dispose();
    }
  });
});

describe('Samba AD DC seeded in bulk', () => {
  const BULK = 'OU=bulk,DC=corp,DC=example';
  const COUNT = 2100;
  let dc: SambaDc;

  // The first run loads 2,100 users (cached after: later runs restore the seeded domain).
  beforeAll(async () => {
    dc = await startSambaDc({ seedLdif: adOusLdif(BULK) + adUsersLdif(BULK, COUNT, { prefix: 'bulk' }) });
  }, 600_000);
  afterAll(() => dc?.dispose());

  it('finds every user by the values the load left unindexed and by one-level search, and keeps the index list', async () => {
    const count = async (filter: string, ...rest: string[]) =>
      (await ldapsearch(dc, dc.url, dc.adminDn, dc.adminPassword, BULK, ...rest, '-E', 'pr=1000/noprompt', filter, 'cn')).match(
        /^cn: /gm,
      )?.length ?? 0;
    expect(await count('(&(objectCategory=person)(objectClass=user))')).toBe(COUNT);
    expect(await count('(&(userAccountControl=544)(primaryGroupID=513)(sAMAccountType=805306368))')).toBe(COUNT);
    expect(await count('(objectClass=user)', '-s', 'one')).toBe(COUNT);
    const { stdout } = await run('ldbsearch', [
      '-H',
      path.join(dc.dir, 'private', 'sam.ldb.d', 'DC=CORP,DC=EXAMPLE.ldb'),
      '-b',
      '@INDEXLIST',
      '-s',
      'base',
    ]);
    for (const line of ['@IDXONE: 1', '@IDXATTR: objectClass', '@IDXATTR: objectCategory', '@IDXATTR: userAccountControl'])
      expect(stdout.split('\n')).toContain(line);
  });
});

import fs from 'node:fs';
import { ObjectType } from '@syncguard/protocol';
import { adGroupLdif, adOusLdif, adUserDns, adUsersLdif, startSambaDc, type SambaDc } from '@syncguard/testkit';
import { mapEntry } from './entry-mapper';
import { LdapSource, type LdapSourceOptions } from './ldap-source';
import { completeRanges, hasRanges } from './ranged';

/* The agent's LDAP layer against a real Active Directory (Samba AD DC), as its service account over LDAPS. */

jest.setTimeout(60_000);

const OU = 'OU=ranged,DC=corp,DC=example';
let dc: SambaDc;
let source: LdapSource;

beforeAll(async () => {
  dc = await startSambaDc({ seedLdif: adOusLdif(OU) + adUsersLdif(OU, 45) + adGroupLdif(OU, 'big', adUserDns(OU, 45)) });
  source = await LdapSource.connect(options());
});

/** The service account over LDAPS, trusting the domain's CA. */
function options(): LdapSourceOptions {
  return {
    url: dc.url,
    bindDn: dc.serviceDn,
    bindPassword: dc.servicePassword,
    ca: fs.readFileSync(dc.caFile),
    startTls: false,
    pageSize: 10,
    operationTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
  };
}

afterAll(async () => {
  await source?.close();
  await dc?.dispose();
});

it('detects Active Directory from the root DSE and reads highestCommittedUSN', async () => {
  expect(source.flavor).toBe('ad');
  expect(Number(await source.highestCommittedUsn())).toBeGreaterThan(0);
});

it('takes the kind of directory from LDAP_DIRECTORY when it is not auto', async () => {
  const told = await LdapSource.connect({ ...options(), directory: 'openldap' });
  try {
    expect(told.flavor).toBe('openldap');
  } finally {
    await told.close();
  }
});

it('maps objectGUID to the string form Samba itself shows', async () => {
  const entry = await source.readEntry(`CN=user7,${OU}`, '(objectClass=*)', ['*', 'objectGUID']);
  const object = mapEntry(entry!, { flavor: 'ad', objectTypes: [ObjectType.OBJECT_TYPE_USER], disabledAttribute: '' });
  expect(object?.id).toBe(await dc.objectGuid(`CN=user7,${OU}`));
  expect(object?.disabled).toBe(false);
});

it("completes a member list given in ranges from the server's own answers to member;range=<n>-*", async () => {
  // Samba sends every value unless asked for a range (Windows ranges at 1,500): ask for the first 10.
  const entry = (await source.readEntry(`CN=big,${OU}`, '(objectClass=*)', ['member;range=0-9']))!;
  expect(hasRanges(entry)).toBe(true);
  const asked: string[] = [];
  await completeRanges(entry, (dn, attribute) => {
    asked.push(attribute);
    return source.readEntry(dn, '(objectClass=*)', [attribute]);
  });
  expect(asked).toEqual(['member;range=10-*']);
  expect([...(entry['member'] as string[])].sort()).toEqual(adUserDns(OU, 45).sort());
});

it('pages a search (10 a page) through the whole OU', async () => {
  let entries = 0;
  for await (const page of source.pagesOf({
    base: OU,
    filter: '(&(objectCategory=person)(objectClass=user))',
    attributes: ['objectGUID'],
  })) {
    entries += page.length;
  }
  expect(entries).toBe(45);
  expect(source.pages).toBeGreaterThanOrEqual(5);
});

/**
 * Password-equivalent attributes never leave the agent: real slapd (with the Samba,
 * Kerberos, ppolicy and LAPS attributes declared), the agent and controller programs and
 * Redis. What the cloud directory serves to readers is checked through the objects API.
 */
import { startSystem, type TestSystem } from '../harness';

const PEOPLE = 'ou=people,dc=example,dc=com';

/** The secret attributes as user attributes of an auxiliary class (OIDs under a private test arc). */
const SCHEMA = [
  ['sambaNTPassword', '1.3.6.1.4.1.1466.115.121.1.26'],
  ['sambaLMPassword', '1.3.6.1.4.1.1466.115.121.1.26'],
  ['krbPrincipalKey', '1.3.6.1.4.1.1466.115.121.1.26'],
  ['pwdHistory', '1.3.6.1.4.1.1466.115.121.1.26'],
  ['ms-Mcs-AdmPwd', '1.3.6.1.4.1.1466.115.121.1.26'],
  ['msLAPS-Password', '1.3.6.1.4.1.1466.115.121.1.26'],
]
  .map(
    ([name, syntax], i) =>
      `attributetype ( 1.3.6.1.4.1.99999.77.1.${i + 1} NAME '${name}' EQUALITY caseExactIA5Match SYNTAX ${syntax} )`,
  )
  .concat([
    "objectclass ( 1.3.6.1.4.1.99999.77.2.1 NAME 'syncguardTestSecrets' AUXILIARY MAY ( sambaNTPassword $ sambaLMPassword $ krbPrincipalKey $ pwdHistory $ ms-Mcs-AdmPwd $ msLAPS-Password ) )",
  ])
  .join('\n');

const SECRETS = [
  'userPassword',
  'sambaNTPassword',
  'sambaLMPassword',
  'krbPrincipalKey',
  'pwdHistory',
  'ms-Mcs-AdmPwd',
  'msLAPS-Password',
];

function seed(): string {
  return [1, 2]
    .map(
      (n) => `dn: uid=user${n},${PEOPLE}
objectClass: inetOrgPerson
objectClass: syncguardTestSecrets
uid: user${n}
cn: User ${n}
sn: ${n}
mail: user${n}@example.com
description: keeps a secret
userPassword: {SSHA}not-for-the-cloud
sambaNTPassword: 8846F7EAEE8FB117AD06BDD830B7586C
sambaLMPassword: E52CAC67419A9A224A3B108F3FA6CB6D
krbPrincipalKey: MIIBmKADAgEBoQMCAQGiggGKMIIBhjCCAYKgGzAZoAMCARKhEgQQ
pwdHistory: 20260101000000Z#1.3.6.1.4.1.1466.115.121.1.40#40#{SSHA}old
ms-Mcs-AdmPwd: Local-Admin-Pa55
msLAPS-Password: {"n":"Administrator","p":"Pa55"}
`,
    )
    .join('\n');
}

async function syncedUsers(system: TestSystem): Promise<Record<string, string[]>[]> {
  const agentId = await system.addAgent('dc1');
  const { id } = await system.createConfiguration({
    name: 'secrets',
    agentIds: [agentId],
    source: { baseDn: PEOPLE, objectTypes: ['user'] },
    syncIntervalSeconds: 3600,
  });
  expect((await system.firstCycle(id)).state).toBe('healthy');
  const users = await system.objects(id, 'user');
  expect(users).toHaveLength(2);
  return users.map((u) => u.attributes);
}

const lower = (attributes: Record<string, string[]>) => Object.keys(attributes).map((k) => k.toLowerCase());

describe('password-equivalent attributes', () => {
  let system: TestSystem | undefined;
  afterEach(async () => {
    await system?.dispose();
    system = undefined;
  });

  it('are not synced by default; the other attributes are', async () => {
    system = await startSystem({ slapd: { extraSchema: SCHEMA, seedLdif: seed() } });
    for (const attributes of await syncedUsers(system)) {
      expect(lower(attributes)).toEqual(expect.arrayContaining(['cn', 'mail', 'description', 'uid', 'objectclass']));
      for (const secret of SECRETS) expect(lower(attributes)).not.toContain(secret.toLowerCase());
    }
  });

  it('LDAP_ATTRIBUTES_ALLOW keeps only the listed attributes (never a secret one), LDAP_ATTRIBUTES_DENY drops more', async () => {
    system = await startSystem({
      slapd: { extraSchema: SCHEMA, seedLdif: seed() },
      agentEnv: {
        LDAP_ATTRIBUTES_ALLOW: 'uid, cn, mail, description, sambaNTPassword, userPassword',
        LDAP_ATTRIBUTES_DENY: 'description',
      },
    });
    for (const attributes of await syncedUsers(system)) expect(lower(attributes).sort()).toEqual(['cn', 'mail', 'uid']);
  });
});

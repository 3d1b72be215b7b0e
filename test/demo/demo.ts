/**
 * npm run demo                              start the whole product on this machine and keep it running
 * npm run demo -- --scenario mass-delete    walk through a mass delete, quarantine, email and allow-deletes
 *
 * Starts a private redis-server and slapd (a sample organisation of 2,000 users in four OUs
 * and 50 groups), an SMTP server that prints every email it receives, the controller and one
 * agent, all on loopback; creates a configuration with a delete threshold of 500.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { groupLdif, userDns, usersLdif, waitFor, type ReceivedMail } from '@syncguard/testkit';
import { CTL_MAIN, startSystem, type TestSystem } from '../harness';

const SUFFIX = 'dc=example,dc=com';
const OUS = ['engineering', 'sales', 'support', 'finance'];
const PER_OU = 500;
const THRESHOLD = 500;

function checkPrerequisites(): void {
  const missing = ['redis-server', 'slapd', 'ldapadd'].filter((bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0);
  if (missing.length > 0) {
    console.error(
      `syncguard demo: missing ${missing.join(', ')}; install with: sudo apt-get install -y redis-server slapd ldap-utils`,
    );
    process.exit(1);
  }
}

function organisation(): string {
  let ldif = '';
  for (const ou of OUS) {
    const dn = `ou=${ou},ou=people,${SUFFIX}`;
    ldif += `dn: ${dn}\nobjectClass: organizationalUnit\nou: ${ou}\n\n` + usersLdif(dn, PER_OU, { prefix: `${ou}-` });
  }
  for (let g = 0; g < 50; g++) {
    const ou = OUS[g % OUS.length]!;
    const members = userDns(`ou=${ou},ou=people,${SUFFIX}`, 10, { prefix: `${ou}-`, start: (g * 10) % PER_OU });
    ldif += groupLdif(`ou=groups,${SUFFIX}`, `team-${g}`, members);
  }
  return ldif;
}

const step = (n: number, text: string) => console.log(`\n== ${n}. ${text}`);

function printMail(mail: ReceivedMail): void {
  console.log(`\n[smtp] email to ${mail.to.join(', ')}: ${mail.subject}`);
  for (const line of mail.text.split('\n').slice(0, 14)) console.log(`[smtp]   ${line}`);
}

function ctl(system: TestSystem, args: string[]): string {
  return execFileSync(process.execPath, [CTL_MAIN, ...args], {
    env: { ...process.env, SYNCGUARD_URL: system.url, SYNCGUARD_TOKEN: system.adminToken },
    encoding: 'utf8',
  });
}

async function main(): Promise<void> {
  const scenario = process.argv.includes('--scenario') ? process.argv[process.argv.indexOf('--scenario') + 1] : undefined;
  if (scenario !== undefined && scenario !== 'mass-delete') {
    console.error(`syncguard demo: unknown scenario ${JSON.stringify(scenario)} (known: mass-delete)`);
    process.exit(2);
  }
  checkPrerequisites();

  console.log('Starting redis-server, slapd (2,000 users, 50 groups), an SMTP server, the controller and one agent...');
  const system = await startSystem({ slapd: { seedLdif: organisation() } });
  system.smtp.onMessage = printMail;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await system.dispose();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const agentId = await system.addAgent('dc1.example.com');
    const config = await system.createConfiguration({
      name: 'example.com',
      agentIds: [agentId],
      source: { baseDn: SUFFIX, objectTypes: ['user', 'group'] },
      syncIntervalSeconds: 120,
      accidentalDeletes: { enabled: true, threshold: THRESHOLD },
      notificationEmail: 'ops@example.com',
    });
    const first = await system.firstCycle(config.id);
    const objects = await system.api.get<{ total: number }>(`/api/v1/configurations/${config.id}/objects?limit=1`);

    console.log(`
syncguard is running.
  API:        ${system.url}/api/v1   (OpenAPI: ${system.url}/api/v1/openapi.json)
  Portal:     ${system.url}/
  Dashboard:  ${system.url}/admin/queues
  Metrics:    ${system.url}/metrics
  Admin token: ${system.adminToken}
  LDAP:       ${system.slapd.url}  (bind ${system.slapd.rootDn} / ${system.slapd.rootPassword})
  SMTP:       ${system.smtp.url}  (emails are printed here)

Configuration ${config.id} (example.com): first cycle ${first.lastCycle?.state}, ${objects.total} objects in the cloud directory.

Try:
  export SYNCGUARD_URL=${system.url} SYNCGUARD_TOKEN=${system.adminToken}
  node ${CTL_MAIN} status example.com
  node ${CTL_MAIN} logs example.com --action StagedDelete
  curl -s -H "Authorization: Bearer $SYNCGUARD_TOKEN" $SYNCGUARD_URL/api/v1/configurations/${config.id}/status
  ldapdelete -x -H ${system.slapd.url} -D ${system.slapd.rootDn} -w ${system.slapd.rootPassword} -r ou=sales,ou=people,${SUFFIX}
`);

    if (scenario === 'mass-delete') {
      await massDelete(system, config.id);
      console.log('\nmass-delete scenario: everything happened as described.');
      await stop(0);
      return;
    }
    console.log('Press Ctrl-C to stop.');
    await new Promise(() => undefined);
  } catch (error) {
    console.error(`\nsyncguard demo failed: ${error instanceof Error ? error.message : String(error)}`);
    await stop(1);
  }
}

async function massDelete(system: TestSystem, id: string): Promise<void> {
  const expectEq = (what: string, actual: unknown, expected: unknown) => {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
    }
    console.log(`   ok: ${what} = ${JSON.stringify(actual)}`);
  };
  const total = async () => (await system.api.get<{ total: number }>(`/api/v1/configurations/${id}/objects?limit=1`)).total;
  const before = await total();

  step(1, 'An admin deletes 600 users at the source (all of ou=sales and 100 of ou=support)');
  await system.slapd.delete([
    ...userDns(`ou=sales,ou=people,${SUFFIX}`, PER_OU, { prefix: 'sales-' }),
    ...userDns(`ou=support,ou=people,${SUFFIX}`, 100, { prefix: 'support-' }),
  ]);

  step(2, 'The next sync cycle would delete 600 objects: >= threshold 500, so it is quarantined');
  const q = await system.syncNow(id, 'quarantined');
  expectEq('state', q.state, 'quarantined');
  expectEq('quarantine.reason', q.quarantine?.reason, 'TooManyDeletes');
  expectEq('quarantine.deleteCount', q.quarantine?.deleteCount, 600);
  expectEq('objects in the cloud directory (nothing applied)', await total(), before);

  step(3, 'One email went to ops@example.com');
  const [mail] = await system.smtp.waitForMessages(1, { filter: (m) => m.to.includes('ops@example.com') });
  expectEq('subject says', mail!.subject.includes('Delete threshold exceeded'), true);

  step(4, 'The provisioning log holds the 600 StagedDelete entries');
  const staged = await system.logs(id, { action: 'StagedDelete' });
  expectEq('StagedDelete entries', staged.length, 600);
  for (const entry of staged.slice(0, 3)) console.log(`   ${entry.action} ${entry.status} ${entry.objectType} ${entry.dn}`);
  console.log(ctl(system, ['status', id]).replace(/^/gm, '   '));

  step(5, 'The admin reviews them and allows the deletes: syncguardctl allow-deletes example.com --yes');
  console.log(ctl(system, ['allow-deletes', id, '--yes']).replace(/^/gm, '   '));
  expectEq('objects in the cloud directory', await total(), before - 600);

  step(6, 'The status returns to healthy with the next cycle');
  const next = await system.syncNow(id);
  expectEq('state', next.state, 'healthy');
  expectEq('next cycle counts', next.lastCycle?.counts, { create: 0, update: 0, delete: 0, failed: 0 });
  const audit = await system.api.get<{ items: { action: string; actor: { name: string }; details: Record<string, unknown> }[] }>(
    '/api/v1/audit',
  );
  const entry = audit.items.find((a) => a.action === 'allow-deletes');
  expectEq('audit: allow-deletes by', entry?.actor.name, 'bootstrap-admin');
  // One email for the quarantine and one for its release, each once.
  const toOps = () => system.smtp.messages.filter((m) => m.to.includes('ops@example.com'));
  await waitFor(() => toOps().length >= 2, { message: 'the release email' });
  expectEq('quarantine emails', toOps().filter((m) => m.subject.includes('Delete threshold exceeded')).length, 1);
  expectEq('release emails', toOps().filter((m) => m.subject.includes('deletes released')).length, 1);
  expectEq('emails sent in all', toOps().length, 2);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});

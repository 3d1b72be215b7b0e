import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTestCertificates } from './certificates';
import { LdapTestServer, LdapTools } from './ldap-tools';
import { waitForPort } from './ports';
import { ManagedProcess } from './process';

const run = promisify(execFile);

export interface SambaDcOptions {
  /**
   * LDIF loaded with ldbadd (Samba stopped) before the first start. The domain with this
   * seed is cached too (keyed by its content), so that the next start with the same seed
   * restores it in a fraction of a second.
   */
  seedLdif?: string;
  /** The loopback address to serve on. Default: the first of 127.0.0.2 .. 127.0.0.254 that no test holds. */
  address?: string;
  /** Folder of cached provisioned domains. Default `SYNCGUARD_SAMBA_CACHE` or `<tmp>/syncguard-samba-cache`. */
  cacheDir?: string;
}

/** Bump when the provisioning recipe below changes: cached domains made by another recipe are not used. */
const RECIPE = 3;
const REALM = 'corp.example';
const DOMAIN = 'CORP';
const BASE_DN = 'DC=corp,DC=example';
const ADMIN_PASSWORD = 'Adm1n-Passw0rd!';
const SERVICE_PASSWORD = 'Svc-Passw0rd-1!';

/** Entries per ldbadd run (see {@link SambaDc.ldbadd}). */
const LDBADD_CHUNK = 1000;
/** From this many entries, {@link SambaDc.ldbadd} loads without the indexes of values every user shares. */
const BULK_RECORDS = 2000;
/** Indexed attributes whose one value every seeded user shares (see {@link SambaDc.ldbadd}). */
const SHARED_INDEXES = ['objectClass', 'objectCategory', 'userAccountControl', 'primaryGroupID', 'sAMAccountType'];

/**
 * A throwaway Active Directory domain: Debian's Samba AD DC (`samba`, `samba-ad-dc`,
 * `samba-ad-provision`, `python3-samba`, `winbind`, `ldb-tools`), realm `corp.example`,
 * serving only LDAP (`server services = ldap`) on a loopback address of its own, since
 * Samba's ports are fixed (389 for LDAP with StartTLS, 636 for LDAPS). Its TLS certificate
 * is made by a private CA for that address ({@link SambaDc.caFile}); simple binds need TLS.
 *
 * The provisioned domain (about 4 s of `samba-tool domain provision`) is kept as a tarball
 * in a cache folder keyed by the Samba version, so a test file starts a domain in about a
 * second. It holds a service account for the agent, {@link SambaDc.serviceDn}, an ordinary
 * domain user with no extra rights. Binding the fixed ports needs root (or
 * CAP_NET_BIND_SERVICE).
 */
export class SambaDc extends LdapTestServer {
  readonly realm = REALM;
  readonly baseDn = BASE_DN;
  readonly adminDn = `CN=Administrator,CN=Users,${BASE_DN}`;
  readonly adminPassword = ADMIN_PASSWORD;
  /** The agent's service account: an ordinary user in OU=Service. */
  readonly serviceDn = `CN=svc-syncguard,OU=Service,${BASE_DN}`;
  readonly servicePassword = SERVICE_PASSWORD;
  private process?: ManagedProcess;
  protected readonly tools: LdapTools;

  private constructor(
    readonly dir: string,
    readonly address: string,
    private readonly releaseAddress: () => Promise<void>,
  ) {
    super();
    this.tools = new LdapTools({
      url: this.url,
      bindDn: this.adminDn,
      bindPassword: ADMIN_PASSWORD,
      workDir: dir,
      caFile: this.caFile,
    });
  }

  /** `ldaps://<address>` (port 636). */
  get url(): string {
    return `ldaps://${this.address}`;
  }

  /** `ldap://<address>` (port 389): StartTLS before a simple bind. */
  get startTlsUrl(): string {
    return `ldap://${this.address}`;
  }

  /** The private CA that signed the server's certificate (PEM). */
  get caFile(): string {
    return path.join(this.dir, 'private', 'tls', 'ca.pem');
  }

  get confPath(): string {
    return path.join(this.dir, 'etc', 'smb.conf');
  }

  get samLdb(): string {
    return path.join(this.dir, 'private', 'sam.ldb');
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /**
   * What {@link SambaDc.start} restored from the cache: `seeded` (the provisioned domain with
   * this seed, nothing run but Samba itself), `provisioned` (the domain, then the seed loaded),
   * or null (provisioned from scratch).
   */
  restoredFrom: 'seeded' | 'provisioned' | null = null;

  /** Samba's own output so far (for failure messages). */
  get log(): string {
    return this.process?.log ?? '';
  }

  static async start(options: SambaDcOptions = {}): Promise<SambaDc> {
    if (process.getuid?.() !== 0) {
      throw new Error('SambaDc needs root: Samba binds the fixed LDAP ports 389 and 636');
    }
    const cacheDir = options.cacheDir ?? process.env['SYNCGUARD_SAMBA_CACHE'] ?? path.join(os.tmpdir(), 'syncguard-samba-cache');
    await fs.mkdir(cacheDir, { recursive: true });
    const { address, release } = await claimAddress(options.address);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-samba-'));
    const dc = new SambaDc(dir, address, release);
    try {
      const version = (await run('samba', ['-V'])).stdout.trim();
      const baseKey = sha256(`${version}\n${RECIPE}`).slice(0, 16);
      const seed = options.seedLdif ?? '';
      const seededTar = path.join(cacheDir, `${baseKey}-${sha256(seed).slice(0, 16)}.tar`);
      if (await restore(seededTar, dir)) {
        dc.restoredFrom = 'seeded';
      } else {
        const baseTar = path.join(cacheDir, `${baseKey}.tar`);
        if (await restore(baseTar, dir)) {
          dc.restoredFrom = 'provisioned';
        } else {
          await provision(dir);
          await save(dir, baseTar);
        }
        if (seed) await dc.ldbadd(seed);
        await save(dir, seededTar);
      }
      await dc.configure();
      await dc.start();
      return dc;
    } catch (error) {
      await dc.dispose();
      throw error;
    }
  }

  /** Starts Samba (again) on the same address and data, in the foreground; resolves once LDAPS answers. */
  async start(): Promise<void> {
    if (this.running) return;
    // -i: foreground, logs to stdout, stops when its stdin closes (so it cannot outlive the test process).
    this.process = new ManagedProcess('samba', ['-i', '-M', 'single', '--no-process-group', '-s', this.confPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    try {
      await waitForPort(636, 30_000, this.address);
      await waitForPort(389, 5_000, this.address);
    } catch (error) {
      throw new Error(`samba did not start: ${(error as Error).message}\n${this.process.log}`);
    }
  }

  /** Stops Samba gracefully (SIGTERM). */
  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM', 10_000);
  }

  /** Kills Samba at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.process?.stop('SIGKILL');
  }

  /**
   * Loads LDIF straight into sam.ldb with ldbadd (much faster than LDAP adds for thousands
   * of entries). Stops Samba first if it runs, and starts it again after. Changes over LDAP
   * ({@link SambaDc.add} and the others) run as the domain administrator over LDAPS; a
   * deleted entry becomes a tombstone, as in AD.
   *
   * Why it is not simply one ldbadd: every add runs in an index sub-transaction of its own,
   * which copies each index list it extends, so an attribute value that every user shares
   * (objectClass `user`, objectCategory, userAccountControl 544, primaryGroupID 513,
   * sAMAccountType) costs each add time proportional to the users already there: 20,000 users
   * took over 7 minutes of CPU that way (13 ms a user at 5,000, and growing); so does the
   * one-level index of the OU that holds them. For {@link BULK_RECORDS} entries or more those
   * attributes and the one-level index leave the domain partition's `@INDEXLIST` during the
   * load (at 5,000 users: 5.8 ms a user without the shared values, 4.5 ms without the
   * one-level index too) and come back after it with one re-index through Samba's own schema
   * (`samba-tool dbcheck --reindex`: the raw partition does not know how Samba indexes
   * DN-valued attributes such as objectCategory).
   */
  async ldbadd(ldif: string): Promise<void> {
    const records = ldif.split(/\n\s*\n/).filter((r) => r.trim() !== '');
    const wasRunning = this.running;
    if (wasRunning) await this.stop();
    const bulk = records.length >= BULK_RECORDS;
    const indexList = bulk ? await this.dropBulkIndexes() : undefined;
    try {
      for (let i = 0; i < records.length; i += LDBADD_CHUNK) {
        const chunk = `${records.slice(i, i + LDBADD_CHUNK).join('\n\n')}\n\n`;
        await this.loadOffline(chunk, 'ldbadd', (file) => ['--nosync', '-H', this.samLdb, file]);
      }
    } finally {
      if (indexList) await this.restoreIndexes(indexList);
    }
    if (wasRunning) await this.start();
  }

  /** The domain partition's own ldb file (no Samba modules: its `@` records as they are). */
  private get domainPartition(): string {
    return path.join(this.dir, 'private', 'sam.ldb.d', `${BASE_DN.toUpperCase()}.ldb`);
  }

  /**
   * Removes {@link SHARED_INDEXES} and the one-level index (`@IDXONE`) from the domain
   * partition's @INDEXLIST; returns the record's `@IDXATTR` and `@IDXONE` values as they were.
   */
  private async dropBulkIndexes(): Promise<{ attributes: string[]; oneLevel: string[] }> {
    const { stdout } = await run('ldbsearch', ['-H', this.domainPartition, '-b', '@INDEXLIST', '-s', 'base'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const attributes = [...stdout.matchAll(/^@IDXATTR: (.+)$/gm)].map((m) => m[1]!);
    const oneLevel = [...stdout.matchAll(/^@IDXONE: (.+)$/gm)].map((m) => m[1]!);
    const present = SHARED_INDEXES.filter((a) => attributes.includes(a));
    const changes = ['dn: @INDEXLIST', 'changetype: modify'];
    if (present.length > 0) changes.push('delete: @IDXATTR', ...present.map((a) => `@IDXATTR: ${a}`), '-');
    if (oneLevel.length > 0) changes.push('delete: @IDXONE', '-');
    if (changes.length > 2) await this.modifyPartition(`${changes.join('\n')}\n`);
    return { attributes, oneLevel };
  }

  /** Puts @INDEXLIST back as it was (same values, same order) and re-indexes the domain through Samba's schema. */
  private async restoreIndexes(list: { attributes: string[]; oneLevel: string[] }): Promise<void> {
    const changes = [
      'dn: @INDEXLIST',
      'changetype: modify',
      'replace: @IDXATTR',
      ...list.attributes.map((a) => `@IDXATTR: ${a}`),
      '-',
    ];
    if (list.oneLevel.length > 0) changes.push('replace: @IDXONE', ...list.oneLevel.map((v) => `@IDXONE: ${v}`), '-');
    await this.modifyPartition(`${changes.join('\n')}\n`);
    try {
      await run('samba-tool', ['dbcheck', '--reindex', '-H', this.samLdb], { maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      throw new Error(`samba-tool dbcheck --reindex failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
    }
  }

  private async modifyPartition(ldif: string): Promise<void> {
    const file = path.join(this.dir, `indexlist-${Date.now()}.ldif`);
    await fs.writeFile(file, ldif);
    try {
      await run('ldbmodify', ['-H', this.domainPartition, file]);
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      throw new Error(`ldbmodify of @INDEXLIST failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  /** Sets or clears ACCOUNTDISABLE (userAccountControl bit 2) of users made by {@link adUsersLdif}. */
  async setDisabled(dns: readonly string[], disabled: boolean): Promise<void> {
    const uac = disabled ? UAC_DISABLED : UAC_ENABLED;
    await this.modify(
      dns.map((dn) => `dn: ${dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: ${uac}\n`).join('\n'),
    );
  }

  /** An object's objectGUID in Samba's own string form (read with ldbsearch, not through LDAP). */
  async objectGuid(dn: string): Promise<string> {
    const { stdout } = await run('ldbsearch', ['-H', this.samLdb, '-b', dn, '-s', 'base', 'objectGUID']);
    const match = /^objectGUID: ([0-9a-f-]{36})$/m.exec(stdout);
    if (!match) throw new Error(`no objectGUID for ${dn}: ${stdout}`);
    return match[1]!;
  }

  /** Stops Samba, removes its folder and frees its address. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.process?.stop('SIGKILL', 1000);
    await fs.rm(this.dir, { recursive: true, force: true });
    await this.releaseAddress();
  }

  /** Writes smb.conf for this folder and address, and a CA and certificate for the address. */
  private async configure(): Promise<void> {
    const d = this.dir;
    for (const sub of ['etc', 'run', 'cache', 'log', 'private/tls']) await fs.mkdir(path.join(d, sub), { recursive: true });
    await fs.writeFile(
      this.confPath,
      [
        '[global]',
        '  netbios name = SGDC',
        `  realm = ${REALM.toUpperCase()}`,
        `  workgroup = ${DOMAIN}`,
        '  server role = active directory domain controller',
        // LDAP only: no smbd, KDC, DNS, RPC or NTP signing.
        '  server services = ldap',
        // An address with a prefix: without one Samba listens nowhere.
        `  interfaces = ${this.address}/8`,
        '  bind interfaces only = yes',
        `  private dir = ${d}/private`,
        `  state directory = ${d}/state`,
        `  cache directory = ${d}/cache`,
        `  lock directory = ${d}`,
        `  pid directory = ${d}/run`,
        `  binddns dir = ${d}/bind-dns`,
        `  ntp signd socket directory = ${d}/run/ntp_signd`,
        `  winbindd socket directory = ${d}/run/winbindd`,
        `  log file = ${d}/log/samba.log`,
        '  logging = file',
        '  tls enabled = yes',
        '',
      ].join('\n'),
    );
    const certs = makeTestCertificates('samba-client', this.address);
    try {
      const tls = path.join(d, 'private', 'tls');
      await fs.copyFile(certs.caFile, path.join(tls, 'ca.pem'));
      await fs.copyFile(certs.serverCertFile, path.join(tls, 'cert.pem'));
      await fs.copyFile(certs.serverKeyFile, path.join(tls, 'key.pem'));
      // Samba refuses a key file that others can read.
      await fs.chmod(path.join(tls, 'key.pem'), 0o600);
    } finally {
      certs.dispose();
    }
  }
}

/** Starts a throwaway Samba AD DC; see {@link SambaDcOptions}. */
export function startSambaDc(options?: SambaDcOptions): Promise<SambaDc> {
  return SambaDc.start(options);
}

/** userAccountControl of an enabled account without a password (NORMAL_ACCOUNT | PASSWD_NOTREQD). */
const UAC_ENABLED = 0x220;
/** The same, disabled (| ACCOUNTDISABLE). */
const UAC_DISABLED = UAC_ENABLED | 0x2;

async function provision(dir: string): Promise<void> {
  const args = [
    'domain',
    'provision',
    `--targetdir=${dir}`,
    '--server-role=dc',
    '--dns-backend=NONE',
    `--realm=${REALM.toUpperCase()}`,
    `--domain=${DOMAIN}`,
    '--host-name=sgdc',
    `--adminpass=${ADMIN_PASSWORD}`,
    '--option=server services = ldap',
    `--option=pid directory = ${dir}/run`,
  ];
  try {
    await run('samba-tool', args, { maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string };
    throw new Error(`samba-tool domain provision failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
  }
  const password = Buffer.from(`"${SERVICE_PASSWORD}"`, 'utf16le').toString('base64');
  const ldif = [
    `dn: OU=Service,${BASE_DN}`,
    'objectClass: organizationalUnit',
    '',
    `dn: CN=svc-syncguard,OU=Service,${BASE_DN}`,
    'objectClass: user',
    'sAMAccountName: svc-syncguard',
    `userPrincipalName: svc-syncguard@${REALM}`,
    // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
    'userAccountControl: 66048',
    `unicodePwd:: ${password}`,
    '',
  ].join('\n');
  const file = path.join(dir, 'service.ldif');
  await fs.writeFile(file, ldif);
  await run('ldbadd', ['-H', path.join(dir, 'private', 'sam.ldb'), file]);
  await fs.rm(file);
}

async function save(dir: string, tarball: string): Promise<void> {
  const tmp = `${tarball}.${process.pid}.${Date.now()}`;
  await run('tar', ['-C', dir, '-cf', tmp, '.']);
  // Atomic: a concurrent test file provisioning the same key just replaces an equal tarball.
  await fs.rename(tmp, tarball);
}

async function restore(tarball: string, dir: string): Promise<boolean> {
  try {
    await fs.access(tarball);
  } catch {
    return false;
  }
  await run('tar', ['-C', dir, '-xf', tarball]);
  return true;
}

function sha256(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}

/**
 * Claims a loopback address for one Samba: a lock file per address in the temporary folder
 * (holding the claiming process's id; a dead process's claim is taken over), and a check
 * that nothing else listens on its ports 389 and 636.
 */
async function claimAddress(wanted?: string): Promise<{ address: string; release: () => Promise<void> }> {
  const candidates = wanted ? [wanted] : Array.from({ length: 253 }, (_, i) => `127.0.0.${i + 2}`);
  for (const address of candidates) {
    const lock = path.join(os.tmpdir(), `syncguard-samba-${address}.lock`);
    if (!(await takeLock(lock))) continue;
    if ((await portFree(address, 389)) && (await portFree(address, 636))) {
      let released = false;
      return {
        address,
        release: async () => {
          if (released) return;
          released = true;
          await fs.rm(lock, { force: true });
        },
      };
    }
    await fs.rm(lock, { force: true });
  }
  throw new Error(`no free loopback address for Samba among ${wanted ?? '127.0.0.2 .. 127.0.0.254'}`);
}

async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lock, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await fs.readFile(lock, 'utf8').catch(() => ''));
      // Held by another SambaDc of this process, or by a live process.
      if (holder > 0 && (holder === process.pid || alive(holder))) return false;
      await fs.rm(lock, { force: true });
    }
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * LDIF of `count` AD users `CN=<prefix><n>` under `parentDn` (n from `start`), enabled
 * without a password unless `disabled`, with sAMAccountName, userPrincipalName, names,
 * mail, employeeNumber and title. sAMAccountName holds at most 20 characters.
 */
export function adUsersLdif(
  parentDn: string,
  count: number,
  options: { prefix?: string; start?: number; disabled?: boolean } = {},
): string {
  const prefix = options.prefix ?? 'user';
  const start = options.start ?? 0;
  const parts: string[] = [];
  for (let i = start; i < start + count; i++) {
    const name = `${prefix}${i}`;
    parts.push(
      [
        `dn: CN=${name},${parentDn}`,
        'objectClass: user',
        `sAMAccountName: ${name}`,
        `userPrincipalName: ${name}@${REALM}`,
        `givenName: Given${i}`,
        `sn: ${name}`,
        `displayName: User ${name}`,
        `mail: ${name}@${REALM}`,
        `employeeNumber: ${i}`,
        `title: Engineer ${i % 17}`,
        `userAccountControl: ${options.disabled ? UAC_DISABLED : UAC_ENABLED}`,
        '',
        '',
      ].join('\n'),
    );
  }
  return parts.join('');
}

/** The DNs of users made by {@link adUsersLdif}. */
export function adUserDns(parentDn: string, count: number, options: { prefix?: string; start?: number } = {}): string[] {
  const prefix = options.prefix ?? 'user';
  const start = options.start ?? 0;
  return Array.from({ length: count }, (_, i) => `CN=${prefix}${start + i},${parentDn}`);
}

/** LDIF of an AD global security group `CN=<name>` under `parentDn` with those members (groups may nest). */
export function adGroupLdif(parentDn: string, name: string, memberDns: readonly string[]): string {
  return [
    `dn: CN=${name},${parentDn}`,
    'objectClass: group',
    `sAMAccountName: ${name}`,
    ...memberDns.map((m) => `member: ${m}`),
    '',
    '',
  ].join('\n');
}

/** LDIF of organizational units, parents first. */
export function adOusLdif(...dns: string[]): string {
  return dns.map((dn) => `dn: ${dn}\nobjectClass: organizationalUnit\n\n`).join('');
}

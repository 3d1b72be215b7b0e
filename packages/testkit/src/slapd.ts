import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { LdapTestServer, LdapTools } from './ldap-tools';
import { freePort, waitForPort } from './ports';
import { ManagedProcess } from './process';
import { loadCachedSeed, seedCacheKey, type SlapdCachedSeed } from './slapd-seed-cache';

const run = promisify(execFile);

export interface SlapdOptions {
  /** The database suffix. Default `dc=example,dc=com`. */
  suffix?: string;
  /** LDIF loaded with slapadd before the first start, after the suffix entry and the
   * `ou=people` and `ou=groups` entries the helper always creates. */
  seedLdif?: string;
  /**
   * A large seed (hundreds of thousands of entries) loaded once and cached as the database
   * slapadd made of it (see {@link SlapdCachedSeed}): later starts with the same key and the
   * same database settings copy the cached database instead. `seedLdif`, when given too, is
   * loaded after it.
   */
  cachedSeed?: SlapdCachedSeed;
  /** Server-side size limit for every bind, rootdn included (`sizelimit`). Default unlimited. */
  sizeLimit?: number | 'unlimited';
  /**
   * `dbnosync` on every database: a write is not flushed to disk before slapd answers it
   * (a killed slapd still keeps it; only a crash of the machine may lose it). For benchmarks,
   * whose writes would otherwise wait on a shared disk: 1,000 modifies with an accesslog took
   * 12.4 s flushed and 0.28 s unflushed, on the loaded 2-core machine.
   */
  noSync?: boolean;
  /** Extra lines for the database section of slapd.conf. */
  extraDatabaseConfig?: string;
  /** Extra schema (slapd.conf `attributetype` / `objectclass` lines), loaded after core, cosine, nis and inetorgperson. */
  extraSchema?: string;
  /**
   * Keep an accesslog (the `accesslog` overlay) of every successful write in a second
   * database, suffix `cn=accesslog` ({@link SlapdServer.accesslogBase}), readable by the
   * rootdn, which is the rootdn of that database too. `databaseConfig`: extra lines for
   * that database's section (e.g. `limits` for an account that reads it).
   */
  accesslog?: boolean | { databaseConfig: string };
  /** Serve TLS too: StartTLS on the ldap:// port and ldaps:// on a second port ({@link SlapdServer.ldapsUrl}). */
  tls?: { certFile: string; keyFile: string };
}

/**
 * A private OpenLDAP server (Debian's slapd) on a free loopback port, with an mdb
 * database in a temporary folder. Stop it, kill it and start it again at will; the
 * data stays until {@link SlapdServer.dispose}.
 */
export class SlapdServer extends LdapTestServer {
  readonly rootDn: string;
  readonly rootPassword = 'secret';
  readonly peopleDn: string;
  readonly groupsDn: string;
  /** The accesslog database's suffix (started with `accesslog`). */
  readonly accesslogBase = 'cn=accesslog';
  /** Whether {@link SlapdOptions.cachedSeed} was copied from the cache (false: loaded with slapadd and cached now, or no cached seed). */
  seededFromCache = false;
  private process?: ManagedProcess;
  protected readonly tools: LdapTools;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly suffix: string,
    /** The ldaps:// port, when started with `tls`. */
    readonly tlsPort: number | null = null,
  ) {
    super();
    this.rootDn = `cn=admin,${suffix}`;
    this.peopleDn = `ou=people,${suffix}`;
    this.groupsDn = `ou=groups,${suffix}`;
    this.tools = new LdapTools({ url: this.url, bindDn: this.rootDn, bindPassword: this.rootPassword, workDir: dir });
  }

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  /** The ldaps:// URL (started with `tls` only). */
  get ldapsUrl(): string {
    if (this.tlsPort === null) throw new Error('slapd was started without tls');
    return `ldaps://127.0.0.1:${this.tlsPort}`;
  }

  get confPath(): string {
    return path.join(this.dir, 'slapd.conf');
  }

  /** The server's process id while it runs (benchmarks read its CPU time and memory). */
  get pid(): number | undefined {
    return this.process?.child.pid;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** slapd's own output so far (for failure messages). */
  get log(): string {
    return this.process?.log ?? '';
  }

  static async start(options: SlapdOptions = {}): Promise<SlapdServer> {
    const suffix = options.suffix ?? 'dc=example,dc=com';
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-slapd-'));
    const server = new SlapdServer(dir, await freePort(), suffix, options.tls ? await freePort() : null);
    await fs.mkdir(path.join(dir, 'data'));
    if (options.accesslog) await fs.mkdir(path.join(dir, 'accesslog'));
    const limit = options.sizeLimit ?? 'unlimited';
    const extraSchema = path.join(dir, 'extra.schema');
    if (options.extraSchema) await fs.writeFile(extraSchema, options.extraSchema);
    await fs.writeFile(
      server.confPath,
      [
        'include /etc/ldap/schema/core.schema',
        'include /etc/ldap/schema/cosine.schema',
        'include /etc/ldap/schema/nis.schema',
        'include /etc/ldap/schema/inetorgperson.schema',
        ...(options.extraSchema ? [`include ${extraSchema}`] : []),
        `pidfile ${path.join(dir, 'slapd.pid')}`,
        `argsfile ${path.join(dir, 'slapd.args')}`,
        'modulepath /usr/lib/ldap',
        'moduleload back_mdb',
        ...(options.accesslog ? ['moduleload accesslog'] : []),
        `sizelimit ${limit}`,
        ...(options.tls ? [`TLSCertificateFile ${options.tls.certFile}`, `TLSCertificateKeyFile ${options.tls.keyFile}`] : []),
        ...(options.accesslog
          ? [
              'database mdb',
              // mdb's default map size is 10 MB: a full log (about 8,000 modifies) makes the
              // overlay drop every later record while the writes themselves still succeed.
              'maxsize 4294967296',
              `suffix "${server.accesslogBase}"`,
              `rootdn "${server.rootDn}"`,
              `directory ${path.join(dir, 'accesslog')}`,
              'index reqStart,reqEntryUUID eq',
              options.noSync ? 'dbnosync' : '',
              typeof options.accesslog === 'object' ? options.accesslog.databaseConfig : '',
              `limits dn.exact="${server.rootDn}" size=${limit}`,
            ]
          : []),
        'database mdb',
        'maxsize 4294967296',
        options.noSync ? 'dbnosync' : '',
        `suffix "${suffix}"`,
        `rootdn "${server.rootDn}"`,
        `rootpw ${server.rootPassword}`,
        `directory ${path.join(dir, 'data')}`,
        `limits dn.exact="${server.rootDn}" size=${limit}`,
        'index objectClass eq',
        'index entryUUID eq',
        'index modifyTimestamp eq',
        options.extraDatabaseConfig ?? '',
        ...(options.accesslog
          ? ['overlay accesslog', `logdb "${server.accesslogBase}"`, 'logops writes', 'logsuccess TRUE']
          : []),
        '',
      ].join('\n'),
    );
    const rdn = suffix.split(',')[0] ?? '';
    const dc = rdn.startsWith('dc=') ? rdn.slice(3) : 'example';
    const base = [
      `dn: ${suffix}`,
      'objectClass: top',
      'objectClass: dcObject',
      'objectClass: organization',
      `o: ${dc}`,
      `dc: ${dc}`,
      '',
      `dn: ${server.peopleDn}`,
      'objectClass: organizationalUnit',
      'ou: people',
      '',
      `dn: ${server.groupsDn}`,
      'objectClass: organizationalUnit',
      'ou: groups',
      '',
    ].join('\n');
    if (options.cachedSeed) {
      const { fromCache } = await loadCachedSeed({
        seed: options.cachedSeed,
        key: seedCacheKey(options.cachedSeed, await fs.readFile(server.confPath, 'utf8'), dir),
        base,
        dataDir: path.join(dir, 'data'),
        workDir: dir,
        slapadd: (file) => server.slapaddFile(file),
      }).catch(async (error: unknown) => {
        await server.dispose(); // a seed of a GB is not left behind in a folder no one holds
        throw error;
      });
      server.seededFromCache = fromCache;
      if (options.seedLdif) await server.slapadd(options.seedLdif);
    } else {
      await server.slapadd(base + '\n' + (options.seedLdif ?? ''));
    }
    await server.start();
    return server;
  }

  /** Starts slapd (again) on the same port and data. */
  async start(): Promise<void> {
    if (this.running) return;
    const urls = [`ldap://127.0.0.1:${this.port}/`, ...(this.tlsPort === null ? [] : [`ldaps://127.0.0.1:${this.tlsPort}/`])];
    this.process = new ManagedProcess('slapd', ['-d', '0', '-f', this.confPath, '-h', urls.join(' ')]);
    try {
      await waitForPort(this.port, 10_000);
      if (this.tlsPort !== null) await waitForPort(this.tlsPort, 10_000);
    } catch (error) {
      throw new Error(`slapd did not start: ${(error as Error).message}\n${this.process.log}`);
    }
  }

  /** Stops slapd gracefully (SIGTERM). */
  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM');
  }

  /** Kills slapd at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.process?.stop('SIGKILL');
  }

  /** Loads LDIF offline with slapadd (fast for large seeds). Stops the server first if it runs, and restarts it after. */
  slapadd(ldif: string): Promise<void> {
    return this.loadOffline(ldif, 'slapadd', (file) => ['-q', '-f', this.confPath, '-b', this.suffix, '-l', file]);
  }

  /** slapadd of an LDIF file, the server stopped (as {@link slapadd}, for seeds too large to hold as a string). */
  private async slapaddFile(file: string): Promise<void> {
    try {
      await run('slapadd', ['-q', '-f', this.confPath, '-b', this.suffix, '-l', file], { maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      throw new Error(`slapadd failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
    }
  }

  /** Stops the server and removes its folder. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.process?.stop('SIGKILL', 1000);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** Starts a private slapd; see {@link SlapdOptions}. */
export function startSlapd(options?: SlapdOptions): Promise<SlapdServer> {
  return SlapdServer.start(options);
}

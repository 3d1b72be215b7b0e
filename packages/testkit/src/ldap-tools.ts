import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where and as whom the OpenLDAP command-line tools (ldap-utils) talk to a test server. */
export interface LdapToolsTarget {
  url: string;
  bindDn: string;
  bindPassword: string;
  /** A folder for the LDIF files handed to the tools. */
  workDir: string;
  /** PEM CA file for ldaps:// (LDAPTLS_CACERT). */
  caFile?: string;
}

/**
 * ldapadd, ldapmodify, ldapdelete and ldapsearch against one server, as a directory admin
 * would run them. Shared by the slapd and Samba helpers.
 */
export class LdapTools {
  constructor(private readonly target: LdapToolsTarget) {}

  /** Adds entries (ldapadd). */
  async add(ldif: string): Promise<void> {
    await this.ldapmodify(['-a'], ldif);
  }

  /** Applies an LDIF change record set (ldapmodify). */
  async modify(ldif: string): Promise<void> {
    await this.ldapmodify([], ldif);
  }

  /** Deletes entries by DN (ldapdelete); with `recursive` whole subtrees. */
  async delete(dns: readonly string[], options: { recursive?: boolean } = {}): Promise<void> {
    if (dns.length === 0) return;
    await this.withFile('delete', dns.join('\n') + '\n', (file) =>
      this.tool('ldapdelete', [...(options.recursive ? ['-r'] : []), '-f', file]),
    );
  }

  /** Renames or moves an entry (a modrdn change record). */
  async moveEntry(dn: string, newRdn: string, newSuperior?: string): Promise<void> {
    const lines = [`dn: ${dn}`, 'changetype: modrdn', `newrdn: ${newRdn}`, 'deleteoldrdn: 1'];
    if (newSuperior) lines.push(`newsuperior: ${newSuperior}`);
    await this.modify(lines.join('\n') + '\n');
  }

  /** Runs ldapsearch (subtree, unwrapped LDIF) and returns its output. */
  async search(base: string, filter = '(objectClass=*)', attributes: readonly string[] = []): Promise<string> {
    return this.tool('ldapsearch', ['-LLL', '-o', 'ldif-wrap=no', '-b', base, filter, ...attributes]);
  }

  private async ldapmodify(extra: string[], ldif: string): Promise<void> {
    await this.withFile('change', ldif, (file) => this.tool('ldapmodify', [...extra, '-f', file]));
  }

  private async withFile<T>(kind: string, content: string, use: (file: string) => Promise<T>): Promise<T> {
    const file = path.join(this.target.workDir, `${kind}-${Date.now()}-${Math.random()}.ldif`);
    await fs.writeFile(file, content);
    try {
      return await use(file);
    } finally {
      await fs.rm(file, { force: true });
    }
  }

  private async tool(command: string, args: string[]): Promise<string> {
    const { url, bindDn, bindPassword, caFile } = this.target;
    const { stdout } = await run(command, ['-x', '-H', url, '-D', bindDn, '-w', bindPassword, ...args], {
      maxBuffer: 512 * 1024 * 1024,
      env: caFile ? { ...process.env, LDAPTLS_CACERT: caFile } : process.env,
    });
    return stdout;
  }
}

/**
 * What the slapd and Samba helpers share: changes over LDAP with the command-line tools as
 * the server's admin, and offline loads (the server stopped meanwhile, started again after).
 */
export abstract class LdapTestServer {
  protected abstract readonly tools: LdapTools;
  abstract readonly dir: string;
  abstract get running(): boolean;
  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** Adds entries over LDAP (ldapadd), as a directory admin would. */
  add(ldif: string): Promise<void> {
    return this.tools.add(ldif);
  }

  /** Applies an LDIF change record set (ldapmodify). */
  modify(ldif: string): Promise<void> {
    return this.tools.modify(ldif);
  }

  /** Deletes entries by DN (ldapdelete); with `recursive` whole subtrees. */
  delete(dns: readonly string[], options: { recursive?: boolean } = {}): Promise<void> {
    return this.tools.delete(dns, options);
  }

  /** Renames or moves an entry (a modrdn change record). */
  moveEntry(dn: string, newRdn: string, newSuperior?: string): Promise<void> {
    return this.tools.moveEntry(dn, newRdn, newSuperior);
  }

  /** Runs ldapsearch as the admin and returns its LDIF output. */
  search(base: string, filter = '(objectClass=*)', attributes: readonly string[] = []): Promise<string> {
    return this.tools.search(base, filter, attributes);
  }

  /** Runs an offline loader (`args` given the LDIF file) with the server stopped, and starts it again if it ran. */
  protected async loadOffline(ldif: string, command: string, args: (file: string) => string[]): Promise<void> {
    const wasRunning = this.running;
    if (wasRunning) await this.stop();
    const file = path.join(this.dir, `seed-${Date.now()}.ldif`);
    await fs.writeFile(file, ldif);
    try {
      await run(command, args(file), { maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stderr?: string; stdout?: string };
      throw new Error(`${command} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: error });
    } finally {
      await fs.rm(file, { force: true });
    }
    if (wasRunning) await this.start();
  }
}

import { Client, FilterParser, type Control, type Entry, type Filter } from 'ldapts';
import { AgentError, fromLdapError } from '../errors';
import { redactUrl } from '../redact';
import { isUnder } from './accesslog';
import { BINARY_ATTRIBUTES, entryId, type DirectoryFlavor } from './entry-mapper';

export interface LdapSourceOptions {
  url: string;
  bindDn: string;
  bindPassword: string;
  ca?: Buffer;
  startTls: boolean;
  pageSize: number;
  operationTimeoutMs: number;
  connectTimeoutMs: number;
  /** The kind of directory; `auto` (or left out) asks the root DSE. */
  directory?: 'auto' | 'openldap' | 'ad';
}

export interface SearchSpec {
  base: string;
  /** A filter string, or a built filter (for binary values such as objectGUID, which a string cannot carry through ldapts). */
  filter: string | Filter;
  attributes: string[];
  /** Entries per page; default the source's page size. */
  pageSize?: number;
  /** Request controls besides paging (e.g. Show Deleted). */
  controls?: Control[];
}

/** Active Directory's LDAP_CAP_ACTIVE_DIRECTORY_OID in the root DSE's supportedCapabilities. */
const AD_CAPABILITY = '1.2.840.113556.1.4.800';

/**
 * One bound LDAP connection (ldapts). Reads stream page by page; every failure leaves as
 * an AgentError mapped by {@link fromLdapError}. Not shared between cycles.
 */
export class LdapSource {
  private closed = false;
  private contexts?: string[];
  /** Search result pages received so far. */
  pages = 0;

  private constructor(
    private readonly client: Client,
    readonly flavor: DirectoryFlavor,
    private readonly options: LdapSourceOptions,
  ) {}

  /** Connects, optionally upgrades with StartTLS, binds, and detects the directory flavor. */
  static async connect(options: LdapSourceOptions): Promise<LdapSource> {
    const tlsOptions = options.ca ? { ca: [options.ca] } : {};
    const client = new Client({
      url: options.url,
      timeout: options.operationTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      // ldapts connects with TLS from the first byte whenever tlsOptions are set, whatever the
      // URL: given for ldaps:// only, so that ldap:// (plain, or upgraded by StartTLS) stays so.
      tlsOptions: options.url.toLowerCase().startsWith('ldaps:') ? tlsOptions : undefined,
      strictDN: false,
    });
    try {
      if (options.startTls) {
        try {
          await client.startTLS({ ...tlsOptions });
        } catch (error) {
          throw fromLdapError(error, 'connect');
        }
      }
      try {
        await client.bind(options.bindDn, options.bindPassword);
      } catch (error) {
        throw fromLdapError(error, 'bind');
      }
      let flavor: DirectoryFlavor = options.directory === 'ad' ? 'ad' : 'openldap';
      if (options.directory === 'ad' || options.directory === 'openldap') return new LdapSource(client, flavor, options);
      try {
        const { searchEntries } = await client.search('', {
          scope: 'base',
          filter: '(objectClass=*)',
          attributes: ['supportedCapabilities'],
        });
        const caps = searchEntries[0]?.['supportedCapabilities'];
        const list = Array.isArray(caps) ? caps.map(String) : caps === undefined ? [] : [String(caps)];
        if (list.includes(AD_CAPABILITY)) flavor = 'ad';
      } catch {
        // A root DSE the bind DN may not read: assume OpenLDAP-style schema.
      }
      return new LdapSource(client, flavor, options);
    } catch (error) {
      await client.unbind().catch(() => undefined);
      throw error;
    }
  }

  get serverUrl(): string {
    return redactUrl(this.options.url);
  }

  /**
   * Streams a subtree search page by page. The next page is requested while the caller
   * works on the current one. Throws AgentError on any failure, including a search that
   * ends early; a generator that returns normally has read everything.
   */
  async *pagesOf(spec: SearchSpec): AsyncGenerator<Entry[]> {
    if (typeof spec.filter === 'string') validateFilter(spec.filter);
    const search = this.client.searchPaginated(
      spec.base,
      {
        scope: 'sub',
        filter: spec.filter,
        attributes: spec.attributes,
        explicitBufferAttributes: BINARY_ATTRIBUTES,
        paged: { pageSize: spec.pageSize ?? this.options.pageSize },
      },
      spec.controls,
    );
    const iterator = search[Symbol.asyncIterator]();
    let next = iterator.next();
    next.catch(() => undefined);
    try {
      for (;;) {
        let result: IteratorResult<{ searchEntries: Entry[] }>;
        try {
          result = await next;
        } catch (error) {
          throw fromLdapError(error, 'search', spec.base);
        }
        if (result.done) return;
        this.pages += 1;
        next = iterator.next();
        next.catch(() => undefined);
        yield result.value.searchEntries;
      }
    } finally {
      if (this.closed) next.catch(() => undefined);
    }
  }

  /** Reads one entry by DN (base search), or undefined when it does not exist or does not match. */
  async readEntry(dn: string, filter: string, attributes: string[], controls?: Control[]): Promise<Entry | undefined> {
    try {
      const { searchEntries } = await this.client.search(
        dn,
        {
          scope: 'base',
          filter,
          attributes,
          explicitBufferAttributes: BINARY_ATTRIBUTES,
        },
        controls,
      );
      return searchEntries[0];
    } catch (error) {
      const mapped = fromLdapError(error, 'search');
      if (mapped.code === 'AGENT_ERR_LDAP_NO_SUCH_OBJECT') return undefined;
      throw mapped;
    }
  }

  /**
   * One subtree search, not paged (DirSync pages by its own cookie and cannot be combined
   * with the paged results control), with a request control whose response control ldapts
   * parses into that same instance. The whole answer is in memory at once; `onEntry` sees
   * each entry. Throws AgentError (with the server's result code when it answered one).
   */
  async searchWithControl(
    base: string,
    filter: string | Filter,
    attributes: string[],
    control: Control,
    onEntry: (entry: Entry) => void,
  ): Promise<void> {
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await this.client.search(
        base,
        { scope: 'sub', filter, attributes, explicitBufferAttributes: BINARY_ATTRIBUTES },
        [control],
      ));
    } catch (error) {
      throw fromLdapError(error, 'search', base);
    }
    this.pages += 1;
    for (const entry of entries) onEntry(entry);
  }

  /** The object id of an entry read with the id attribute (entryUUID, objectGUID as a string). */
  idOf(entry: Entry): string | undefined {
    return entryId(entry, this.flavor);
  }

  /**
   * The naming context (root DSE `namingContexts`) that holds `dn`: the longest one above
   * it; '' when the server names none (or the bind DN may not read the root DSE).
   */
  async namingContextOf(dn: string): Promise<string> {
    if (this.contexts === undefined) {
      try {
        const { searchEntries } = await this.client.search('', {
          scope: 'base',
          filter: '(objectClass=*)',
          attributes: ['namingContexts'],
        });
        const raw = searchEntries[0]?.['namingContexts'];
        this.contexts = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
      } catch (error) {
        throw fromLdapError(error, 'search');
      }
    }
    let best = '';
    for (const c of this.contexts) if (c && isUnder(dn, c) && c.length > best.length) best = c;
    return best;
  }

  /** AD: the server's highestCommittedUSN from the root DSE (the DELTA watermark). */
  async highestCommittedUsn(): Promise<string> {
    try {
      const { searchEntries } = await this.client.search('', {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['highestCommittedUSN'],
      });
      const value = searchEntries[0]?.['highestCommittedUSN'];
      return String(Array.isArray(value) ? value[0] : (value ?? ''));
    } catch (error) {
      throw fromLdapError(error, 'search');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.unbind().catch(() => undefined);
  }
}

/** Rejects a filter ldapts cannot parse, as an invalid scope. */
export function validateFilter(filter: string): void {
  try {
    FilterParser.parseString(filter);
  } catch (error) {
    throw new AgentError('AGENT_ERR_INVALID_SCOPE', `invalid LDAP filter ${filter}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SettingError, SettingsError } from './errors';
import { compileAttributeFilter, type AttributeFilter } from './ldap/attribute-filter';
import { redactUrl } from './redact';

/** A duration: milliseconds as a number, or a string such as `"500ms"`, `"30s"`, `"5m"`, `"1h"`. */
export type Duration = number | string;

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Everything the agent needs. `main.ts` builds this from flags, environment and config file. */
export interface AgentOptions {
  /** `ws://` or `wss://` URL of the controller's agent endpoint (SYNCGUARD_CONTROLLER_URL). Required. */
  controllerUrl: string;
  /** The agent's bearer token (SYNCGUARD_AGENT_TOKEN). Required. */
  agentToken: string;
  /**
   * The agent's id as registered with the controller (SYNCGUARD_AGENT_ID). Optional: the
   * token alone identifies the agent, and the controller tells it its id in the welcome.
   * When set, the controller refuses the agent (AUTH_FAILED) unless the token is this agent's.
   */
  agentId?: string;
  /** Folder for the local cache and outbox (SYNCGUARD_STATE_DIR). Created if missing. Required. */
  stateDir: string;
  /** PEM CA file to verify a `wss://` controller (SYNCGUARD_CA_FILE). Default: the system CAs. */
  controllerCaFile?: string;
  /** PEM client certificate for mutual TLS to the controller (SYNCGUARD_CLIENT_CERT_FILE). Needs `clientKeyFile`. */
  clientCertFile?: string;
  /** PEM private key of `clientCertFile` (SYNCGUARD_CLIENT_KEY_FILE). */
  clientKeyFile?: string;
  ldap: {
    /** `ldap://` or `ldaps://` URL of the directory (LDAP_URL). Required. */
    url: string;
    /** DN to bind as (LDAP_BIND_DN). Required. */
    bindDn: string;
    /** Password of `bindDn` (LDAP_BIND_PASSWORD). Required. */
    bindPassword: string;
    /** PEM CA file to verify the directory's certificate (LDAP_CA_FILE). Default: the system CAs. */
    caFile?: string;
    /** Upgrade an `ldap://` connection with StartTLS before binding (LDAP_STARTTLS). Default false. */
    startTls?: boolean;
    /** Entries per search result page (LDAP_PAGE_SIZE). Default 300 (measured fastest here: less memory held per page). */
    pageSize?: number;
    /** Longest wait for one LDAP operation or page. Default `"120s"`. */
    operationTimeout?: Duration;
    /** Longest wait for the TCP/TLS connection to the directory. Default `"10s"`. */
    connectTimeout?: Duration;
    /**
     * DELTA cycles read in full only entries modified since the start of the last committed
     * read minus this margin (OpenLDAP `modifyTimestamp`, which the directory's clock sets).
     * It covers clock skew between agent and directory. Default `"10m"`.
     */
    deltaSkew?: Duration;
    /**
     * Only these attributes go to the controller (LDAP_ATTRIBUTES_ALLOW; a list, or names
     * separated by commas). Default: every attribute not denied. Password-equivalent
     * attributes (SECRET_ATTRIBUTES of @syncguard/protocol) are never sent, even when listed.
     */
    attributesAllow?: string | readonly string[];
    /** These attributes never go to the controller (LDAP_ATTRIBUTES_DENY), on top of the secret ones. Wins over the allow list. */
    attributesDeny?: string | readonly string[];
    /**
     * Which kind of directory this is (LDAP_DIRECTORY): `auto` (the default: Active Directory
     * when the root DSE names its capability, else OpenLDAP-style schema), `openldap` or `ad`.
     */
    directory?: 'auto' | 'openldap' | 'ad';
    /**
     * How DELTA cycles find what changed (LDAP_CHANGE_TRACKING): `auto` (the default: the
     * accesslog where the directory is OpenLDAP and `accesslogBase` can be read; on Active
     * Directory DirSync where the bind DN may use it (the Replicating Directory Changes
     * right), else USNs with tombstones where it can read `CN=Deleted Objects`; else a scan),
     * `dirsync`, `usn`, `accesslog`, or `scan` (changed entries plus an id scan of the whole scope).
     */
    changeTracking?: ChangeTrackingSetting;
    /** Suffix of OpenLDAP's accesslog database (LDAP_ACCESSLOG_BASE). Default `cn=accesslog`. */
    accesslogBase?: string;
    /**
     * With a log-based change tracking, the longest time between two scans of the whole
     * scope (LDAP_FULL_SCAN_INTERVAL): a DELTA after it scans, whatever the log says. Default `"24h"`.
     */
    fullScanInterval?: Duration;
  };
  /** pino level (SYNCGUARD_LOG_LEVEL). Default `info`. */
  logLevel?: LogLevel;
  /** First reconnect delay; each attempt doubles it, with full jitter. Default `"500ms"`. */
  reconnectInitialDelay?: Duration;
  /** Longest reconnect delay. Default `"30s"`. */
  reconnectMaxDelay?: Duration;
  /** Longest wait for ControllerWelcome after AgentHello. Default `"15s"`. */
  helloTimeout?: Duration;
  /** Reported in AgentHello. Default `os.hostname()`. */
  hostname?: string;
}

/** The result of {@link compileAgentOptions}: defaults applied, durations in ms, files read. Frozen. */
export interface CompiledAgentOptions {
  readonly controllerUrl: string;
  readonly agentToken: string;
  /** `''` when not configured (the controller's welcome names the agent). */
  readonly agentId: string;
  readonly stateDir: string;
  readonly controllerTls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  readonly ldap: {
    readonly url: string;
    readonly bindDn: string;
    readonly bindPassword: string;
    readonly ca?: Buffer;
    readonly startTls: boolean;
    readonly pageSize: number;
    readonly operationTimeoutMs: number;
    readonly connectTimeoutMs: number;
    readonly deltaSkewMs: number;
    readonly attributeFilter: AttributeFilter;
    readonly directory: 'auto' | 'openldap' | 'ad';
    readonly changeTracking: ChangeTrackingSetting;
    readonly accesslogBase: string;
    readonly fullScanIntervalMs: number;
  };
  readonly logLevel: LogLevel;
  readonly reconnectInitialDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly helloTimeoutMs: number;
  readonly hostname: string;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Applies defaults, converts durations to milliseconds, reads the certificate files and
 * rejects bad values with a {@link SettingError} naming the option (dot path); several
 * bad values at once with a {@link SettingsError} holding each. The state folder is
 * created 0700 (it holds a copy of directory data).
 */
export function compileAgentOptions(options: AgentOptions): CompiledAgentOptions {
  const problems: SettingError[] = [];
  const check = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof SettingError)) throw error;
      problems.push(error);
      return fallback;
    }
  };
  const controllerUrl = check(() => {
    const value = requiredString(options.controllerUrl, 'controllerUrl');
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new SettingError('controllerUrl', `not a URL: ${redactUrl(value)}`);
    }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      throw new SettingError('controllerUrl', `must start with ws:// or wss://, got ${parsed.protocol}//`);
    }
    return value;
  }, '');
  const ldapOptions = options.ldap ?? ({} as AgentOptions['ldap']);
  const ldapUrl = check(() => {
    const value = requiredString(ldapOptions.url, 'ldap.url');
    if (!/^ldaps?:\/\/[^/]+/i.test(value))
      throw new SettingError('ldap.url', `must be ldap://host[:port] or ldaps://host[:port], got ${redactUrl(value)}`);
    return value;
  }, '');
  const startTls = check(() => {
    const value = ldapOptions.startTls ?? false;
    if (typeof value !== 'boolean') throw new SettingError('ldap.startTls', 'must be true or false');
    if (value && ldapUrl.toLowerCase().startsWith('ldaps:')) {
      throw new SettingError('ldap.startTls', 'StartTLS applies to ldap:// URLs; ldaps:// is already TLS');
    }
    return value;
  }, false);
  check(() => {
    if (ldapOptions.caFile !== undefined && ldapUrl && !startTls && !ldapUrl.toLowerCase().startsWith('ldaps:')) {
      // Said plainly rather than connecting in plain text while the admin believes TLS is on.
      throw new SettingError(
        'ldap.caFile',
        'applies to ldaps:// URLs or StartTLS (ldap.startTls); an ldap:// URL alone is not encrypted',
      );
    }
  }, undefined);
  const pageSize = check(() => {
    const value = ldapOptions.pageSize ?? 300;
    if (!Number.isInteger(value) || value < 1 || value > 100_000) {
      throw new SettingError('ldap.pageSize', `must be a whole number from 1 to 100000, got ${String(value)}`);
    }
    return value;
  }, 300);
  check(() => {
    if ((options.clientCertFile === undefined) !== (options.clientKeyFile === undefined)) {
      throw new SettingError(
        options.clientCertFile === undefined ? 'clientCertFile' : 'clientKeyFile',
        'a client certificate and its key must be set together',
      );
    }
  }, undefined);
  const logLevel = check(() => {
    const value = options.logLevel ?? 'info';
    if (!LOG_LEVELS.includes(value)) throw new SettingError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
    return value;
  }, 'info' as LogLevel);
  const stateDir = check(() => {
    const value = path.resolve(requiredString(options.stateDir, 'stateDir'));
    try {
      fs.mkdirSync(value, { recursive: true, mode: 0o700 });
      fs.accessSync(value, fs.constants.W_OK);
    } catch (error) {
      throw new SettingError('stateDir', `cannot create or write ${value}: ${(error as Error).message}`);
    }
    return value;
  }, '');
  const reconnectInitialDelayMs = check(
    () => duration(options.reconnectInitialDelay ?? '500ms', 'reconnectInitialDelay', 1),
    500,
  );
  const reconnectMaxDelayMs = check(() => {
    const value = duration(options.reconnectMaxDelay ?? '30s', 'reconnectMaxDelay', 1);
    if (value < reconnectInitialDelayMs)
      throw new SettingError('reconnectMaxDelay', 'must not be shorter than reconnectInitialDelay');
    return value;
  }, 30_000);
  const compiled: CompiledAgentOptions = {
    controllerUrl,
    agentToken: check(() => requiredString(options.agentToken, 'agentToken'), ''),
    agentId: check(() => optionalString(options.agentId, 'agentId'), ''),
    stateDir,
    controllerTls: Object.freeze({
      ca: check(() => readFile(options.controllerCaFile, 'controllerCaFile'), undefined),
      cert: check(() => readFile(options.clientCertFile, 'clientCertFile'), undefined),
      key: check(() => readFile(options.clientKeyFile, 'clientKeyFile'), undefined),
    }),
    ldap: Object.freeze({
      url: ldapUrl,
      bindDn: check(() => requiredString(ldapOptions.bindDn, 'ldap.bindDn'), ''),
      bindPassword: check(() => requiredString(ldapOptions.bindPassword, 'ldap.bindPassword'), ''),
      ca: check(() => readFile(ldapOptions.caFile, 'ldap.caFile'), undefined),
      startTls,
      pageSize,
      operationTimeoutMs: check(() => duration(ldapOptions.operationTimeout ?? '120s', 'ldap.operationTimeout', 1), 0),
      connectTimeoutMs: check(() => duration(ldapOptions.connectTimeout ?? '10s', 'ldap.connectTimeout', 1), 0),
      deltaSkewMs: check(() => duration(ldapOptions.deltaSkew ?? '10m', 'ldap.deltaSkew', 0), 0),
      attributeFilter: check(
        () =>
          compileAttributeFilter(
            attributeList(ldapOptions.attributesAllow, 'ldap.attributesAllow'),
            attributeList(ldapOptions.attributesDeny, 'ldap.attributesDeny'),
          ),
        compileAttributeFilter([], []),
      ),
      directory: check(() => directory(ldapOptions.directory), 'auto'),
      changeTracking: check(() => changeTracking(ldapOptions.changeTracking), 'auto'),
      accesslogBase: check(() => accesslogBase(ldapOptions.accesslogBase), 'cn=accesslog'),
      fullScanIntervalMs: check(() => duration(ldapOptions.fullScanInterval ?? '24h', 'ldap.fullScanInterval', 1000), 0),
    }),
    logLevel,
    reconnectInitialDelayMs,
    reconnectMaxDelayMs,
    helloTimeoutMs: check(() => duration(options.helloTimeout ?? '15s', 'helloTimeout', 1), 0),
    hostname: options.hostname ?? os.hostname(),
  };
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new SettingsError(problems);
  return Object.freeze(compiled);
}

/** The values of LDAP_CHANGE_TRACKING (contract names). */
export type ChangeTrackingSetting = 'auto' | 'dirsync' | 'usn' | 'accesslog' | 'scan';

function changeTracking(value: unknown): ChangeTrackingSetting {
  const v = value ?? 'auto';
  if (v === 'auto' || v === 'dirsync' || v === 'accesslog' || v === 'usn' || v === 'scan') return v;
  throw new SettingError('ldap.changeTracking', `must be auto, dirsync, usn, accesslog or scan, got ${String(v)}`);
}

function directory(value: unknown): 'auto' | 'openldap' | 'ad' {
  const v = value ?? 'auto';
  if (v === 'auto' || v === 'openldap' || v === 'ad') return v;
  throw new SettingError('ldap.directory', `must be auto, openldap or ad, got ${String(v)}`);
}

function accesslogBase(value: unknown): string {
  const v = value ?? 'cn=accesslog';
  if (typeof v !== 'string' || !/^[^=,]+=[^=]/.test(v.trim())) {
    throw new SettingError('ldap.accesslogBase', `must be a DN such as cn=accesslog, got ${JSON.stringify(v)}`);
  }
  return v.trim();
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a {@link Duration} to milliseconds; `name` is used in the error. */
export function parseDuration(value: Duration, name: string, min = 0): number {
  return duration(value, name, min);
}

function duration(value: Duration, name: string, min: number): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(String(value));
    if (!match) throw new SettingError(name, `not a duration: ${String(value)} (use e.g. 500ms, 30s, 5m)`);
    ms = Number(match[1]) * UNITS[match[2] ?? 'ms']!;
  }
  if (!Number.isFinite(ms) || ms < min) throw new SettingError(name, `must be at least ${min} ms, got ${String(value)}`);
  return Math.round(ms);
}

/** An attribute list: an array of names or one string of names separated by commas. */
function attributeList(value: unknown, name: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || !list.every((v) => typeof v === 'string'))
    throw new SettingError(name, 'must be attribute names separated by commas (or a list of names)');
  const names = list.map((v: string) => v.trim()).filter((v) => v !== '');
  const bad = names.find((n) => !/^[A-Za-z][A-Za-z0-9-]*(;[A-Za-z0-9=*.-]+)*$|^\d+(\.\d+)+$/.test(n));
  if (bad !== undefined) throw new SettingError(name, `${JSON.stringify(bad)} is not an attribute name`);
  return names;
}

function requiredString(value: unknown, name: string): string {
  if (value === undefined || value === null || value === '') throw new SettingError(name, 'is required');
  if (typeof value !== 'string') throw new SettingError(name, 'must be a string');
  return value;
}

function optionalString(value: unknown, name: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new SettingError(name, 'must be a string');
  return value.trim();
}

function readFile(file: string | undefined, name: string): Buffer | undefined {
  if (file === undefined || file === '') return undefined;
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new SettingError(name, `cannot read ${file}: ${(error as Error).message}`);
  }
}

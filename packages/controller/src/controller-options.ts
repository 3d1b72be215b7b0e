import fs from 'node:fs';
import { DEFAULT_LIMITS } from '@syncguard/protocol';
import { ConfigError, InvalidSettingsError } from './errors';
import { redactUrlCredentials } from './redact';
import { parseSecretKey } from './secrets/secret-box';
import { compileRedisSettings, type RedisSettings } from './store/redis-connection';

/**
 * Settings of one controller process. `main.ts` reads them from flags, the environment
 * and a config file; tests pass them to `createServer()` directly. Durations are in
 * milliseconds unless the name says otherwise.
 */
export interface ControllerOptions {
  /** TCP port for HTTP and the agent WebSocket. Default 8080; 0 picks a free port. */
  port?: number;
  /** Interface to listen on. Default `0.0.0.0`. */
  host?: string;
  /**
   * Redis URL of one server (`redis://` or `rediss://` for TLS). Default
   * `redis://127.0.0.1:6379` when neither `redisSentinels` nor `redisClusterNodes` is set.
   */
  redisUrl?: string;
  /**
   * Sentinels to ask for the master (SYNCGUARD_REDIS_SENTINELS): `host:port,...`, or a list.
   * Needs `redisSentinelName`. The controller follows a failover by itself.
   */
  redisSentinels?: string | readonly string[];
  /** The master group name the sentinels monitor (SYNCGUARD_REDIS_SENTINEL_NAME). */
  redisSentinelName?: string;
  /**
   * Seed nodes of a Redis Cluster (SYNCGUARD_REDIS_CLUSTER_NODES): `host:port,...`, or a
   * list; the other nodes are discovered from them.
   */
  redisClusterNodes?: string | readonly string[];
  /** ACL user of the Redis data nodes (SYNCGUARD_REDIS_USERNAME). Default: none (`default`). */
  redisUsername?: string;
  /**
   * Password of the Redis data nodes (SYNCGUARD_REDIS_PASSWORD), for Sentinel and Cluster,
   * or for REDIS_URL instead of a password in the URL. Default none.
   */
  redisPassword?: string;
  /** The sentinels' own password (SYNCGUARD_REDIS_SENTINEL_PASSWORD), when they have one. */
  redisSentinelPassword?: string;
  /**
   * TLS to the Redis nodes and sentinels (SYNCGUARD_REDIS_TLS), for Sentinel and Cluster;
   * with REDIS_URL, `rediss://` says it. Default false.
   */
  redisTls?: boolean | string;
  /** PEM CA file that signed the Redis servers' certificates (SYNCGUARD_REDIS_CA_FILE); needs TLS. Default: the system's CAs. */
  redisCaFile?: string;
  /** Prefix of every Redis key this controller writes (BullMQ's too). Default `syncguard`. */
  redisKeyPrefix?: string;
  /**
   * Longest wait for one Redis command of the API and the gateway, in ms. A Redis that stops
   * answering (overloaded, paused, a network partition) then fails calls with
   * SG_ERR_UNAVAILABLE (503) instead of hanging them. Default 3000.
   */
  redisCommandTimeoutMs?: number;
  /**
   * The bootstrap admin API token (SYNCGUARD_ADMIN_TOKEN). Required, at least 32 characters
   * (e.g. `openssl rand -base64 32`): it is tried by anyone who reaches the port.
   */
  adminToken: string;
  /**
   * The key that seals stored secrets (SCIM target tokens and client secrets) with AES-256-GCM
   * (SYNCGUARD_SECRET_KEY): 32 bytes as base64 (`openssl rand -base64 32`) or 64 hex digits.
   * Unset: no secret can be stored, so SCIM targets are refused.
   */
  secretKey?: string;
  /**
   * Earlier secret keys, comma-separated (SYNCGUARD_SECRET_KEY_PREVIOUS): they still open what
   * they sealed while secrets move to `secretKey` (key rotation, see the README).
   */
  previousSecretKeys?: string;
  /** SMTP server for quarantine notifications, e.g. `smtp://127.0.0.1:2525`. Unset: no email is sent (the status says so). */
  smtpUrl?: string;
  /** Sender address of notifications. Default `syncguard@localhost`. */
  mailFrom?: string;
  /** How admins reach this controller; used in emails. Default `http://127.0.0.1:<port>`. */
  publicUrl?: string;
  /** TLS certificate (PEM file). Set together with `tlsKeyFile` to serve HTTPS/WSS. */
  tlsCertFile?: string;
  /** TLS private key (PEM file). */
  tlsKeyFile?: string;
  /**
   * PEM file of the CA(s) that sign agents' client certificates (SYNCGUARD_TLS_CLIENT_CA).
   * Set: an agent WebSocket upgrade without a certificate signed by it is refused before
   * any token is read (mutual TLS); API clients are not asked for one. Needs tlsCertFile.
   */
  tlsClientCaFile?: string;
  /** Heartbeat interval announced to agents. Default 15000. A peer silent for 3 intervals is terminated. */
  heartbeatIntervalMs?: number;
  /** Time an agent has to send AgentHello after the upgrade. Default 10000. */
  helloTimeoutMs?: number;
  /** Largest agent frame in bytes. Default 4 MiB. */
  maxFrameBytes?: number;
  /** Most changes per ChangeBatch. Default 1000. */
  maxBatchChanges?: number;
  /**
   * Most unacknowledged batches in flight per agent connection. Default 16. An agent that
   * sends more is disconnected (close code RATE_LIMITED, error LIMIT_EXCEEDED).
   */
  maxInFlightBatches?: number;
  /** Most batches in one cycle; a cycle with more fails with LIMIT_EXCEEDED. Default 100000. */
  maxCycleBatches?: number;
  /**
   * Most bytes of changes (as encoded by the agent) staged for one cycle; a cycle with more
   * fails with LIMIT_EXCEEDED. Default 4294967296 (4 GiB).
   */
  maxCycleBytes?: number;
  /** Objects applied to the target per atomic step. Default 1000. */
  applyChunkSize?: number;
  /** Pause between apply chunks, for crash tests that must kill a controller mid-apply. Default 0. */
  applyStepDelayMs?: number;
  /**
   * Days provisioning-log entries and cycle records are kept; older ones are removed as new
   * ones are written (never the current, last or committed cycle). Default 30.
   */
  historyRetentionDays?: number;
  /**
   * The program (not createServer) sets V8's heap growing factor to 1 + this/100: the old
   * generation is collected when it has grown by this much over the live heap. Default 100;
   * 0 leaves V8's own heuristics (which let it grow to about four times the live heap).
   */
  heapGrowingPercent?: number;
  /** BullMQ lock duration of cycle jobs; a crashed worker's job is taken over after about this long. Default 30000. */
  jobLockMs?: number;
  /** How often BullMQ looks for stalled jobs. Default 30000. */
  stalledIntervalMs?: number;
  /** Email send attempts before the notification is marked failed. Default 10. */
  mailAttempts?: number;
  /** First retry delay of a failed email (exponential backoff). Default 5000. */
  mailBackoffMs?: number;
  /** Webhook POST attempts before a delivery is marked failed. Default 10. */
  webhookAttempts?: number;
  /** First retry delay of a failed webhook POST (exponential backoff). Default 5000. */
  webhookBackoffMs?: number;
  /** How long one webhook POST may take before it counts as failed. Default 10000. */
  webhookTimeoutMs?: number;
  /**
   * How often a controller with workers sweeps every configuration's notification outbox for
   * events not yet queued (one whose controller died between the transition and the enqueue);
   * the first sweep runs at start. 0: only at start. Default 10000.
   */
  notifyOutboxSweepMs?: number;
  /** Pause before queueing an event written with its transition, for crash tests that kill a controller in between. Default 0. */
  notifyDispatchDelayMs?: number;
  /** A running cycle with no frame from its agent for this long is failed. Default 600000. */
  cycleTimeoutMs?: number;
  /**
   * How long allow-deletes waits for the released cycle's apply before it answers 202
   * (still applying: watch the status) instead of the outcome. Default 30000.
   */
  releaseWaitMs?: number;
  /** Parallel cycle jobs per process (different configurations). Default 4. */
  cycleConcurrency?: number;
  /** Start BullMQ workers in this process. Default true. */
  workers?: boolean;
  /** Start the per-configuration job schedulers. Default true. */
  schedule?: boolean;
  /** pino log level. Default `info`. */
  logLevel?: string;
  /**
   * Failed authentications (API, dashboard, `/agent` upgrade) one client address may make
   * per `authFailureWindowMs` before every request from it is answered 429 until the window
   * ends. Counted in Redis, so shared by replicas. Default 20; 0 turns the limit off.
   */
  authFailureLimit?: number;
  /** The window of `authFailureLimit`, in ms. Default 60000. */
  authFailureWindowMs?: number;
  /**
   * Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed: a list of
   * addresses or CIDRs (SYNCGUARD_TRUST_PROXY, comma-separated), e.g. `127.0.0.1,10.0.0.0/8`.
   * Default none: the client address is the TCP peer and TLS means this process's own TLS.
   * A request from a trusted proxy with `X-Forwarded-Proto: https` gets Secure cookies, and
   * its client address (for `authFailureLimit`) is the first untrusted hop.
   */
  trustProxy?: string | readonly string[];
  /** Lifetime of a /admin/queues session (the cookie and its Redis record), in ms. Default 3600000 (1 h). */
  dashboardSessionTtlMs?: number;
}

export interface CompiledControllerOptions {
  readonly port: number;
  readonly host: string;
  /** The one server's URL (null with Sentinel or Cluster: see `redis`). */
  readonly redisUrl: string | null;
  /** Where Redis is and how to connect (topology, credentials, TLS, timeout). */
  readonly redis: RedisSettings;
  readonly redisKeyPrefix: string;
  readonly redisCommandTimeoutMs: number;
  readonly adminToken: string;
  /** The current secret key and the earlier ones (null: none set). */
  readonly secretKeys: { readonly current: Buffer; readonly previous: readonly Buffer[] } | null;
  readonly smtpUrl: string | null;
  readonly mailFrom: string;
  readonly publicUrl: string | null;
  readonly tls: { readonly cert: Buffer; readonly key: Buffer; readonly clientCa: Buffer | null } | null;
  readonly heartbeatIntervalMs: number;
  readonly helloTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxBatchChanges: number;
  readonly maxInFlightBatches: number;
  readonly maxCycleBatches: number;
  readonly maxCycleBytes: number;
  readonly applyChunkSize: number;
  readonly historyRetentionDays: number;
  readonly heapGrowingPercent: number;
  readonly applyStepDelayMs: number;
  readonly jobLockMs: number;
  readonly stalledIntervalMs: number;
  readonly mailAttempts: number;
  readonly mailBackoffMs: number;
  readonly webhookAttempts: number;
  readonly webhookBackoffMs: number;
  readonly webhookTimeoutMs: number;
  readonly notifyOutboxSweepMs: number;
  readonly notifyDispatchDelayMs: number;
  readonly cycleTimeoutMs: number;
  readonly releaseWaitMs: number;
  readonly cycleConcurrency: number;
  readonly workers: boolean;
  readonly schedule: boolean;
  readonly logLevel: string;
  readonly authFailureLimit: number;
  readonly authFailureWindowMs: number;
  readonly trustProxy: readonly string[];
  readonly dashboardSessionTtlMs: number;
}

/** The HTTP layer's security settings, as buildHttpApp takes them. */
export type HttpSecurityOptions = Pick<
  CompiledControllerOptions,
  'authFailureLimit' | 'authFailureWindowMs' | 'trustProxy' | 'dashboardSessionTtlMs'
>;

/** Their defaults (documented on ControllerOptions). */
export const DEFAULT_HTTP_SECURITY: HttpSecurityOptions = Object.freeze({
  authFailureLimit: 20,
  authFailureWindowMs: 60_000,
  trustProxy: Object.freeze([]),
  dashboardSessionTtlMs: 3_600_000,
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Shortest SYNCGUARD_ADMIN_TOKEN accepted. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

function int(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function text(name: string, value: unknown, fallback: string | null): string | null {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string') throw new ConfigError(name, `must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function url(name: string, value: string | null, protocols: string[]): string | null {
  if (value === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `is not a URL: ${JSON.stringify(redactUrlCredentials(value))}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(
      name,
      `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got ${JSON.stringify(redactUrlCredentials(value))}`,
    );
  }
  return value;
}

/** The public URL goes into every notification email: it must not carry a user or password. */
function withoutCredentials(name: string, value: string | null): string | null {
  if (value === null) return null;
  const parsed = new URL(value);
  if (parsed.username || parsed.password) throw new ConfigError(name, 'must not hold a user or password');
  return value;
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(name, `must be true or false, got ${JSON.stringify(value)}`);
}

function addressList(name: string, value: unknown): readonly string[] {
  if (value === undefined || value === null || value === '') return Object.freeze([]);
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || !items.every((x) => typeof x === 'string'))
    throw new ConfigError(name, 'must be a list of addresses or CIDRs');
  const list = items.map((x: string) => x.trim()).filter((x) => x.length > 0);
  for (const item of list) {
    if (!/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/.test(item) && !['loopback', 'linklocal', 'uniquelocal'].includes(item))
      throw new ConfigError(name, `${JSON.stringify(item)} is not an IP address, a CIDR, loopback, linklocal or uniquelocal`);
  }
  return Object.freeze(list);
}

function readPem(name: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (cause) {
    throw new ConfigError(name, `cannot read ${file}: ${(cause as Error).message}`);
  }
}

/**
 * Applies defaults, checks every setting (errors name it) and returns a frozen object.
 * Every bad setting is reported: one is thrown as its ConfigError, several together as an
 * InvalidSettingsError.
 */
export function compileControllerOptions(options: ControllerOptions): CompiledControllerOptions {
  const problems: ConfigError[] = [];
  const check = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error);
      return fallback;
    }
  };
  const adminToken = check(() => {
    const token = text('adminToken', options.adminToken, null);
    if (token === null) throw new ConfigError('adminToken', 'is required (SYNCGUARD_ADMIN_TOKEN)');
    if (token.length < MIN_ADMIN_TOKEN_LENGTH)
      throw new ConfigError(
        'adminToken',
        `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (SYNCGUARD_ADMIN_TOKEN; e.g. openssl rand -base64 32)`,
      );
    return token;
  }, '');
  const secretKeys = check((): CompiledControllerOptions['secretKeys'] => {
    const current = text('secretKey', options.secretKey, null);
    const previous = text('previousSecretKeys', options.previousSecretKeys, null);
    const parse = (name: string, value: string): Buffer => {
      const key = parseSecretKey(value);
      if (!key) throw new ConfigError(name, 'must be 32 bytes as base64 (openssl rand -base64 32) or 64 hex digits');
      return key;
    };
    if (current === null) {
      if (previous !== null)
        throw new ConfigError('previousSecretKeys', 'needs secretKey (SYNCGUARD_SECRET_KEY), the key that seals');
      return null;
    }
    return Object.freeze({
      current: parse('secretKey', current),
      previous: Object.freeze(
        (previous ?? '')
          .split(',')
          .map((k) => k.trim())
          .filter((k) => k !== '')
          .map((k) => parse('previousSecretKeys', k)),
      ),
    });
  }, null);
  const prefix = check(() => {
    const value = text('redisKeyPrefix', options.redisKeyPrefix, 'syncguard')!;
    if (!/^[A-Za-z0-9_.:-]+$/.test(value)) throw new ConfigError('redisKeyPrefix', 'may only hold letters, digits and _ . : -');
    return value;
  }, 'syncguard');
  const tls = check((): CompiledControllerOptions['tls'] => {
    const certFile = text('tlsCertFile', options.tlsCertFile, null);
    const keyFile = text('tlsKeyFile', options.tlsKeyFile, null);
    const clientCaFile = text('tlsClientCaFile', options.tlsClientCaFile, null);
    if ((certFile === null) !== (keyFile === null)) {
      throw new ConfigError(certFile === null ? 'tlsCertFile' : 'tlsKeyFile', 'set both tlsCertFile and tlsKeyFile, or neither');
    }
    if (clientCaFile !== null && certFile === null)
      throw new ConfigError('tlsClientCaFile', 'needs tlsCertFile and tlsKeyFile: client certificates are checked over TLS');
    if (!certFile || !keyFile) return null;
    return {
      cert: readPem('tlsCertFile', certFile),
      key: readPem('tlsKeyFile', keyFile),
      clientCa: clientCaFile === null ? null : readPem('tlsClientCaFile', clientCaFile),
    };
  }, null);
  const mailFrom = check(() => {
    const value = text('mailFrom', options.mailFrom, 'syncguard@localhost')!;
    if (!/^[^\s@]+@[^\s@]+$/.test(value) && !/<[^\s@]+@[^\s@]+>/.test(value)) {
      throw new ConfigError('mailFrom', `is not an email address: ${JSON.stringify(value)}`);
    }
    return value;
  }, 'syncguard@localhost');
  const logLevel = check(() => {
    const value = text('logLevel', options.logLevel, 'info')!;
    if (!LOG_LEVELS.includes(value))
      throw new ConfigError('logLevel', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
    return value;
  }, 'info');
  const i = (name: keyof ControllerOptions, fallback: number, min: number, max?: number) =>
    check(() => int(name, options[name], fallback, min, max), fallback);
  const redisCommandTimeoutMs = i('redisCommandTimeoutMs', 3000, 100, 600_000);
  const redis = check(
    () => compileRedisSettings(options, redisCommandTimeoutMs),
    compileRedisSettings({}, redisCommandTimeoutMs),
  );
  const compiled: CompiledControllerOptions = {
    port: i('port', 8080, 0, 65535),
    host: check(() => text('host', options.host, '0.0.0.0')!, '0.0.0.0'),
    redisUrl: redis.topology.kind === 'single' ? redis.topology.url : null,
    redis,
    redisKeyPrefix: prefix,
    redisCommandTimeoutMs,
    adminToken,
    secretKeys,
    smtpUrl: check(() => url('smtpUrl', text('smtpUrl', options.smtpUrl, null), ['smtp:', 'smtps:']), null),
    mailFrom,
    publicUrl: check(
      () => withoutCredentials('publicUrl', url('publicUrl', text('publicUrl', options.publicUrl, null), ['http:', 'https:'])),
      null,
    ),
    tls,
    heartbeatIntervalMs: i('heartbeatIntervalMs', DEFAULT_LIMITS.heartbeatIntervalMs, 100),
    helloTimeoutMs: i('helloTimeoutMs', 10_000, 100),
    maxFrameBytes: i('maxFrameBytes', DEFAULT_LIMITS.maxFrameBytes, 1024, 64 * 1024 * 1024),
    maxBatchChanges: i('maxBatchChanges', DEFAULT_LIMITS.maxBatchChanges, 1, 100_000),
    maxInFlightBatches: i('maxInFlightBatches', DEFAULT_LIMITS.maxInFlightBatches, 1, 1024),
    maxCycleBatches: i('maxCycleBatches', 100_000, 1, 100_000_000),
    maxCycleBytes: i('maxCycleBytes', 4 * 1024 ** 3, 1024, 2 ** 46),
    applyChunkSize: i('applyChunkSize', 1000, 1, 100_000),
    applyStepDelayMs: i('applyStepDelayMs', 0, 0, 60_000),
    historyRetentionDays: i('historyRetentionDays', 30, 1, 3650),
    heapGrowingPercent: i('heapGrowingPercent', 100, 0, 1000),
    jobLockMs: i('jobLockMs', 30_000, 500),
    stalledIntervalMs: i('stalledIntervalMs', 30_000, 200),
    mailAttempts: i('mailAttempts', 10, 1, 1000),
    mailBackoffMs: i('mailBackoffMs', 5000, 1),
    webhookAttempts: i('webhookAttempts', 10, 1, 1000),
    webhookBackoffMs: i('webhookBackoffMs', 5000, 1),
    webhookTimeoutMs: i('webhookTimeoutMs', 10_000, 100, 300_000),
    notifyOutboxSweepMs: i('notifyOutboxSweepMs', 10_000, 0, 3_600_000),
    notifyDispatchDelayMs: i('notifyDispatchDelayMs', 0, 0, 3_600_000),
    cycleTimeoutMs: i('cycleTimeoutMs', 600_000, 1000),
    releaseWaitMs: i('releaseWaitMs', 30_000, 0, 600_000),
    cycleConcurrency: i('cycleConcurrency', 4, 1, 256),
    workers: check(() => flag('workers', options.workers, true), true),
    schedule: check(() => flag('schedule', options.schedule, true), true),
    logLevel,
    authFailureLimit: i('authFailureLimit', DEFAULT_HTTP_SECURITY.authFailureLimit, 0, 1_000_000),
    authFailureWindowMs: i('authFailureWindowMs', DEFAULT_HTTP_SECURITY.authFailureWindowMs, 1000, 86_400_000),
    trustProxy: check(() => addressList('trustProxy', options.trustProxy), Object.freeze([])),
    dashboardSessionTtlMs: i('dashboardSessionTtlMs', DEFAULT_HTTP_SECURITY.dashboardSessionTtlMs, 1000, 7 * 86_400_000),
  };
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new InvalidSettingsError(problems);
  return Object.freeze(compiled);
}

import fs from 'node:fs';
import { Command, Option } from 'commander';
import YAML from 'yaml';
import type { ControllerOptions } from './controller-options';
import { ConfigError } from './errors';

/**
 * One setting of `syncguard-controller`: its name (the environment variable, which is also
 * its key in the `--config` file), the flag when it has one, and the ControllerOptions key.
 */
export interface ControllerSetting {
  readonly env: string;
  readonly option: keyof ControllerOptions;
  readonly flag?: string;
  readonly kind: 'string' | 'integer' | 'boolean';
  readonly description: string;
}

const s = (
  env: string,
  option: keyof ControllerOptions,
  kind: ControllerSetting['kind'],
  description: string,
  flag?: string,
): ControllerSetting => Object.freeze({ env, option, kind, description, flag });

/** Every setting, in the order `--help` and the README list them. */
export const CONTROLLER_SETTINGS: readonly ControllerSetting[] = Object.freeze([
  s('SYNCGUARD_PORT', 'port', 'integer', 'HTTP and agent WebSocket port (default 8080)', 'port'),
  s('SYNCGUARD_HOST', 'host', 'string', 'interface to listen on (default 0.0.0.0)', 'host'),
  s('REDIS_URL', 'redisUrl', 'string', 'Redis URL, redis:// or rediss:// (default redis://127.0.0.1:6379)', 'redis-url'),
  s(
    'SYNCGUARD_REDIS_SENTINELS',
    'redisSentinels',
    'string',
    'Redis Sentinel: the sentinels, host:port,... (instead of REDIS_URL; needs SYNCGUARD_REDIS_SENTINEL_NAME)',
  ),
  s('SYNCGUARD_REDIS_SENTINEL_NAME', 'redisSentinelName', 'string', 'the master group name the sentinels monitor'),
  s(
    'SYNCGUARD_REDIS_CLUSTER_NODES',
    'redisClusterNodes',
    'string',
    'Redis Cluster: seed nodes, host:port,... (instead of REDIS_URL)',
  ),
  s('SYNCGUARD_REDIS_USERNAME', 'redisUsername', 'string', 'ACL user of the Redis nodes (default none)'),
  s('SYNCGUARD_REDIS_PASSWORD', 'redisPassword', 'string', 'password of the Redis nodes (or in REDIS_URL; default none)'),
  s('SYNCGUARD_REDIS_SENTINEL_PASSWORD', 'redisSentinelPassword', 'string', "the sentinels' own password (default none)"),
  s('SYNCGUARD_REDIS_TLS', 'redisTls', 'boolean', 'TLS to the Sentinel or Cluster nodes (REDIS_URL: rediss://; default false)'),
  s('SYNCGUARD_REDIS_CA_FILE', 'redisCaFile', 'string', "PEM CA of the Redis servers' certificates (default system CAs)"),
  s('SYNCGUARD_REDIS_PREFIX', 'redisKeyPrefix', 'string', 'prefix of every Redis key (default syncguard)', 'redis-prefix'),
  s(
    'SYNCGUARD_REDIS_COMMAND_TIMEOUT_MS',
    'redisCommandTimeoutMs',
    'integer',
    'longest wait for one Redis command (default 3000)',
  ),
  s('SYNCGUARD_ADMIN_TOKEN', 'adminToken', 'string', 'bootstrap admin API token, 32+ characters (required)', 'admin-token'),
  s(
    'SYNCGUARD_SECRET_KEY',
    'secretKey',
    'string',
    'key sealing stored secrets (SCIM targets), 32 bytes base64 or hex (default none: no SCIM target)',
  ),
  s('SYNCGUARD_SECRET_KEY_PREVIOUS', 'previousSecretKeys', 'string', 'earlier secret keys, comma-separated (key rotation)'),
  s('SMTP_URL', 'smtpUrl', 'string', 'SMTP server for notifications, smtp:// or smtps:// (default none)', 'smtp-url'),
  s('SYNCGUARD_MAIL_FROM', 'mailFrom', 'string', 'sender of notifications (default syncguard@localhost)', 'mail-from'),
  s('SYNCGUARD_PUBLIC_URL', 'publicUrl', 'string', 'how admins reach this controller, used in emails', 'public-url'),
  s('SYNCGUARD_TLS_CERT', 'tlsCertFile', 'string', 'TLS certificate, PEM (with SYNCGUARD_TLS_KEY: HTTPS and wss://)', 'tls-cert'),
  s('SYNCGUARD_TLS_KEY', 'tlsKeyFile', 'string', 'TLS private key, PEM', 'tls-key'),
  s(
    'SYNCGUARD_TLS_CLIENT_CA',
    'tlsClientCaFile',
    'string',
    'PEM CA file: agents must present a client certificate it signed (mutual TLS on /agent)',
    'tls-client-ca',
  ),
  s('SYNCGUARD_LOG_LEVEL', 'logLevel', 'string', 'fatal|error|warn|info|debug|trace|silent (default info)', 'log-level'),
  s(
    'SYNCGUARD_TRUST_PROXY',
    'trustProxy',
    'string',
    'reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-* headers count',
    'trust-proxy',
  ),
  s('SYNCGUARD_AUTH_FAILURE_LIMIT', 'authFailureLimit', 'integer', 'failed authentications per client and window (default 20)'),
  s('SYNCGUARD_AUTH_FAILURE_WINDOW_MS', 'authFailureWindowMs', 'integer', 'that window, ms (default 60000)'),
  s(
    'SYNCGUARD_DASHBOARD_SESSION_TTL_MS',
    'dashboardSessionTtlMs',
    'integer',
    '/admin/queues session lifetime, ms (default 3600000)',
  ),
  s('SYNCGUARD_HEARTBEAT_INTERVAL_MS', 'heartbeatIntervalMs', 'integer', 'announced to agents (default 15000)'),
  s('SYNCGUARD_HELLO_TIMEOUT_MS', 'helloTimeoutMs', 'integer', 'time an agent has to say hello (default 10000)'),
  s('SYNCGUARD_MAX_FRAME_BYTES', 'maxFrameBytes', 'integer', 'largest agent frame (default 4194304)'),
  s('SYNCGUARD_MAX_BATCH_CHANGES', 'maxBatchChanges', 'integer', 'most changes per batch (default 1000)'),
  s('SYNCGUARD_MAX_IN_FLIGHT_BATCHES', 'maxInFlightBatches', 'integer', 'unacknowledged batches per agent (default 16)'),
  s('SYNCGUARD_MAX_CYCLE_BATCHES', 'maxCycleBatches', 'integer', 'most batches in one cycle (default 100000)'),
  s('SYNCGUARD_MAX_CYCLE_BYTES', 'maxCycleBytes', 'integer', 'most bytes of changes staged for one cycle (default 4 GiB)'),
  s('SYNCGUARD_APPLY_CHUNK_SIZE', 'applyChunkSize', 'integer', 'objects per atomic apply step (default 1000)'),
  s(
    'SYNCGUARD_APPLY_STEP_DELAY_MS',
    'applyStepDelayMs',
    'integer',
    'pause after each apply step, for tests and demos of a slow apply (default 0)',
  ),
  s('SYNCGUARD_HISTORY_RETENTION_DAYS', 'historyRetentionDays', 'integer', 'days logs and cycle records are kept (default 30)'),
  s('SYNCGUARD_HEAP_GROWING_PERCENT', 'heapGrowingPercent', 'integer', "V8's heap growing percent (default 100)"),
  s('SYNCGUARD_JOB_LOCK_MS', 'jobLockMs', 'integer', 'BullMQ lock of cycle jobs (default 30000)'),
  s('SYNCGUARD_STALLED_INTERVAL_MS', 'stalledIntervalMs', 'integer', 'stalled-job check interval (default 30000)'),
  s('SYNCGUARD_MAIL_ATTEMPTS', 'mailAttempts', 'integer', 'email send attempts (default 10)'),
  s('SYNCGUARD_MAIL_BACKOFF_MS', 'mailBackoffMs', 'integer', 'first email retry delay, exponential (default 5000)'),
  s('SYNCGUARD_WEBHOOK_ATTEMPTS', 'webhookAttempts', 'integer', 'webhook POST attempts (default 10)'),
  s('SYNCGUARD_WEBHOOK_BACKOFF_MS', 'webhookBackoffMs', 'integer', 'first webhook retry delay, exponential (default 5000)'),
  s('SYNCGUARD_WEBHOOK_TIMEOUT_MS', 'webhookTimeoutMs', 'integer', 'longest wait for one webhook POST (default 10000)'),
  s(
    'SYNCGUARD_NOTIFY_OUTBOX_SWEEP_MS',
    'notifyOutboxSweepMs',
    'integer',
    'how often the notification outboxes are swept for events not yet queued (default 10000; 0: at start only)',
  ),
  s(
    'SYNCGUARD_NOTIFY_DISPATCH_DELAY_MS',
    'notifyDispatchDelayMs',
    'integer',
    'pause before queueing a notification written with its transition, for crash tests (default 0)',
  ),
  s('SYNCGUARD_CYCLE_TIMEOUT_MS', 'cycleTimeoutMs', 'integer', 'a cycle silent this long is failed (default 600000)'),
  s('SYNCGUARD_RELEASE_WAIT_MS', 'releaseWaitMs', 'integer', 'allow-deletes waits this long for the apply (default 30000)'),
  s('SYNCGUARD_CYCLE_CONCURRENCY', 'cycleConcurrency', 'integer', 'parallel cycle jobs per process (default 4)'),
  s('SYNCGUARD_WORKERS', 'workers', 'boolean', 'false: an API-only replica (default true)'),
  s('SYNCGUARD_SCHEDULE', 'schedule', 'boolean', 'false: no scheduled cycles (default true)'),
]);

/** The setting's name for messages: `SYNCGUARD_ADMIN_TOKEN (--admin-token)`. */
export function controllerSettingName(option: string): string {
  const spec = CONTROLLER_SETTINGS.find((x) => x.option === option);
  if (!spec) return option;
  return spec.flag ? `${spec.env} (--${spec.flag})` : spec.env;
}

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** Reads one value as its kind wants it; config files give typed values, the environment and flags text. */
function convert(spec: ControllerSetting, raw: unknown): unknown {
  if (spec.kind === 'integer' && typeof raw === 'string' && /^\s*\d+\s*$/.test(raw)) return Number(raw);
  return raw;
}

export interface ResolvedControllerSettings {
  readonly options: ControllerOptions;
  /** What is wrong with the sources themselves (unknown keys, an unreadable file). */
  readonly problems: readonly ConfigError[];
}

/** The commander program of `syncguard-controller` (for `--help`). */
export function controllerProgram(version: string): Command {
  const program = new Command('syncguard-controller')
    .description('syncguard controller: agent gateway, sync pipeline, delete guard and admin API')
    .version(version, '-V, --version')
    .option('--config <file>', 'YAML or JSON file of settings, keys as the environment names below')
    .exitOverride();
  for (const spec of CONTROLLER_SETTINGS) {
    if (spec.flag) program.addOption(new Option(`--${spec.flag} <value>`, `${spec.description} [${spec.env}]`));
  }
  program.addHelpText(
    'after',
    [
      '',
      'Every setting (environment variable or config file key):',
      ...CONTROLLER_SETTINGS.map((x) => `  ${x.env.padEnd(36)} ${x.description}`),
      '',
      'Flags override the environment, which overrides the config file. A bad setting stops',
      'the program with exit status 78, naming every bad setting.',
    ].join('\n'),
  );
  return program;
}

/**
 * Flags > environment > `--config FILE`. Every problem of the sources (unknown keys, an
 * unreadable file) is returned, not thrown, so that the caller reports them together with
 * the values' problems. Commander throws for `--help`, `--version` and unknown flags.
 */
export function resolveControllerSettings(
  program: Command,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ResolvedControllerSettings {
  program.parse([...argv], { from: 'user' });
  const flags = program.opts<Record<string, string | undefined>>();
  const problems: ConfigError[] = [];
  const fromFile = flags.config ? readControllerConfigFile(flags.config, problems) : {};
  const options: Record<string, unknown> = {};
  for (const spec of CONTROLLER_SETTINGS) {
    const fromFlag = spec.flag ? flags[camel(spec.flag)] : undefined;
    const fromEnv = env[spec.env] === '' ? undefined : env[spec.env];
    const raw = fromFlag ?? fromEnv ?? fromFile[spec.env];
    if (raw !== undefined) options[spec.option] = convert(spec, raw);
  }
  return { options: options as unknown as ControllerOptions, problems };
}

/** A config file's settings by name; an unknown key is a problem naming it. */
export function readControllerConfigFile(file: string, problems: ConfigError[]): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    problems.push(new ConfigError('--config', `cannot read ${file}: ${(cause as Error).message}`));
    return {};
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (cause) {
    problems.push(new ConfigError('--config', `${file} is not YAML or JSON: ${(cause as Error).message}`));
    return {};
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(new ConfigError('--config', `${file} must hold a mapping of settings`));
    return {};
  }
  const known = new Set(CONTROLLER_SETTINGS.map((x) => x.env));
  for (const key of Object.keys(parsed)) {
    if (known.has(key)) continue;
    const hint = CONTROLLER_SETTINGS.find((x) => x.env.toLowerCase() === key.toLowerCase() || x.option === key);
    const didYouMean = hint ? ` (did you mean ${hint.env}?)` : '';
    problems.push(new ConfigError('--config', `${file}: unknown setting ${key}${didYouMean}; see syncguard-controller --help`));
  }
  return parsed as Record<string, unknown>;
}

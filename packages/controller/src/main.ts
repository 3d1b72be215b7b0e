#!/usr/bin/env node
import v8 from 'node:v8';
import fs from 'node:fs';
import { Command } from 'commander';
import pino from 'pino';
import YAML from 'yaml';
import { compileControllerOptions, type ControllerOptions } from './controller-options';
import { ConfigError, ControllerError } from './errors';
import { redactUrlCredentials } from './redact';
import { createServer } from './server';

/*
 * syncguard-controller: settings from flags > environment > --config FILE (YAML or
 * JSON, keys as in ControllerOptions). The only place that reads process.env.
 */

const ENV: Record<string, keyof ControllerOptions> = {
  SYNCGUARD_PORT: 'port',
  SYNCGUARD_HOST: 'host',
  REDIS_URL: 'redisUrl',
  SYNCGUARD_REDIS_PREFIX: 'redisKeyPrefix',
  SYNCGUARD_ADMIN_TOKEN: 'adminToken',
  SMTP_URL: 'smtpUrl',
  SYNCGUARD_MAIL_FROM: 'mailFrom',
  SYNCGUARD_PUBLIC_URL: 'publicUrl',
  SYNCGUARD_TLS_CERT: 'tlsCertFile',
  SYNCGUARD_TLS_KEY: 'tlsKeyFile',
  SYNCGUARD_LOG_LEVEL: 'logLevel',
  SYNCGUARD_TRUST_PROXY: 'trustProxy',
  SYNCGUARD_AUTH_FAILURE_LIMIT: 'authFailureLimit',
  SYNCGUARD_AUTH_FAILURE_WINDOW_MS: 'authFailureWindowMs',
  SYNCGUARD_DASHBOARD_SESSION_TTL_MS: 'dashboardSessionTtlMs',
};

const INTEGER_SETTINGS = new Set<keyof ControllerOptions>([
  'port',
  'heartbeatIntervalMs',
  'helloTimeoutMs',
  'maxFrameBytes',
  'maxBatchChanges',
  'maxInFlightBatches',
  'maxCycleBatches',
  'maxCycleBytes',
  'applyChunkSize',
  'applyStepDelayMs',
  'historyRetentionDays',
  'heapGrowingPercent',
  'jobLockMs',
  'stalledIntervalMs',
  'mailAttempts',
  'mailBackoffMs',
  'cycleTimeoutMs',
  'cycleConcurrency',
  'authFailureLimit',
  'authFailureWindowMs',
  'dashboardSessionTtlMs',
]);

function readConfigFile(file: string): Partial<ControllerOptions> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError('config', `cannot read ${file}: ${(cause as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (cause) {
    throw new ConfigError('config', `${file} is not YAML or JSON: ${(cause as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError('config', `${file} must hold a mapping of settings`);
  return parsed as Partial<ControllerOptions>;
}

function toNumbers(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    out[k] = INTEGER_SETTINGS.has(k as keyof ControllerOptions) && typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

export function resolveOptions(argv: string[], env: NodeJS.ProcessEnv): ControllerOptions {
  const program = new Command('syncguard-controller')
    .description('syncguard controller: agent gateway, sync pipeline, delete guard and admin API')
    .option('--config <file>', 'YAML or JSON file with settings (flags and environment override it)')
    .option('--port <port>', 'HTTP and WebSocket port (SYNCGUARD_PORT, default 8080)')
    .option('--host <host>', 'interface to listen on (SYNCGUARD_HOST, default 0.0.0.0)')
    .option('--redis-url <url>', 'Redis URL (REDIS_URL, default redis://127.0.0.1:6379)')
    .option('--redis-prefix <prefix>', 'Redis key prefix (SYNCGUARD_REDIS_PREFIX, default syncguard)')
    .option('--admin-token <token>', 'bootstrap admin API token (SYNCGUARD_ADMIN_TOKEN)')
    .option('--smtp-url <url>', 'SMTP server for notifications (SMTP_URL)')
    .option('--mail-from <address>', 'sender of notifications (SYNCGUARD_MAIL_FROM)')
    .option('--public-url <url>', 'how admins reach this controller, used in emails (SYNCGUARD_PUBLIC_URL)')
    .option('--tls-cert <file>', 'TLS certificate, PEM (SYNCGUARD_TLS_CERT)')
    .option('--tls-key <file>', 'TLS private key, PEM (SYNCGUARD_TLS_KEY)')
    .option('--log-level <level>', 'pino log level (SYNCGUARD_LOG_LEVEL, default info)')
    .option(
      '--trust-proxy <list>',
      'reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-* headers count (SYNCGUARD_TRUST_PROXY)',
    )
    .exitOverride()
    .parse(argv);
  const flags = program.opts<Record<string, string | undefined>>();
  const fromFile = flags.config ? readConfigFile(flags.config) : {};
  const fromEnv: Record<string, string> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  const fromFlags: Record<string, string> = {};
  const flagMap: Record<string, keyof ControllerOptions> = {
    port: 'port',
    host: 'host',
    redisUrl: 'redisUrl',
    redisPrefix: 'redisKeyPrefix',
    adminToken: 'adminToken',
    smtpUrl: 'smtpUrl',
    mailFrom: 'mailFrom',
    publicUrl: 'publicUrl',
    tlsCert: 'tlsCertFile',
    tlsKey: 'tlsKeyFile',
    logLevel: 'logLevel',
    trustProxy: 'trustProxy',
  };
  for (const [flag, key] of Object.entries(flagMap)) {
    const v = flags[flag];
    if (v !== undefined) fromFlags[key] = v;
  }
  return toNumbers({ ...fromFile, ...fromEnv, ...fromFlags }) as unknown as ControllerOptions;
}

async function main(): Promise<void> {
  let options: ControllerOptions;
  try {
    options = resolveOptions(process.argv, process.env);
    compileControllerOptions(options);
  } catch (error) {
    if (error instanceof ControllerError) {
      process.stderr.write(`syncguard-controller: ${redactUrlCredentials(error.message)}\n`);
      process.exit(2);
    }
    if ((error as { code?: string }).code?.startsWith('commander.')) {
      process.exit((error as { exitCode?: number }).exitCode ?? 2);
    }
    throw error;
  }
  const logger = pino({ level: options.logLevel ?? 'info', base: { component: 'syncguard-controller' } });
  const heapGrowing = compileControllerOptions(options).heapGrowingPercent;
  // V8 otherwise lets the old generation fill with garbage to about four times the live heap
  // before it collects: a long apply then peaks far above what it holds.
  if (heapGrowing > 0) v8.setFlagsFromString(`--heap-growing-percent=${heapGrowing}`);
  const server = await createServer(options, { logger });
  await server.listen();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`syncguard-controller: ${redactUrlCredentials((error as Error).message)}\n`);
    process.exit(1);
  });
}

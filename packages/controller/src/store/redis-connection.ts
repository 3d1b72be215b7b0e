import fs from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { ConfigError, ControllerError } from '../errors';
import { redactUrlCredentials } from '../redact';
import { checkRedisRequirements } from './redis-requirements';

/** One `host:port` of a Sentinel or a Cluster node. */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/**
 * Where the controller's state lives: one server (`REDIS_URL`), a master found through
 * Sentinel (`SYNCGUARD_REDIS_SENTINELS` + `SYNCGUARD_REDIS_SENTINEL_NAME`), or a Redis
 * Cluster (`SYNCGUARD_REDIS_CLUSTER_NODES`, the seed nodes: the others are discovered).
 */
export type RedisTopology =
  | { readonly kind: 'single'; readonly url: string }
  | { readonly kind: 'sentinel'; readonly sentinels: readonly RedisNode[]; readonly name: string }
  | { readonly kind: 'cluster'; readonly nodes: readonly RedisNode[] };

/** Everything needed to connect, checked (compileRedisSettings). */
export interface RedisSettings {
  readonly topology: RedisTopology;
  /** ACL user of the data nodes (null: `default`, or the URL's). */
  readonly username: string | null;
  /** Password of the data nodes (null: none, or the URL's). */
  readonly password: string | null;
  /** The sentinels' own password (Sentinel only; null: none). */
  readonly sentinelPassword: string | null;
  /** TLS to every node (and, with Sentinel, to the sentinels); null: plain TCP (or the URL's `rediss://`). */
  readonly tls: { readonly ca: Buffer | null } | null;
  /** Longest wait for one command of the API, the gateway and the queues' producers, in ms. */
  readonly commandTimeoutMs: number;
}

/** The raw settings as ControllerOptions holds them (strings from the environment, or typed values from a file). */
export interface RedisSettingsInput {
  redisUrl?: unknown;
  redisSentinels?: unknown;
  redisSentinelName?: unknown;
  redisClusterNodes?: unknown;
  redisUsername?: unknown;
  redisPassword?: unknown;
  redisSentinelPassword?: unknown;
  redisTls?: unknown;
  redisCaFile?: unknown;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';

function optionalText(name: string, value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new ConfigError(name, `must be a string, got ${JSON.stringify(value)}`);
  return value;
}

/** `host:port,host:port` (or a list of them in a config file); `[::1]:6379` for IPv6. */
export function parseRedisNodes(name: string, value: unknown): RedisNode[] | null {
  if (value === undefined || value === null || value === '') return null;
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || !items.every((x) => typeof x === 'string'))
    throw new ConfigError(name, 'must be a comma-separated list of host:port');
  const nodes: RedisNode[] = [];
  for (const raw of items.map((x: string) => x.trim()).filter((x) => x.length > 0)) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(raw);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port < 1 || port > 65535)
      throw new ConfigError(name, `${JSON.stringify(raw)} is not host:port (e.g. 10.0.0.5:26379, [::1]:6379)`);
    nodes.push(Object.freeze({ host: m[1] ?? m[2]!, port }));
  }
  if (nodes.length === 0) throw new ConfigError(name, 'names no host:port');
  return nodes;
}

function tlsFlag(value: unknown): boolean | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError('redisTls', `must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * Checks the Redis settings together: exactly one topology, Sentinel's name with its
 * sentinels, a password in one place only, TLS the way the topology says it. Throws the
 * first ConfigError (naming the setting); `commandTimeoutMs` is checked by the caller.
 */
export function compileRedisSettings(input: RedisSettingsInput, commandTimeoutMs: number): RedisSettings {
  const url = optionalText('redisUrl', input.redisUrl);
  const sentinels = parseRedisNodes('redisSentinels', input.redisSentinels);
  const sentinelName = optionalText('redisSentinelName', input.redisSentinelName);
  const clusterNodes = parseRedisNodes('redisClusterNodes', input.redisClusterNodes);
  const username = optionalText('redisUsername', input.redisUsername);
  const password = optionalText('redisPassword', input.redisPassword);
  const sentinelPassword = optionalText('redisSentinelPassword', input.redisSentinelPassword);
  const tls = tlsFlag(input.redisTls);
  const caFile = optionalText('redisCaFile', input.redisCaFile);

  const chosen = [url && 'redisUrl', sentinels && 'redisSentinels', clusterNodes && 'redisClusterNodes'].filter(
    (x): x is string => typeof x === 'string',
  );
  if (chosen.length > 1)
    throw new ConfigError(
      chosen[1]!,
      'set only one of REDIS_URL, SYNCGUARD_REDIS_SENTINELS and SYNCGUARD_REDIS_CLUSTER_NODES (one server, Sentinel or Cluster)',
    );
  if (sentinels && !sentinelName)
    throw new ConfigError(
      'redisSentinelName',
      'is required with SYNCGUARD_REDIS_SENTINELS: the master group name the sentinels monitor',
    );
  if (sentinelName && !sentinels) throw new ConfigError('redisSentinelName', 'needs SYNCGUARD_REDIS_SENTINELS');
  if (sentinelName && !/^[A-Za-z0-9_.-]+$/.test(sentinelName))
    throw new ConfigError('redisSentinelName', `may only hold letters, digits and _ . -, got ${JSON.stringify(sentinelName)}`);
  if (sentinelPassword && !sentinels) throw new ConfigError('redisSentinelPassword', 'is for SYNCGUARD_REDIS_SENTINELS only');

  let topology: RedisTopology;
  if (sentinels) topology = Object.freeze({ kind: 'sentinel', sentinels: Object.freeze(sentinels), name: sentinelName! });
  else if (clusterNodes) topology = Object.freeze({ kind: 'cluster', nodes: Object.freeze(clusterNodes) });
  else {
    const value = url ?? DEFAULT_URL;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError('redisUrl', `is not a URL: ${JSON.stringify(redactUrlCredentials(value))}`);
    }
    if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
      throw new ConfigError(
        'redisUrl',
        `must start with redis:// or rediss://, got ${JSON.stringify(redactUrlCredentials(value))}`,
      );
    if (password && parsed.password)
      throw new ConfigError('redisPassword', 'REDIS_URL holds a password already: set it in one place');
    if (username && parsed.username)
      throw new ConfigError('redisUsername', 'REDIS_URL holds a user already: set it in one place');
    if (tls !== null) throw new ConfigError('redisTls', 'is for Sentinel and Cluster: with REDIS_URL, rediss:// means TLS');
    if (caFile && parsed.protocol !== 'rediss:') throw new ConfigError('redisCaFile', 'needs a rediss:// REDIS_URL (TLS)');
    topology = Object.freeze({ kind: 'single', url: value });
  }
  const usesTls = topology.kind === 'single' ? topology.url.startsWith('rediss:') : tls === true;
  if (caFile && !usesTls) throw new ConfigError('redisCaFile', 'needs SYNCGUARD_REDIS_TLS=true');
  let ca: Buffer | null = null;
  if (caFile) {
    try {
      ca = fs.readFileSync(caFile);
    } catch (cause) {
      throw new ConfigError('redisCaFile', `cannot read ${caFile}: ${(cause as Error).message}`);
    }
  }
  return Object.freeze({
    topology,
    username,
    password,
    sentinelPassword,
    tls: usesTls ? Object.freeze({ ca }) : null,
    commandTimeoutMs,
  });
}

/** Where the settings point, for messages (no password). */
export function describeRedis(settings: RedisSettings): string {
  const t = settings.topology;
  const list = (nodes: readonly RedisNode[]) =>
    nodes.map((n) => (n.host.includes(':') ? `[${n.host}]` : n.host) + `:${n.port}`).join(',');
  if (t.kind === 'single') return redactUrlCredentials(t.url);
  if (t.kind === 'sentinel') return `Sentinel master ${t.name} via ${list(t.sentinels)}`;
  return `Redis Cluster via ${list(t.nodes)}`;
}

/**
 * What each connection is for:
 * - `commands`: the API, the gateway, the stores: bounded by commandTimeoutMs;
 * - `producer`: BullMQ queues (adding jobs, also from API calls): no ioredis timeout, since a
 *   BullMQ queue whose first commands (its version check) time out stays broken for good;
 *   PipelineQueues bounds each call by commandTimeoutMs instead;
 * - `worker`: BullMQ workers, which block on Redis (BZPOPMIN): no command timeout, retried without end;
 * - `subscriber`: pub/sub for commands to agents on other replicas: no timeout.
 */
export type RedisRole = 'commands' | 'producer' | 'worker' | 'subscriber';

// A replica promoted by a failover, or a node that has turned into a replica, answers
// writes with READONLY: reconnect (Sentinel asks for the new master) and resend the command.
const reconnectOnReadonly = (error: Error): 2 | false => (error.message.startsWith('READONLY') ? 2 : false);

function tlsOptions(settings: RedisSettings): TlsOptions | undefined {
  if (!settings.tls) return undefined;
  return settings.tls.ca ? { ca: settings.tls.ca } : {};
}

function nodeOptions(settings: RedisSettings, role: RedisRole): RedisOptions {
  const bounded = role === 'commands';
  return {
    lazyConnect: true,
    // Bounded connections give up on a command after 3 reconnection attempts (the API then
    // answers 503); BullMQ's blocking connections and the subscriber wait for Redis to return.
    maxRetriesPerRequest: bounded ? 3 : null,
    ...(bounded ? { commandTimeout: settings.commandTimeoutMs } : {}),
    connectTimeout: 10_000,
    reconnectOnError: reconnectOnReadonly,
    ...(settings.username ? { username: settings.username } : {}),
    ...(settings.password ? { password: settings.password } : {}),
    ...(settings.tls ? { tls: tlsOptions(settings) } : {}),
  };
}

/**
 * A new connection for one role. A Cluster is returned typed as `Redis`: ioredis's Cluster
 * offers the same commands, pipelines, MULTI, scripts and pub/sub as one server (keys of one
 * script or MULTI must then share a slot: see keys.ts), and the code above only uses those.
 */
export function createRedisClient(settings: RedisSettings, role: RedisRole): Redis {
  const t = settings.topology;
  const options = nodeOptions(settings, role);
  if (t.kind === 'single') return new Redis(t.url, options);
  if (t.kind === 'sentinel') {
    return new Redis({
      ...options,
      sentinels: t.sentinels.map((n) => ({ host: n.host, port: n.port })),
      name: t.name,
      ...(settings.sentinelPassword ? { sentinelPassword: settings.sentinelPassword } : {}),
      ...(settings.tls ? { enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(settings) } : {}),
      // A sentinel that does not answer is skipped after this long, the next one is asked.
      sentinelCommandTimeout: Math.min(settings.commandTimeoutMs, 5000),
      // Follow a failover as soon as the sentinels announce it (+switch-master), not only
      // when the old master's connection breaks.
      failoverDetector: true,
      // Sentinel (and ioredis) may give a replica's address for a moment during a failover.
      role: 'master',
    });
  }
  const { lazyConnect: _lazy, ...redisOptions } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect: true,
    redisOptions,
    // A moved slot or a failover (CLUSTERDOWN, TRYAGAIN) is retried after these pauses,
    // within the command's timeout.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: Math.min(settings.commandTimeoutMs, 2000),
    // Writes and reads go to masters: reads of replicas could be behind the writes just made.
    scaleReads: 'master',
  };
  return new Cluster(
    t.nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions,
  ) as unknown as Redis;
}

/** Whether a client made by createRedisClient talks to a Redis Cluster. */
export function isCluster(client: Redis): boolean {
  return (client as unknown as { isCluster?: boolean }).isCluster === true;
}

/** How long the controller waits at start for its Redis before it gives up (exit status 1). */
export const START_TIMEOUT_MS = 10_000;

/** The controller's connections, one per role, connected and checked. */
export interface ConnectedRedis {
  readonly commands: Redis;
  readonly producer: Redis;
  readonly worker: Redis;
  readonly subscriber: Redis;
  readonly all: readonly Redis[];
  /** Whether they talk to a Redis Cluster. */
  readonly cluster: boolean;
  /** Closes every connection (QUIT, then a disconnect of any that does not answer). */
  close(): Promise<void>;
}

/**
 * Connects every role and checks the Redis (version, noeviction; on a Cluster every master).
 * Throws SG_ERR_REDIS naming where it tried, with every connection closed again.
 */
export async function connectRedis(settings: RedisSettings, onError: (error: Error) => void): Promise<ConnectedRedis> {
  const roles: RedisRole[] = ['commands', 'producer', 'worker', 'subscriber'];
  const [commands, producer, worker, subscriber] = roles.map((role) => createRedisClient(settings, role)) as [
    Redis,
    Redis,
    Redis,
    Redis,
  ];
  const all = [commands, producer, worker, subscriber];
  let lastError: Error | null = null;
  for (const r of all)
    r.on('error', (error: Error) => {
      lastError = error;
      onError(error);
    });
  const disconnect = () => {
    for (const r of all) r.disconnect();
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    // ioredis keeps asking unreachable sentinels (and cluster nodes) for ever: at start, a
    // Redis that is not there within START_TIMEOUT_MS is a failure to report, not a hang.
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${START_TIMEOUT_MS} ms${lastError ? ` (${lastError.message})` : ''}`)),
        START_TIMEOUT_MS,
      );
    });
    await Promise.race([Promise.all(all.map((r) => r.connect())), timeout]);
  } catch (cause) {
    disconnect();
    throw new ControllerError(
      'SG_ERR_REDIS',
      `cannot connect to Redis at ${describeRedis(settings)}: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  } finally {
    clearTimeout(timer);
  }
  const cluster = isCluster(commands);
  try {
    if (cluster) {
      const masters = (commands as unknown as Cluster).nodes('master');
      await Promise.all(masters.map((node) => checkRedisRequirements(node)));
    } else {
      await checkRedisRequirements(commands);
    }
  } catch (error) {
    disconnect();
    throw error;
  }
  return {
    commands,
    producer,
    worker,
    subscriber,
    all,
    cluster,
    async close() {
      await Promise.allSettled(
        all.map(async (r) => {
          try {
            await r.quit();
          } catch {
            r.disconnect();
          }
        }),
      );
    },
  };
}

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ManagedProcess,
  freePort,
  startRedis,
  startRedisCluster,
  startRedisSentinels,
  startSambaDc,
  startSlapd,
  startSmtp,
  waitFor,
  type RedisCluster,
  type RedisSentinelSet,
  type RedisServer,
  type SambaDc,
  type SambaDcOptions,
  type SlapdOptions,
  type SlapdServer,
  type SmtpSink,
} from '@syncguard/testkit';
import { CONTROLLER_SETTINGS } from '@syncguard/controller';
import { ApiClient, ApiError } from './api-client';

// Resolved through the workspace links, so this works from test/harness and test/dist/harness alike.
const packageDir = (name: string) => path.dirname(require.resolve(`@syncguard/${name}/package.json`));
/** The controller program; SYNCGUARD_E2E_CONTROLLER_MAIN runs another build of it (to compare two in a benchmark). */
export const CONTROLLER_MAIN =
  process.env.SYNCGUARD_E2E_CONTROLLER_MAIN ?? path.join(packageDir('controller'), 'dist', 'main.js');
export const AGENT_MAIN = path.join(packageDir('agent'), 'dist', 'main.js');
export const CTL_MAIN = path.join(packageDir('controller'), 'dist', 'cli', 'main.js');

export interface SystemOptions {
  slapd?: SlapdOptions;
  /**
   * Read an Active Directory instead: a throwaway Samba AD DC (no slapd is started), which
   * agents read over LDAPS as its service account.
   */
  samba?: SambaDcOptions;
  /** Redis with an append-only file, so that it can be killed and started with its data (one server only). */
  persistentRedis?: boolean;
  /**
   * Which Redis the controller runs on: one server, a Sentinel set (master, replica, three
   * sentinels) or a 3-master Cluster with a replica each. Default: `SYNCGUARD_E2E_REDIS`
   * (`single`, `sentinel` or `cluster`), else `single`, so that a whole suite can be run on
   * a cluster (`SYNCGUARD_E2E_REDIS=cluster npx jest ...`).
   */
  redisTopology?: RedisTopologyName;
  /** Extra environment for the controller process. */
  controllerEnv?: Record<string, string>;
  /** Settings written to a JSON file passed as `--config` (e.g. maxBatchChanges, mailBackoffMs). */
  controllerConfig?: Record<string, unknown>;
  /** Extra environment for agent processes. */
  agentEnv?: Record<string, string>;
  /** Options for node itself before the program, for the controller and agents (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Pass the children's output through to this process (demo). Default: kept for error messages. */
  inheritOutput?: boolean;
}

/** Another controller replica of a TestSystem (addController). */
export interface ControllerReplica {
  readonly port: number;
  readonly url: string;
  /** The HTTP API of this replica, with the admin token. */
  readonly api: ApiClient;
  readonly process: ManagedProcess;
}

export type RedisTopologyName = 'single' | 'sentinel' | 'cluster';

/** The Redis the controller of a TestSystem uses (see SystemOptions.redisTopology). */
export type TestRedis =
  | { kind: 'single'; server: RedisServer }
  | { kind: 'sentinel'; set: RedisSentinelSet }
  | { kind: 'cluster'; cluster: RedisCluster };

/** The topology a system gets when its options do not say (SYNCGUARD_E2E_REDIS). */
export function defaultRedisTopology(): RedisTopologyName {
  const value = process.env.SYNCGUARD_E2E_REDIS ?? 'single';
  if (value !== 'single' && value !== 'sentinel' && value !== 'cluster')
    throw new Error(`SYNCGUARD_E2E_REDIS must be single, sentinel or cluster, got ${JSON.stringify(value)}`);
  return value;
}

/** The server, Sentinel set or Cluster of a test system's Redis, to dispose of. */
function redisOf(setup: TestRedis): { dispose(): Promise<void> } {
  return setup.kind === 'single' ? setup.server : setup.kind === 'sentinel' ? setup.set : setup.cluster;
}

async function startTestRedis(topology: RedisTopologyName, persistent: boolean): Promise<TestRedis> {
  if (topology === 'sentinel') return { kind: 'sentinel', set: await startRedisSentinels() };
  if (topology === 'cluster') return { kind: 'cluster', cluster: await startRedisCluster() };
  return { kind: 'single', server: await startRedis({ persistent }) };
}

/** The controller's settings for that Redis. */
function redisEnv(redis: TestRedis): Record<string, string> {
  if (redis.kind === 'sentinel')
    return { SYNCGUARD_REDIS_SENTINELS: redis.set.sentinelAddresses, SYNCGUARD_REDIS_SENTINEL_NAME: redis.set.name };
  if (redis.kind === 'cluster') return { SYNCGUARD_REDIS_CLUSTER_NODES: redis.cluster.seeds };
  return { REDIS_URL: redis.server.url };
}

export interface ConfigurationBody {
  name: string;
  agentIds: string[];
  source: { baseDn: string; filter?: string; objectTypes: ('user' | 'group')[]; disabledAttribute?: string };
  syncIntervalSeconds?: number;
  accidentalDeletes?: DeletePolicyBody;
  notificationEmail?: string | null;
  /** `{type: 'cloudDirectory'}` (default) or a SCIM target (see the contract's "Targets"). */
  target?: Record<string, unknown>;
  notifications?: { emails?: string[]; webhooks?: { url: string; secret?: string | null }[] };
}

/** The delete policy settings (`accidentalDeletes`); null turns a rule off. */
export interface DeletePolicyBody {
  enabled?: boolean;
  threshold?: number;
  countDisables?: boolean;
  percentage?: number | null;
  minimumObjects?: number;
  perType?: Partial<Record<'user' | 'group', { threshold?: number | null; percentage?: number | null } | null>> | null;
  window?: { hours: number; threshold: number } | null;
  protected?: { dnSuffixes?: string[]; objectIds?: string[] } | null;
  memberRemovals?: { threshold: number } | null;
  hold?: 'cycle' | 'deletes';
}

/** One rule of the delete policy that tripped (`quarantine.trippedBy[]`). */
export interface TrippedRuleView {
  rule: string;
  value: number;
  limit: number;
  of?: number;
}

/**
 * Resolves as `waiting` does, unless `proc` exits first: then fails at once with how it
 * ended and what it printed (rather than waiting out the deadline).
 */
async function untilExited<T>(proc: ManagedProcess, name: string, waiting: Promise<T>): Promise<T> {
  let settled = false;
  const exited = proc.wait().then(() => {
    if (settled) return undefined as never;
    throw new Error(`${name} exited (${proc.exitDescription}):\n${proc.log}`);
  });
  try {
    return await Promise.race([waiting, exited]);
  } finally {
    settled = true;
    waiting.catch(() => undefined);
  }
}

/**
 * The whole product on loopback: a private slapd, redis-server and SMTP server, the real
 * controller program and real agent programs (built dist/), driven through the HTTP API.
 */
export class TestSystem {
  /** Fresh for every run: the demo prints it, and nobody else can guess it. */
  readonly adminToken = `sg-${randomBytes(24).toString('base64url')}`;
  /**
   * SYNCGUARD_SECRET_KEY of every controller of the system (webhook and SCIM secrets are stored
   * sealed with it, and refused without it); `controllerEnv` may set another.
   */
  readonly secretKey = randomBytes(32).toString('base64');
  readonly api: ApiClient;
  controller?: ManagedProcess;
  readonly agents = new Map<string, { process?: ManagedProcess; token: string; stateDir: string }>();
  /** Replicas started by addController (the first controller is `controller`). */
  readonly replicas: ControllerReplica[] = [];

  private constructor(
    readonly dir: string,
    private readonly directory: { slapd: SlapdServer } | { samba: SambaDc },
    /** The Redis the controller runs on (one server, Sentinel or Cluster). */
    readonly redisSetup: TestRedis,
    readonly smtp: SmtpSink,
    readonly port: number,
    private readonly options: SystemOptions,
  ) {
    this.api = new ApiClient(this.url, this.adminToken);
  }

  /** The OpenLDAP server (systems started without `samba`). */
  get slapd(): SlapdServer {
    if (!('slapd' in this.directory)) throw new Error('this system reads a Samba AD DC, not slapd');
    return this.directory.slapd;
  }

  /** The Samba AD DC (systems started with `samba`). */
  get samba(): SambaDc {
    if (!('samba' in this.directory)) throw new Error('this system reads slapd, not a Samba AD DC');
    return this.directory.samba;
  }

  /** The one Redis server (systems on a single server; Sentinel and Cluster: redisSetup). */
  get redis(): RedisServer {
    if (this.redisSetup.kind !== 'single') throw new Error(`this system runs on Redis ${this.redisSetup.kind}, not one server`);
    return this.redisSetup.server;
  }

  /** The Sentinel set (systems started with redisTopology 'sentinel'). */
  get sentinels(): RedisSentinelSet {
    if (this.redisSetup.kind !== 'sentinel') throw new Error(`this system runs on Redis ${this.redisSetup.kind}, not Sentinel`);
    return this.redisSetup.set;
  }

  /** The Redis Cluster (systems started with redisTopology 'cluster'). */
  get cluster(): RedisCluster {
    if (this.redisSetup.kind !== 'cluster') throw new Error(`this system runs on Redis ${this.redisSetup.kind}, not a Cluster`);
    return this.redisSetup.cluster;
  }

  /** What agents bind to: slapd's rootdn, or Samba's service account over LDAPS. */
  private get ldapEnv(): Record<string, string> {
    if ('samba' in this.directory) {
      const dc = this.directory.samba;
      return { LDAP_URL: dc.url, LDAP_BIND_DN: dc.serviceDn, LDAP_BIND_PASSWORD: dc.servicePassword, LDAP_CA_FILE: dc.caFile };
    }
    const slapd = this.directory.slapd;
    return { LDAP_URL: slapd.url, LDAP_BIND_DN: slapd.rootDn, LDAP_BIND_PASSWORD: slapd.rootPassword };
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get agentUrl(): string {
    return `ws://127.0.0.1:${this.port}/agent`;
  }

  static async start(options: SystemOptions = {}): Promise<TestSystem> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-e2e-'));
    const started = await Promise.allSettled([
      options.samba
        ? startSambaDc(options.samba).then((samba) => ({ samba }))
        : startSlapd(options.slapd).then((slapd) => ({ slapd })),
      startTestRedis(options.redisTopology ?? defaultRedisTopology(), options.persistentRedis ?? false),
      startSmtp(),
      freePort(),
    ]);
    const [directory, redis, smtp, port] = started;
    if (
      directory.status === 'rejected' ||
      redis.status === 'rejected' ||
      smtp.status === 'rejected' ||
      port.status === 'rejected'
    ) {
      // Stop what did start: a failed beforeAll has no system to dispose, and servers left
      // running keep jest from exiting.
      const disposals: Promise<unknown>[] = [];
      if (directory.status === 'fulfilled') {
        const d = directory.value;
        disposals.push('slapd' in d ? d.slapd.dispose() : d.samba.dispose());
      }
      if (redis.status === 'fulfilled') disposals.push(redisOf(redis.value).dispose());
      if (smtp.status === 'fulfilled') disposals.push(smtp.value.dispose());
      await Promise.allSettled(disposals);
      await fs.rm(dir, { recursive: true, force: true });
      throw started.find((r): r is PromiseRejectedResult => r.status === 'rejected')!.reason;
    }
    const system = new TestSystem(dir, directory.value, redis.value, smtp.value, port.value, options);
    try {
      await system.startController();
    } catch (error) {
      await system.dispose();
      throw error;
    }
    return system;
  }

  /** Starts the controller program (again) on the same port, Redis and SMTP. */
  async startController(): Promise<void> {
    if (this.controller?.running) return;
    this.controller = await this.spawnController(this.port, {});
  }

  /**
   * Starts another replica of the controller (its own port, the same Redis, SMTP and admin
   * token; `env` adds to its environment, e.g. `SYNCGUARD_WORKERS: 'false'`). Agents stay
   * connected to the first one. Disposed with the system.
   */
  async addController(env: Record<string, string> = {}): Promise<ControllerReplica> {
    const port = await freePort();
    const replica: ControllerReplica = {
      port,
      url: `http://127.0.0.1:${port}`,
      api: new ApiClient(`http://127.0.0.1:${port}`, this.adminToken),
      process: await this.spawnController(port, env),
    };
    this.replicas.push(replica);
    return replica;
  }

  private async spawnController(port: number, env: Record<string, string>): Promise<ManagedProcess> {
    const args = [...(this.options.nodeArgs ?? []), CONTROLLER_MAIN, '--port', String(port)];
    if (this.options.controllerConfig) {
      const file = path.join(this.dir, 'controller.json');
      // The file's keys are the settings' names (SYNCGUARD_MAX_BATCH_CHANGES); tests may give option names.
      const byName = Object.fromEntries(
        Object.entries(this.options.controllerConfig).map(([key, value]) => [
          CONTROLLER_SETTINGS.find((s) => s.option === key)?.env ?? key,
          value,
        ]),
      );
      await fs.writeFile(file, JSON.stringify(byName));
      args.push('--config', file);
    }
    const controller = new ManagedProcess(process.execPath, args, {
      env: {
        ...process.env,
        ...redisEnv(this.redisSetup),
        // Loopback only: the demo runs on laptops, and nothing but this machine needs to reach it.
        SYNCGUARD_HOST: '127.0.0.1',
        SYNCGUARD_ADMIN_TOKEN: this.adminToken,
        SMTP_URL: this.smtp.url,
        SYNCGUARD_MAIL_FROM: 'syncguard@example.com',
        SYNCGUARD_PUBLIC_URL: this.url,
        SYNCGUARD_LOG_LEVEL: process.env.SYNCGUARD_LOG_LEVEL ?? 'warn',
        SYNCGUARD_SECRET_KEY: this.secretKey,
        ...this.options.controllerEnv,
        ...env,
      },
      stdio: this.options.inheritOutput ? ['ignore', 'inherit', 'inherit'] : undefined,
    });
    await untilExited(
      controller,
      'controller',
      waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          if (res.status !== 200) throw new Error(`/healthz answered ${res.status} ${await res.text()}`);
          return true;
        },
        // Generous: on a loaded 2-core machine (CI beside other work) a cold start takes many seconds.
        { timeoutMs: 60_000, message: 'the controller to answer /healthz' },
      ),
    );
    return controller;
  }

  /** Runs `syncguardctl ARGS` against this system as the admin; its exit code and output. */
  async ctl(...args: string[]): Promise<{ code: number | null; log: string }> {
    const run = new ManagedProcess(process.execPath, [CTL_MAIN, ...args], {
      env: { ...process.env, SYNCGUARD_URL: this.url, SYNCGUARD_TOKEN: this.adminToken },
    });
    const code = await run.wait();
    return { code, log: run.log };
  }

  /** SIGKILL the controller, as a crash would. */
  async killController(): Promise<void> {
    await this.controller?.stop('SIGKILL');
  }

  async stopController(): Promise<void> {
    await this.controller?.stop('SIGTERM', 15_000);
  }

  /**
   * Registers an agent through the API and starts the agent program for it; `env` adds to its
   * environment (e.g. `SYNCGUARD_CONTROLLER_URL` of a replica, to connect there).
   */
  async addAgent(name = 'agent-1', env: Record<string, string> = {}): Promise<string> {
    const { id, token } = await this.api.post<{ id: string; token: string }>('/api/v1/agents', { name });
    const stateDir = path.join(this.dir, `agent-${id}`);
    await fs.mkdir(stateDir, { recursive: true });
    this.agents.set(id, { token, stateDir });
    await this.startAgent(id, env);
    return id;
  }

  /** Starts the agent program of a registered agent (again); `env` adds to or overrides its environment. */
  async startAgent(id: string, env: Record<string, string> = {}): Promise<void> {
    const agent = this.agents.get(id);
    if (!agent) throw new Error(`unknown agent ${id}`);
    if (agent.process?.running) return;
    agent.process = new ManagedProcess(process.execPath, [...(this.options.nodeArgs ?? []), AGENT_MAIN], {
      env: {
        ...process.env,
        // No SYNCGUARD_AGENT_ID: the token alone identifies the agent.
        SYNCGUARD_CONTROLLER_URL: this.agentUrl,
        SYNCGUARD_AGENT_TOKEN: agent.token,
        ...this.ldapEnv,
        SYNCGUARD_STATE_DIR: agent.stateDir,
        SYNCGUARD_LOG_LEVEL: process.env.SYNCGUARD_LOG_LEVEL ?? 'warn',
        ...this.options.agentEnv,
        ...env,
      },
      stdio: this.options.inheritOutput ? ['ignore', 'inherit', 'inherit'] : undefined,
    });
    await untilExited(
      agent.process,
      'agent',
      waitFor(
        async () => {
          const a = await this.api.get<{ status: string }>(`/api/v1/agents/${id}`);
          return a.status === 'connected';
        },
        { timeoutMs: 60_000, message: `agent ${id} to connect` },
      ),
    );
  }

  async stopAgent(id: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const agent = this.agents.get(id);
    if (!agent?.process) return null;
    await agent.process.stop(signal);
    return agent.process.wait();
  }

  /** Empties a stopped agent's state folder (its cache and outbox), as a lost disk would: its next cycles are FULL. */
  async wipeAgentState(id: string): Promise<void> {
    const agent = this.agents.get(id);
    if (!agent) throw new Error(`unknown agent ${id}`);
    if (agent.process?.running) throw new Error(`agent ${id} is running`);
    await fs.rm(agent.stateDir, { recursive: true, force: true });
    await fs.mkdir(agent.stateDir, { recursive: true });
  }

  agentLog(id: string): string {
    return this.agents.get(id)?.process?.log ?? '';
  }

  async createConfiguration(body: ConfigurationBody): Promise<{ id: string }> {
    return this.api.post<{ id: string }>('/api/v1/configurations', body);
  }

  status(id: string): Promise<StatusView> {
    return this.api.get<StatusView>(`/api/v1/configurations/${id}/status`);
  }

  /** Waits until the configuration's last cycle is in `state` (and, if given, is not `notCycleId`). */
  async waitForCycle(
    configurationId: string,
    state: 'applied' | 'quarantined' | 'failed',
    options: { after?: string | null; timeoutMs?: number } = {},
  ): Promise<StatusView> {
    return waitFor(
      async () => {
        const s = await this.status(configurationId);
        const last = s.lastCycle;
        if (!last || (options.after && last.id === options.after)) return undefined;
        if (last.state === state) return s;
        if (last.state !== 'running' && last.state !== state) {
          throw new Error(`cycle ${last.id} ended ${last.state}, expected ${state}: ${JSON.stringify(last.error)}`);
        }
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 100, message: `a cycle of ${configurationId} to be ${state}` },
    );
  }

  /**
   * Starts a cycle now and waits for it to end in `state`. A cycle already running (the
   * scheduler's, or the first one the controller starts by itself) is waited for first.
   */
  async syncNow(
    configurationId: string,
    state: 'applied' | 'quarantined' | 'failed' = 'applied',
    options: { timeoutMs?: number } = {},
  ): Promise<StatusView> {
    let cycleId: string | undefined;
    for (let attempt = 0; cycleId === undefined; attempt++) {
      try {
        ({ cycleId } = await this.api.post<{ cycleId: string }>(`/api/v1/configurations/${configurationId}/cycles`));
      } catch (error) {
        if (!(error instanceof ApiError) || error.code !== 'SG_ERR_CYCLE_RUNNING' || attempt > 100) throw error;
        await this.waitForIdle(configurationId);
      }
    }
    return this.waitForCycleId(configurationId, cycleId, state, options);
  }

  /**
   * The first cycle of a new configuration: the one the controller starts by itself when
   * it has an agent, or one started now if none appears within a few seconds.
   */
  async firstCycle(
    configurationId: string,
    state: 'applied' | 'quarantined' | 'failed' = 'applied',
    options: { timeoutMs?: number } = {},
  ): Promise<StatusView> {
    const started = await waitFor(async () => (await this.status(configurationId)).lastCycle, {
      timeoutMs: 5000,
      message: 'a first cycle',
    }).catch(() => null);
    if (!started) return this.syncNow(configurationId, state, options);
    return this.waitForCycleId(configurationId, started.id, state, options);
  }

  /** Waits until no cycle of the configuration is running. */
  async waitForIdle(configurationId: string): Promise<void> {
    await waitFor(async () => (await this.status(configurationId)).lastCycle?.state !== 'running', {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: `the running cycle of ${configurationId} to end`,
    });
  }

  /** Waits for one cycle to end in `state` (within `timeoutMs`, default 90 s). */
  waitForCycleId(
    configurationId: string,
    cycleId: string,
    state: string,
    options: { timeoutMs?: number } = {},
  ): Promise<StatusView> {
    return waitFor(
      async () => {
        const s = await this.status(configurationId);
        if (s.lastCycle?.id !== cycleId) {
          const cycles = await this.api.get<{ items: CycleView[] }>(`/api/v1/configurations/${configurationId}/cycles?limit=50`);
          const mine = cycles.items.find((c) => c.id === cycleId);
          if (mine && mine.state !== 'running' && mine.state !== state)
            throw new Error(`cycle ${cycleId} ended ${mine.state}, expected ${state}`);
          return undefined;
        }
        if (s.lastCycle.state === state) return s;
        if (s.lastCycle.state !== 'running') {
          throw new Error(`cycle ${cycleId} ended ${s.lastCycle.state}, expected ${state}: ${JSON.stringify(s.lastCycle.error)}`);
        }
        return undefined;
      },
      { timeoutMs: options.timeoutMs ?? 90_000, intervalMs: 100, message: `cycle ${cycleId} to be ${state}` },
    );
  }

  /** Every object of the built-in cloud directory for a configuration (follows cursors). */
  async objects(configurationId: string, type?: 'user' | 'group'): Promise<CloudObjectView[]> {
    const items: CloudObjectView[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ limit: '1000' });
      if (type) q.set('type', type);
      if (cursor) q.set('cursor', cursor);
      const page: { items: CloudObjectView[]; nextCursor?: string | null } = await this.api.get(
        `/api/v1/configurations/${configurationId}/objects?${q.toString()}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor ?? null;
    } while (cursor);
    return items;
  }

  /** Provisioning log entries (follows cursors). */
  async logs(configurationId: string, query: { action?: string; cycleId?: string } = {}): Promise<LogEntryView[]> {
    const items: LogEntryView[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ limit: '1000', ...query });
      if (cursor) q.set('cursor', cursor);
      const page: { items: LogEntryView[]; nextCursor: string | null } = await this.api.get(
        `/api/v1/configurations/${configurationId}/provisioning-logs?${q.toString()}`,
      );
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
  }

  async dispose(): Promise<void> {
    if (process.env.SYNCGUARD_E2E_DUMP_LOGS) {
      console.log(`controller log:\n${this.controller?.log ?? ''}`);
      this.replicas.forEach((r, i) => console.log(`replica ${i + 1} log:\n${r.process.log}`));
      for (const [id, a] of this.agents) console.log(`agent ${id} log:\n${a.process?.log ?? ''}`);
    }
    const stops: Promise<unknown>[] = [...this.agents.values()].map((a) => a.process?.stop('SIGKILL', 1000) ?? Promise.resolve());
    stops.push(this.controller?.stop('SIGKILL', 1000) ?? Promise.resolve());
    for (const r of this.replicas) stops.push(r.process.stop('SIGKILL', 1000));
    await Promise.allSettled(stops);
    const directory = 'slapd' in this.directory ? this.directory.slapd : this.directory.samba;
    await Promise.allSettled([directory.dispose(), redisOf(this.redisSetup).dispose(), this.smtp.dispose()]);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

export interface CycleView {
  id: string;
  state: string;
  mode?: string;
  changeTracking?: 'scan' | 'accesslog' | 'usn' | null;
  /** A full consistency read's drift; null when the cycle made none. */
  drift?: number | null;
  startedAt: string;
  completedAt: string | null;
  counts: { create: number; update: number; delete: number };
  error?: { code: string; message: string } | null;
}

export interface StatusView {
  state: string;
  quarantine: null | {
    reason: string;
    deleteCount: number;
    threshold: number;
    cycleId: string;
    since: string;
    trippedBy: TrippedRuleView[];
    seriesCount?: number;
    hold?: 'cycle' | 'deletes';
    notification?: { status: string; attempts: number; lastError: string | null };
  };
  lastCycle: CycleView | null;
  notifications?: NotificationEventView[];
}

/** A notification event and its deliveries (`status.notifications[]`, GET .../notifications). */
export interface NotificationEventView {
  id: string;
  event: string;
  at: string;
  cycleId: string | null;
  deliveries: {
    channel: 'email' | 'webhook';
    to: string;
    status: 'pending' | 'delivered' | 'failed' | 'cancelled';
    attempts: number;
    lastError: string | null;
    responseStatus: number | null;
    deliveredAt: string | null;
  }[];
}

export interface CloudObjectView {
  id: string;
  type: 'user' | 'group';
  dn: string;
  attributes: Record<string, string[]>;
  disabled: boolean;
  memberDns: string[];
  memberIds: string[];
}

export interface LogEntryView {
  id: string;
  cycleId: string;
  at: string;
  action: string;
  status: string;
  objectType: string;
  objectId: string;
  dn: string;
  details: string | null;
  /** Delete and StagedDelete entries. */
  cause?: string;
  newDn?: string;
}

export function startSystem(options?: SystemOptions): Promise<TestSystem> {
  return TestSystem.start(options);
}

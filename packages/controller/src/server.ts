import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildHttpApp } from './api/http-app';
import { AuditLog } from './store/audit-log';
import { AuthFailureLimiter } from './auth/auth-failure-limiter';
import { AuthFailureStore } from './store/auth-failure-store';
import { RedisConnections, type RedisConnection } from './store/connection';
import { httpStores } from './store/http-stores';
import { compileControllerOptions, type CompiledControllerOptions, type ControllerOptions } from './controller-options';
import { ControllerError } from './errors';
import { AgentRegistry } from './agents/agent-registry';
import { SessionService } from './agents/session-service';
import { ConfigurationService } from './configurations/configuration-service';
import { ControllerFacade } from './controller-facade';
import { CycleService } from './cycles/cycle-service';
import { QuarantineService } from './cycles/quarantine-service';
import { TriageService } from './cycles/triage';
import { newCycleId } from './cycles/cycle-id';
import { TriageStore } from './store/triage-store';
import { decodeKeptRecord } from './store/kept-record';
import { AgentChannel } from './gateway/agent-channel';
import { RedisAgentCommandBus } from './store/agent-command-bus';
import { AgentStore } from './store/agent-store';
import { ConfigurationStore } from './store/configuration-store';
import { CycleStore } from './store/cycle-store';
import { createLogger } from './logger';
import { AgentGateway } from './gateway/agent-gateway';
import { Mailer } from './mail/mailer';
import { QuarantineNotifier } from './mail/notifier';
import { OutboxDispatcher } from './notifications/outbox-dispatcher';
import { NotificationService } from './notifications/notification-service';
import { NotificationQueue } from './pipeline/notification-queue';
import { NotificationStore } from './store/notification-store';
import { StagedDeleteStore } from './store/staged-delete-store';
import { StagedDeleteService, describeCauseGroup } from './cycles/staged-deletes';
import { DeleteApprovalService } from './cycles/delete-approvals';
import { DeleteApprovalStore } from './store/delete-approval-store';
import { PreviewService } from './previews/preview-service';
import { PreviewStore } from './store/preview-store';
import { ControllerMetrics } from './metrics';
import { CycleProcessor } from './cycles/cycle-processor';
import { ApplyStore } from './store/apply-store';
import { WatchConnections } from './store/watch-connections';
import { EvaluationStore } from './store/evaluation-store';
import { ProvisioningLog } from './store/provisioning-log';
import { PipelineQueues } from './pipeline/queues';
import { Keys } from './store/keys';
import { Scripts } from './store/scripts';
import { CloudDirectoryTarget } from './store/cloud-directory';
import type { Target } from './targets/target';
import { Targets, type ScimClientTuning } from './targets/target-resolver';
import { ScimRecordStore } from './store/scim-record-store';
import { SecretBox } from './secrets/secret-box';

type State = 'created' | 'running' | 'draining' | 'stopped';

/** One controller: HTTP API and agent WebSocket on one port, BullMQ workers, Redis. */
export interface ControllerServer {
  /** What the HTTP API calls (ControllerService), composed of the domain services. */
  readonly service: ControllerFacade;
  /** The domain services behind it (for tests and tools that drive one directly). */
  readonly services: {
    readonly agents: AgentRegistry;
    readonly configurations: ConfigurationService;
    readonly cycles: CycleService;
    readonly quarantines: QuarantineService;
    readonly sessions: SessionService;
  };
  readonly httpServer: http.Server | https.Server;
  readonly app: FastifyInstance;
  readonly options: CompiledControllerOptions;
  /** The main Redis connection (for tests that look into Redis). */
  readonly redis: RedisConnection;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  /** Base URL once listening, e.g. `http://127.0.0.1:41234` (agents connect at `<url>/agent`, ws:// or wss://). */
  readonly url: string;
  readonly port: number;
  listen(): Promise<{ port: number; url: string }>;
  /** Graceful: stops taking agents and jobs, lets running jobs finish, closes sessions with GOING_AWAY. Idempotent. */
  close(): Promise<void>;
}

export interface CreateServerExtras {
  /** Log here instead of a new pino logger on stdout. */
  logger?: Logger;
  /** Wraps the target (tests: a target whose operations fail on demand). */
  wrapTarget?: (target: Target) => Target;
  /** The SCIM client's retry timing (tests: short backoffs). */
  scimTuning?: ScimClientTuning;
}

/** Builds a controller from its options. Connects to Redis but does not listen until `listen()`. */
export async function createServer(options: ControllerOptions, extras: CreateServerExtras = {}): Promise<ControllerServer> {
  const opts = compileControllerOptions(options);
  const logger = extras.logger ?? createLogger(opts.logLevel);
  const controllerId = randomUUID();
  const keys = new Keys(opts.redisKeyPrefix);
  const metrics = new ControllerMetrics();
  const connections = await RedisConnections.create({
    settings: opts.redis,
    onError: (error) => logger.warn({ err: error }, 'redis connection error'),
  });
  const { main: redis, subscriber } = connections;

  const scripts = new Scripts(redis);
  const cloudDirectory = new CloudDirectoryTarget(redis, keys);
  const target = extras.wrapTarget ? extras.wrapTarget(cloudDirectory) : cloudDirectory;
  const secrets = opts.secretKeys ? new SecretBox(opts.secretKeys.current, opts.secretKeys.previous) : null;
  const targets = new Targets(target, new ScimRecordStore(redis, keys), secrets, extras.scimTuning);
  const audit = new AuditLog(redis, keys);
  const plog = new ProvisioningLog(redis, keys, opts.historyRetentionDays * 86_400_000);
  const gatewayLogger = logger.child({ component: 'gateway' });
  const queues = new PipelineQueues(
    { producer: connections.producer, worker: connections.worker },
    keys,
    opts,
    logger.child({ component: 'pipeline' }),
  );
  // The composition root: each service gets what it uses, built in dependency order
  // (store -> agents -> cycles -> configurations, quarantines, sessions -> the facade).
  const link = new AgentChannel(new RedisAgentCommandBus(redis, subscriber, keys), gatewayLogger, metrics);
  const configs = new ConfigurationStore(redis, keys, audit);
  const agentRecords = new AgentStore(redis, keys, scripts);
  const cycleRecords = new CycleStore(redis, keys, scripts);
  const agents = new AgentRegistry({ records: agentRecords, audit, logger, controllerId, configs, link });
  const mailer = new Mailer(opts.smtpUrl, opts.mailFrom);
  if (!mailer.configured) logger.warn('SMTP_URL is not set: email notifications cannot be sent');
  let port = opts.port;
  const scheme = opts.tls ? 'https' : 'http';
  const publicUrl = () => opts.publicUrl ?? `${scheme}://127.0.0.1:${port}`;
  const notifyQueue = new NotificationQueue(
    { producer: connections.producer, worker: connections.worker },
    keys,
    {
      email: { attempts: opts.mailAttempts, backoffMs: opts.mailBackoffMs },
      webhook: { attempts: opts.webhookAttempts, backoffMs: opts.webhookBackoffMs },
    },
    { lockDuration: opts.jobLockMs, stalledInterval: opts.stalledIntervalMs },
    logger.child({ component: 'notify' }),
  );
  const deleteApprovals = new DeleteApprovalService({
    records: new DeleteApprovalStore(redis, keys),
    configs,
    audit,
    logger: logger.child({ component: 'pipeline' }),
  });
  const stagedDeletes = new StagedDeleteService({ records: new StagedDeleteStore(redis, keys), cycles: cycleRecords, configs });
  const notifications = new NotificationService({
    records: new NotificationStore(redis, keys),
    cycles: cycleRecords,
    configs,
    audit,
    queue: notifyQueue,
    mailer,
    metrics,
    logger: logger.child({ component: 'notify' }),
    publicUrl,
    webhookTimeoutMs: opts.webhookTimeoutMs,
    secrets,
    describeHeld: async (cfgId, cycleId) => (await stagedDeletes.causesOf(cfgId, cycleId)).map(describeCauseGroup),
    userAgent: `syncguard-controller/${(require('../package.json') as { version: string }).version}`,
  });
  const outbox = new OutboxDispatcher({
    outbox: cycleRecords,
    configurationIds: () => configs.ids(),
    queueEvent: (entry) => notifications.queueEvent(entry),
    logger: logger.child({ component: 'notify' }),
    sweepIntervalMs: opts.notifyOutboxSweepMs,
    dispatchDelayMs: opts.notifyDispatchDelayMs,
  });
  const cycles = new CycleService({
    records: cycleRecords,
    cursors: agentRecords,
    options: opts,
    logger,
    metrics,
    audit,
    plog,
    configs,
    agents,
    queues,
    link,
    events: outbox,
  });
  const configurations = new ConfigurationService({
    cycleRecords,
    options: opts,
    logger,
    targets,
    secrets,
    configs,
    agents,
    cycles,
    queues,
    link,
  });
  const quarantines = new QuarantineService({
    records: cycleRecords,
    options: opts,
    logger,
    metrics,
    audit,
    configs,
    cycles,
    queues,
    link,
    events: outbox,
  });
  const triage = new TriageService({
    records: new TriageStore(redis, keys),
    staged: new StagedDeleteStore(redis, keys),
    cycles: cycleRecords,
    configs,
    audit,
    queues,
    options: opts,
    logger,
    decodeKept: decodeKeptRecord,
    newCycleId,
    events: outbox,
  });
  // Evaluation's and apply's WATCH connections, reused from cycle to cycle.
  const watches = new WatchConnections(redis);
  const evaluation = new EvaluationStore(redis, keys, plog, watches);
  const previews = new PreviewService({
    records: new PreviewStore(redis, keys),
    reads: evaluation,
    configs,
    agents: {
      isConnected: (id) => agents.isConnected(id),
      activeAgent: (cfg) => agents.activeAgent(cfg),
      exists: (id) => agentRecords.exists(id),
      features: async (id) => (await agentRecords.read(id))?.features ?? [],
      session: (id) => agentRecords.sessionHolder(id),
    },
    approvals: deleteApprovals,
    link,
    audit,
    secrets,
    logger: logger.child({ component: 'preview' }),
    silenceMs: opts.cycleTimeoutMs,
  });
  const sessions = new SessionService({
    records: agentRecords,
    cycleRecords,
    options: opts,
    logger,
    controllerId,
    configs,
    agents,
    cycles,
    queues,
    link,
    previews,
  });
  const service = new ControllerFacade({
    agents,
    configurations,
    cycles,
    quarantines,
    triage,
    notifications,
    stagedDeletes,
    deleteApprovals,
    previews,
    configs,
    target,
    scimIndex: cloudDirectory,
    audit,
    ping: () => connections.ping(),
  });
  const agentAuthLimiter = new AuthFailureLimiter(
    new AuthFailureStore(redis, keys),
    { limit: opts.authFailureLimit, windowMs: opts.authFailureWindowMs },
    gatewayLogger,
  );
  const gateway = new AgentGateway(agentRecords, link, opts, gatewayLogger, metrics, sessions, agentAuthLimiter);

  let state: State = 'created';

  const processor = new CycleProcessor(
    { cycles: cycleRecords, evaluation, apply: new ApplyStore(redis, keys, plog, watches) },
    targets,
    metrics,
    logger.child({ component: 'pipeline' }),
    opts.applyChunkSize,
    {
      committed: (agentId, cfgId, cycleId) => cycles.sendCommitted(agentId, cfgId, cycleId),
      quarantined: (cfgId) => outbox.dispatch(cfgId),
      released: async (cfgId) => {
        await cycles.startCycleFor(cfgId, 'schedule');
      },
      loadConfiguration: (id) => configs.load(id),
      retrySoon: (cfgId, cycleId, delayMs) => queues.scheduleRetry(cfgId, cycleId, delayMs),
      preApproval: (cfgId, cycleId, deletes, trippedBy) => deleteApprovals.forCycle(cfgId, cycleId, deletes, trippedBy),
    },
    opts.applyStepDelayMs,
  );
  // Drains `mail` jobs that a build before notifications queued; new events go through `notify`.
  const notifier = new QuarantineNotifier(cycleRecords, mailer, metrics, logger.child({ component: 'mail' }), publicUrl, (id) =>
    configs.load(id),
  );

  const app = await buildHttpApp({
    service,
    metrics,
    stores: httpStores(redis, opts.redisKeyPrefix, opts.dashboardSessionTtlMs),
    adminToken: opts.adminToken,
    logger,
    queues: [...queues.all, notifyQueue.queue],
    security: opts,
  });
  const handler: http.RequestListener = (req, res) => app.routing(req, res);
  const httpServer = opts.tls
    ? https.createServer(
        {
          cert: opts.tls.cert,
          key: opts.tls.key,
          // Mutual TLS for agents: asked of every client, required (below) only on /agent.
          ...(opts.tls.clientCa ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
        },
        handler,
      )
    : http.createServer(handler);
  httpServer.on('upgrade', (req, socket, head) => {
    if (opts.tls?.clientCa && !(socket as TLSSocket).authorized) {
      gatewayLogger.warn(
        {
          remoteAddress: (socket as TLSSocket).remoteAddress,
          reason: (socket as TLSSocket).authorizationError?.toString() ?? 'no certificate',
        },
        'agent refused: no client certificate signed by SYNCGUARD_TLS_CLIENT_CA',
      );
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    gateway.handleUpgrade(req, socket, head);
  });

  let closing: Promise<void> | null = null;
  const server: ControllerServer = {
    service,
    services: { agents, configurations, cycles, quarantines, sessions },
    httpServer,
    app,
    options: opts,
    redis,
    metrics,
    logger,
    get url() {
      return `${scheme}://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    async listen() {
      if (state !== 'created') throw new ControllerError('SG_ERR_STATE', `cannot listen: the server is ${state}`);
      await link.start();
      await agents.startLiveness();
      await agents.claimAgentNames();
      const all = await configs.list();
      // Configurations stored before the agents' indexes of them (store/configuration-store.ts).
      await configs.indexAgents(all);
      if (opts.workers) {
        queues.startWorkers({
          cycle: (cycleId) => processor.process(cycleId),
          tick: (cfgId, trigger) => cycles.tick(cfgId, trigger),
          mail: (cfgId, cycleId, attempt, max) => notifier.process(cfgId, cycleId, attempt, max),
          cycleGaveUp: (cycleId, error) => cycles.giveUpCycle(cycleId, error),
        });
        notifyQueue.startWorker((job, attempt, max) => notifications.deliver(job, attempt, max));
        // Events a controller wrote with their transitions but did not queue before it died.
        outbox.start();
        await cycles.recover();
        // Re-register the schedulers (a new Redis, or configurations made while no controller ran).
        if (opts.schedule) for (const cfg of all) await queues.schedule(cfg);
      }
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(opts.port, opts.host, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      port = (httpServer.address() as AddressInfo).port;
      state = 'running';
      logger.info({ port, tls: opts.tls !== null, controllerId }, 'controller listening');
      return { port, url: server.url };
    },
    close() {
      closing ??= (async () => {
        state = 'draining';
        const step = async (name: string, fn: () => Promise<unknown>) => {
          try {
            await fn();
          } catch (error) {
            logger.warn({ err: error, step: name }, 'close step failed');
          }
        };
        await step('gateway', () => gateway.close());
        await step('http', async () => {
          if (!httpServer.listening) return;
          const done = new Promise<void>((resolve) => httpServer.close(() => resolve()));
          httpServer.closeIdleConnections();
          setTimeout(() => httpServer.closeAllConnections(), 2000).unref();
          await done;
        });
        await step('outbox', () => outbox.close());
        await step('queues', () => queues.close());
        await step('notify', () => notifyQueue.close());
        await step('liveness', () => agents.stopLiveness());
        await step('app', () => app.close());
        mailer.close();
        watches.close();
        await connections.close(step);
        state = 'stopped';
        logger.info('controller stopped');
      })();
      return closing;
    },
  };
  return server;
}

import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import {
  AGENT_FEATURES,
  CycleErrorCode,
  CycleMode,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AgentHello,
  type Body,
  type CycleAborted,
  type CycleCommitted,
  type CycleFailed,
  type Scope,
  type PreviewFailed,
  type StartCycle,
  type StartPreview,
} from '@syncguard/protocol';
import { compileAgentOptions, type AgentOptions, type CompiledAgentOptions } from './agent-options';
import { AgentError, toAgentError } from './errors';
import { tightenStateDir } from './cache/state-dir';
import { StateStore, type CycleRecord } from './cache/state-store';
import { CycleRunner, type CyclePlan } from './cycle/cycle-runner';
import { PreviewRunner } from './preview/preview-runner';
import { scopeKey } from './cycle/scope';
import { peakRssKb } from './memory';
import { ControllerConnection } from './transport/controller-connection';
import { Outbox } from './transport/outbox';
import { redactUrl } from './redact';
import { transportWarnings } from './transport-warnings';

export type AgentState = 'starting' | 'running' | 'draining' | 'stopped';

export interface AgentCreateOptions {
  /** Where logs go. Default: pino JSON on stdout at `logLevel`. */
  logger?: Logger;
}

interface ActiveCycle {
  cycleId: string;
  configurationId: string;
  abort: AbortController;
  done: Promise<void>;
}

interface ActivePreview {
  runner: PreviewRunner;
  abort: AbortController;
  done: Promise<void>;
}

/** Previews read at the same time, at most; one more is answered PreviewFailed with BUSY. */
export const MAX_PREVIEWS = 2;

/** Why the agent stopped on its own: the controller refused it for good. */
export interface AgentExit {
  code: number;
  error?: AgentError;
}

export const AGENT_VERSION = readVersion();

/**
 * The syncguard agent: one controller session, one local cache, and a cycle runner per
 * StartCycle. Cache rules (see protocol.proto): the cache advances only on
 * CycleCommitted; CycleAborted or no verdict leave it as it was.
 */
export class Agent {
  private state: AgentState = 'starting';
  private readonly active = new Map<string, ActiveCycle>();
  /** Previews being read, by preview id (they hold no state: a disconnect or a restart ends them). */
  private readonly previews = new Map<string, ActivePreview>();
  /** Cycles found running in the store at start; resumed after the first welcome. */
  private toResume: CycleRecord[] = [];
  /** Control frames (CycleFailed) that could not go out while disconnected. */
  private owed: CycleFailed[] = [];
  private readonly store: StateStore;
  private readonly connection: ControllerConnection;
  private readonly outbox: Outbox;
  private exitResolve!: (exit: AgentExit) => void;
  /** Resolves when the agent stops by itself (refused by the controller) or is closed. */
  readonly exited: Promise<AgentExit>;

  private constructor(
    readonly options: CompiledAgentOptions,
    readonly log: Logger,
  ) {
    this.exited = new Promise((resolve) => (this.exitResolve = resolve));
    this.store = StateStore.open(options.stateDir);
    this.connection = new ControllerConnection(
      {
        url: options.controllerUrl,
        token: options.agentToken,
        tls: options.controllerTls,
        reconnectInitialDelayMs: options.reconnectInitialDelayMs,
        reconnectMaxDelayMs: options.reconnectMaxDelayMs,
        helloTimeoutMs: options.helloTimeoutMs,
      },
      {
        hello: () => this.hello(),
        welcomed: () => this.onWelcomed(),
        message: (body) => this.onMessage(body),
        disconnected: () => {
          this.outbox.disconnected();
          this.stopPreviews('the connection to the controller closed');
        },
        refused: (error) => {
          this.onRefused(error).catch((e: unknown) => this.log.error({ err: toAgentError(e).message }, 'failed to stop'));
        },
      },
      log,
    );
    this.outbox = new Outbox(
      this.store,
      this.connection,
      log,
      (cycleId) => this.onDrained(cycleId),
      (cycleId, error) => this.onUnsendable(cycleId, error),
    );
  }

  /** Compiles the options, opens the cache and starts connecting to the controller. */
  static async create(options: AgentOptions | CompiledAgentOptions, createOptions: AgentCreateOptions = {}): Promise<Agent> {
    const compiled =
      Object.isFrozen(options) && 'controllerTls' in options
        ? (options as CompiledAgentOptions)
        : compileAgentOptions(options as AgentOptions);
    const log =
      createOptions.logger ??
      pino({
        level: compiled.logLevel,
        name: 'syncguard-agent',
        timestamp: pino.stdTimeFunctions.isoTime,
        // No agentId binding: 'connected to the controller' names the id the controller
        // gives (a binding would put a second agentId in that line).
        base: {},
      });
    for (const warning of [tightenStateDir(compiled.stateDir), ...transportWarnings(compiled)]) {
      if (warning) log.warn(warning);
    }
    const agent = new Agent(compiled, log);
    agent.restore();
    agent.state = 'running';
    agent.connection.start();
    log.info(
      {
        version: AGENT_VERSION,
        controllerUrl: redactUrl(compiled.controllerUrl),
        ldapUrl: redactUrl(compiled.ldap.url),
        stateDir: compiled.stateDir,
      },
      'agent started',
    );
    return agent;
  }

  get currentState(): AgentState {
    return this.state;
  }

  /** The cursors the agent would send in AgentHello now (for status and tests). */
  cursors(): AgentHello['cursors'] {
    return this.store.cursors();
  }

  /** Number of objects in the committed cache of a configuration. */
  cachedObjectCount(configurationId: string): number {
    return this.store.objectCount(configurationId);
  }

  /**
   * Stops: the running cycles stop reading (their batches stay in the outbox and the cycle
   * is resumed after a restart), the connection closes with GOING_AWAY, the cache closes.
   * Idempotent; every step runs even when one fails.
   */
  async close(): Promise<void> {
    await this.shutdown({ code: 0 });
  }

  private async shutdown(exit: AgentExit): Promise<void> {
    if (this.state === 'stopped' || this.state === 'draining') return this.exited.then(() => undefined);
    this.state = 'draining';
    const errors: unknown[] = [];
    for (const cycle of this.active.values()) {
      cycle.abort.abort(new AgentError('AGENT_ERR_SHUTDOWN', 'the agent is shutting down'));
    }
    const previews = [...this.previews.values()];
    this.stopPreviews('the agent is shutting down');
    try {
      await Promise.all([...this.active.values(), ...previews].map((c) => c.done));
    } catch (error) {
      errors.push(error);
    }
    try {
      await this.connection.close();
    } catch (error) {
      errors.push(error);
    }
    try {
      this.store.close();
    } catch (error) {
      errors.push(error);
    }
    this.state = 'stopped';
    for (const error of errors) this.log.error({ err: toAgentError(error).message }, 'error while stopping');
    this.log.info('agent stopped');
    this.exitResolve(exit);
  }

  private restore(): void {
    for (const cycle of this.store.cycles()) {
      if (cycle.state === 'pending') continue;
      this.outbox.open(cycle.cycleId, cycle.lastSequence, cycle.ackedSequence, cycle.completeJson, cycle.completeSent === 1);
      if (!cycle.completeJson) this.toResume.push(cycle);
      this.log.info(
        {
          cycleId: cycle.cycleId,
          configurationId: cycle.configurationId,
          lastSequence: cycle.lastSequence,
          ackedSequence: cycle.ackedSequence,
        },
        'found an unfinished cycle',
      );
    }
  }

  private hello(): AgentHello {
    return {
      agentId: this.options.agentId,
      softwareVersion: AGENT_VERSION,
      protocolVersions: [...SUPPORTED_PROTOCOL_VERSIONS],
      hostname: this.options.hostname,
      cursors: this.store.cursors(),
      features: [AGENT_FEATURES.preview],
    };
  }

  private onWelcomed(): void {
    this.outbox.resend();
    const owed = this.owed;
    this.owed = [];
    for (const failed of owed) this.sendFailed(failed);
    const resume = this.toResume;
    this.toResume = [];
    for (const record of resume) {
      if (this.active.has(record.configurationId) || !this.store.cycle(record.cycleId)) continue;
      const start: StartCycle = {
        configurationId: record.configurationId,
        cycleId: record.cycleId,
        mode: record.mode,
        scope: JSON.parse(record.scopeJson) as Scope,
        baseCycleId: record.baseCycleId,
      };
      const config = this.store.configuration(record.configurationId);
      this.run({
        start,
        mode: record.mode,
        rebase: record.rebase === 1,
        sinceWatermark: config.watermark,
        resume: true,
        lastSequence: record.lastSequence,
      });
    }
  }

  private onMessage(body: Body): void {
    try {
      switch (body.type) {
        case 'startCycle':
          try {
            this.onStartCycle(body.value);
          } catch (error) {
            // e.g. the cache cannot be written: the controller must hear that this cycle will not run.
            this.sendFailed(failure(body.value, toAgentError(error)));
            throw error;
          }
          break;
        case 'batchAck':
          this.outbox.ack(body.value.cycleId, body.value.ackedThroughSequence);
          break;
        case 'cycleCommitted':
          this.onCommitted(body.value);
          break;
        case 'startPreview':
          this.onStartPreview(body.value);
          break;
        case 'previewAck':
          this.previews.get(body.value.previewId)?.runner.ack(body.value.ackedThroughSequence, body.value.stop);
          break;
        case 'cycleAborted':
          this.onAborted(body.value).catch((error: unknown) =>
            this.log.error({ err: toAgentError(error).message, cycleId: body.value.cycleId }, 'failed to abort the cycle'),
          );
          break;
        default:
          this.log.warn({ type: body.type }, 'unexpected message from the controller ignored');
      }
    } catch (error) {
      this.log.error(
        { err: toAgentError(error).message, code: toAgentError(error).code, type: body.type },
        'failed to handle a controller message',
      );
    }
  }

  private onStartCycle(start: StartCycle): void {
    const log = this.log.child({ configurationId: start.configurationId, cycleId: start.cycleId });
    if (this.state !== 'running') {
      this.sendFailed(failure(start, new AgentError('AGENT_ERR_SHUTDOWN', 'the agent is shutting down')));
      return;
    }
    const current = this.active.get(start.configurationId);
    if (current) {
      if (current.cycleId === start.cycleId) return; // a repeated StartCycle for the cycle being read
      this.sendFailed(
        failure(start, new AgentError('AGENT_ERR_BUSY', `cycle ${current.cycleId} is still running for this configuration`)),
      );
      return;
    }
    if (this.store.cycle(start.cycleId)) {
      log.info('StartCycle for a cycle already read; its stream is resent, not read again');
      return;
    }
    // Settle older cycles of this configuration: a completed one whose id is the new base was committed.
    for (const old of this.store.cycles()) {
      if (old.configurationId !== start.configurationId) continue;
      if (old.completeJson && old.cycleId === start.baseCycleId) {
        this.store.commit(old.cycleId);
        log.info({ committedCycleId: old.cycleId }, 'pending cycle is the new base: applied it to the cache');
      } else {
        this.store.drop(old.cycleId);
        log.info({ droppedCycleId: old.cycleId }, 'dropped an older cycle without verdict');
      }
      this.outbox.forget(old.cycleId);
    }
    const config = this.store.configuration(start.configurationId);
    const key = scopeKey(start.scope);
    const rebase = config.committedCycleId !== start.baseCycleId;
    let mode = start.mode;
    if (mode === CycleMode.CYCLE_MODE_DELTA) {
      const why = rebase
        ? `cache holds cycle ${config.committedCycleId || '(none)'}, not base ${start.baseCycleId || '(none)'}`
        : config.scopeKey !== key
          ? 'the scope changed'
          : config.watermark === ''
            ? 'no watermark'
            : '';
      if (why) {
        mode = CycleMode.CYCLE_MODE_FULL;
        log.info({ reason: why }, 'running FULL instead of DELTA');
      }
    }
    this.store.createCycle({
      cycleId: start.cycleId,
      configurationId: start.configurationId,
      mode,
      rebase: rebase ? 1 : 0,
      scopeJson: JSON.stringify(start.scope),
      scopeKey: key,
      baseCycleId: start.baseCycleId,
      watermark: '',
    });
    this.outbox.open(start.cycleId);
    this.run({ start, mode, rebase, sinceWatermark: config.watermark, resume: false, lastSequence: 0 });
  }

  private run(plan: CyclePlan): void {
    const { start } = plan;
    const log = this.log.child({ configurationId: start.configurationId, cycleId: start.cycleId });
    const abort = new AbortController();
    const runner = new CycleRunner(plan, {
      store: this.store,
      outbox: this.outbox,
      ldap: this.options.ldap,
      deltaSkewMs: this.options.ldap.deltaSkewMs,
      tracking: {
        setting: this.options.ldap.changeTracking,
        accesslogBase: this.options.ldap.accesslogBase,
        fullScanIntervalMs: this.options.ldap.fullScanIntervalMs,
      },
      limits: () => this.connection.limits,
      log,
      signal: abort.signal,
    });
    log.info(
      { mode: CycleMode[plan.mode], rebase: plan.rebase, resume: plan.resume, requestedMode: CycleMode[start.mode] },
      'cycle started',
    );
    const done = runner.run().then(
      (complete) => {
        log.info(
          { lastSequence: complete.lastSequence, totals: complete.totals, source: complete.source, memory: memory() },
          'cycle read complete',
        );
        this.outbox.complete(start.cycleId, complete);
      },
      (error: unknown) => {
        const agentError = toAgentError(error);
        if (agentError.code === 'AGENT_ERR_CYCLE_ABORTED') {
          log.info('cycle stopped (aborted by the controller)');
          return;
        }
        if (agentError.code === 'AGENT_ERR_SHUTDOWN') {
          log.info('cycle interrupted by shutdown; it resumes after the restart');
          return;
        }
        log.warn({ code: agentError.code, ldapResultCode: agentError.ldapResultCode, err: agentError.message }, 'cycle failed');
        try {
          this.store.drop(start.cycleId);
        } catch (dropError) {
          log.error({ err: toAgentError(dropError).message }, 'could not drop the failed cycle');
        }
        this.outbox.forget(start.cycleId);
        this.sendFailed(failure(start, agentError));
      },
    );
    const settled = done.catch((error: unknown) => log.error({ err: toAgentError(error).message }, 'failed to settle the cycle'));
    const entry: ActiveCycle = {
      cycleId: start.cycleId,
      configurationId: start.configurationId,
      abort,
      done: settled.finally(() => {
        if (this.active.get(start.configurationId) === entry) this.active.delete(start.configurationId);
      }),
    };
    this.active.set(start.configurationId, entry);
  }

  /** Previews currently being read (for status and tests). */
  get runningPreviews(): number {
    return this.previews.size;
  }

  /**
   * A preview: a read of a proposed scope beside any cycle, answered with PreviewBatch frames
   * and PreviewComplete or PreviewFailed. It reads and writes nothing of the cache or outbox.
   */
  private onStartPreview(start: StartPreview): void {
    const log = this.log.child({ configurationId: start.configurationId, previewId: start.previewId });
    if (this.previews.has(start.previewId)) return; // a repeated StartPreview
    const refuse = (error: AgentError) => this.sendPreviewFailed(previewFailure(start, error));
    if (this.state !== 'running') return refuse(new AgentError('AGENT_ERR_SHUTDOWN', 'the agent is shutting down'));
    if (this.previews.size >= MAX_PREVIEWS)
      return refuse(new AgentError('AGENT_ERR_BUSY', `${MAX_PREVIEWS} previews are being read already; try again later`));
    const abort = new AbortController();
    const runner = new PreviewRunner(start, {
      ldap: this.options.ldap,
      limits: () => this.connection.limits,
      send: (batch) => this.connection.send({ type: 'previewBatch', value: batch }),
      log,
      signal: abort.signal,
    });
    log.info('preview started');
    const done = runner.run().then(
      (complete) => {
        log.info({ objects: complete.objects, source: complete.source }, 'preview read complete');
        this.connection.send({ type: 'previewComplete', value: complete });
      },
      (error: unknown) => {
        const agentError = toAgentError(error);
        if (agentError.code === 'AGENT_ERR_CYCLE_ABORTED' || agentError.code === 'AGENT_ERR_SHUTDOWN') {
          log.info({ reason: agentError.message }, 'preview stopped');
          return;
        }
        log.warn({ code: agentError.code, ldapResultCode: agentError.ldapResultCode, err: agentError.message }, 'preview failed');
        refuse(agentError);
      },
    );
    const entry: ActivePreview = {
      runner,
      abort,
      done: done.finally(() => {
        if (this.previews.get(start.previewId) === entry) this.previews.delete(start.previewId);
      }),
    };
    this.previews.set(start.previewId, entry);
  }

  private stopPreviews(why: string): void {
    for (const preview of this.previews.values()) preview.abort.abort(new AgentError('AGENT_ERR_CYCLE_ABORTED', why));
  }

  /** Not owed across a reconnect: the controller fails a preview whose agent disconnected. */
  private sendPreviewFailed(failed: PreviewFailed): void {
    this.connection.send({ type: 'previewFailed', value: failed });
  }

  private onCommitted(message: CycleCommitted): void {
    const log = this.log.child({ configurationId: message.configurationId, cycleId: message.cycleId });
    const record = this.store.cycle(message.cycleId);
    if (!record) {
      log.debug('CycleCommitted for a cycle already applied or unknown; nothing to do');
      return;
    }
    if (!record.completeJson) {
      log.warn('CycleCommitted for a cycle still being read; ignored');
      return;
    }
    this.store.commit(message.cycleId);
    this.outbox.forget(message.cycleId);
    log.info({ memory: memory() }, 'cycle committed: cache advanced');
  }

  private async onAborted(message: CycleAborted): Promise<void> {
    const log = this.log.child({ configurationId: message.configurationId, cycleId: message.cycleId });
    const active = this.active.get(message.configurationId);
    if (active && active.cycleId === message.cycleId) {
      active.abort.abort(new AgentError('AGENT_ERR_CYCLE_ABORTED', `aborted by the controller: ${message.message}`));
      await active.done;
    }
    this.toResume = this.toResume.filter((r) => r.cycleId !== message.cycleId);
    if (this.state === 'stopped') return;
    this.store.drop(message.cycleId);
    this.outbox.forget(message.cycleId);
    log.info({ reason: message.reason, message: message.message }, 'cycle aborted: cache unchanged');
  }

  private onDrained(cycleId: string): void {
    const record = this.store.cycle(cycleId);
    if (record && record.state !== 'pending') {
      this.store.setState(cycleId, 'pending');
      this.log.debug({ cycleId }, 'cycle fully acknowledged; waiting for its verdict');
    }
    // Pending: reported in the hello's cursor, never streamed again.
    this.outbox.forget(cycleId);
  }

  /** A batch of the outbox can no longer be sent: the cycle cannot complete, so it fails. */
  private onUnsendable(cycleId: string, error: unknown): void {
    const record = this.store.cycle(cycleId);
    const active = record ? this.active.get(record.configurationId) : undefined;
    if (active?.cycleId === cycleId) active.abort.abort(new AgentError('AGENT_ERR_CYCLE_ABORTED', 'unsendable batch'));
    this.store.drop(cycleId);
    this.outbox.forget(cycleId);
    if (record) {
      const start = { configurationId: record.configurationId, cycleId } as StartCycle;
      const cause = toAgentError(error);
      this.sendFailed(
        failure(
          start,
          new AgentError(
            'AGENT_ERR_OBJECT_TOO_LARGE',
            `a stored batch no longer fits the controller's limits: ${cause.message}`,
            { cause },
          ),
        ),
      );
    }
  }

  private sendFailed(failed: CycleFailed): void {
    if (!this.connection.send({ type: 'cycleFailed', value: failed })) this.owed.push(failed);
  }

  private async onRefused(error: AgentError): Promise<void> {
    this.log.fatal(
      { code: error.code, err: error.message },
      'the controller refused this agent; stopping (restart it once the cause is fixed)',
    );
    await this.shutdown({ code: 2, error });
  }
}

function failure(start: StartCycle, error: AgentError): CycleFailed {
  return {
    configurationId: start.configurationId,
    cycleId: start.cycleId,
    code: error.cycleErrorCode ?? CycleErrorCode.CYCLE_ERROR_INTERNAL,
    message: error.message.slice(0, 2000),
    ldapResultCode: error.ldapResultCode,
  };
}

function previewFailure(start: StartPreview, error: AgentError): PreviewFailed {
  return {
    configurationId: start.configurationId,
    previewId: start.previewId,
    code: error.cycleErrorCode ?? CycleErrorCode.CYCLE_ERROR_INTERNAL,
    message: error.message.slice(0, 2000),
    ldapResultCode: error.ldapResultCode,
  };
}

/** Process memory in MB, for the logs. */
function memory(): { rssMb: number; heapUsedMb: number; maxRssMb: number } {
  const m = process.memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return { rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), maxRssMb: Math.round(peakRssKb() / 1024) };
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

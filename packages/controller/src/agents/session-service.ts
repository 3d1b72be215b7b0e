import {
  AbortReason,
  ChangeTracking,
  CloseCode,
  CycleErrorCode,
  ErrorCode,
  type AgentHello,
  type Assignment,
  type CycleComplete,
  type CycleFailed,
  type PreviewBatch,
  type PreviewComplete,
  type PreviewFailed,
} from '@syncguard/protocol';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import type { CycleService } from '../cycles/cycle-service';
import type { ChangeTrackingName, StoredConfiguration } from '../model';
import { ConflictError } from '../errors';
import type { AgentChannel } from '../gateway/agent-channel';
import { MAX_AGENT_MESSAGE_CHARS, MAX_DN_CHARS, MAX_OBJECT_ID_CHARS, boundedText, overLimit } from '../gateway/agent-limits';
import type { AgentSession, SessionError, SessionHandler, StagedBatch } from '../gateway/agent-session';
import type { PipelineQueues } from '../pipeline/queues';
import { encodeStoredBatch } from '../pipeline/stored-batch';
import { CompleteCycleResult, PersistBatchResult } from '../store/scripts';
import type { AgentConfigurations, AgentRecords, SessionCycles } from './agent-records';
import { SESSION_FORMAT, type AgentRegistry } from './agent-registry';

/** The first object id or DN of a batch over its bound, as a message, or null. */
function changeOverLimit(batch: StagedBatch): string | null {
  for (let i = 0; i < batch.changes.length; i++) {
    const c = batch.changes[i]!;
    if (c.objectId.length > MAX_OBJECT_ID_CHARS || c.dn.length > MAX_DN_CHARS) {
      return overLimit([
        [`changes[${i}].objectId`, c.objectId, MAX_OBJECT_ID_CHARS],
        [`changes[${i}].dn`, c.dn, MAX_DN_CHARS],
      ]);
    }
  }
  return null;
}

/**
 * The hello's cursors of configurations the agent serves, one per configuration (the first):
 * a cursor for any other configuration is dropped, never stored nor acted on.
 */
function servedCursors(hello: AgentHello, configs: readonly StoredConfiguration[]): AgentHello['cursors'] {
  const served = new Set(configs.map((c) => c.id));
  const seen = new Set<string>();
  return hello.cursors.filter((c) => {
    if (!served.has(c.configurationId) || seen.has(c.configurationId)) return false;
    seen.add(c.configurationId);
    return true;
  });
}

function cycleErrorName(code: CycleErrorCode): string {
  return (CycleErrorCode as unknown as Record<number, string>)[code] ?? `CYCLE_ERROR_${code}`;
}

export interface SessionServiceDeps {
  records: AgentRecords;
  cycleRecords: SessionCycles;
  options: CompiledControllerOptions;
  logger: Logger;
  controllerId: string;
  configs: AgentConfigurations;
  agents: AgentRegistry;
  cycles: CycleService;
  queues: PipelineQueues;
  link: AgentChannel;
  /** Previews (previews/preview-service.ts); without it, preview frames are answered with a stop. */
  previews?: {
    batch(agentId: string, batch: PreviewBatch): Promise<{ ackedThrough: number; stop: boolean }>;
    complete(agentId: string, message: PreviewComplete): Promise<void>;
    failed(agentId: string, message: PreviewFailed): Promise<void>;
  };
}

/** Features kept from a hello: at most 16 names of at most 32 characters (the rest ignored). */
function featuresOf(hello: AgentHello): string {
  return hello.features
    .filter((f) => /^[a-z][a-z0-9-]{0,31}$/.test(f))
    .slice(0, 16)
    .join(',');
}

/**
 * What the controller does with an agent's session (the gateway's SessionHandler): the
 * hello and its cursors, batches staged as they arrive, CycleComplete and CycleFailed from
 * the cycle's own agent only, liveness, and failover when the agent goes away.
 */
export class SessionService implements SessionHandler {
  constructor(private readonly deps: SessionServiceDeps) {}

  /** When each session's AgentHello arrived (ms), to tell cycles sent before it from cycles sent on it. */
  private readonly helloAt = new WeakMap<AgentSession, number>();

  // ---------------------------------------------------------------- agent sessions (SessionHandler)

  /** The value of an agent's session key while this session holds it. */
  private sessionValue(session: AgentSession): string {
    return `${this.deps.controllerId}/${session.sessionId}/${SESSION_FORMAT}`;
  }

  private sessionTtlMs(): number {
    return this.deps.options.heartbeatIntervalMs * 3 + 1000;
  }

  /**
   * Makes this session the agent's one (the newest connection wins); a connection it
   * replaces on another replica is closed there with SUPERSEDED.
   */
  private async claimSession(session: AgentSession): Promise<void> {
    const mine = this.sessionValue(session);
    const previous = await this.deps.records.takeSession(session.agentId, mine, this.sessionTtlMs());
    const [controllerId, sessionId] = (previous ?? '').split('/');
    if (previous && previous !== mine && controllerId !== this.deps.controllerId && sessionId) {
      await this.deps.link.supersede(session.agentId, sessionId);
    }
  }

  async hello(session: AgentSession, hello: AgentHello): Promise<Assignment[]> {
    this.helloAt.set(session, Date.now());
    // Deleted or rotated between the upgrade and this hello: refused, nothing written.
    const current = await this.deps.records.touch(session.agentId, session.tokenHash, {
      lastSeenAt: new Date().toISOString(),
      version: hello.softwareVersion,
      hostname: hello.hostname,
      features: featuresOf(hello),
    });
    if (!current) {
      session.revoke('the agent was deleted or its token rotated');
      return [];
    }
    this.deps.link.register(session);
    await this.claimSession(session);
    const configs = await this.deps.configs.forAgent(session.agentId);
    const cursors = servedCursors(hello, configs).filter((c) => c.committedCycleId !== '');
    await this.deps.records.replaceCursors(
      session.agentId,
      Object.fromEntries(cursors.map((c) => [c.configurationId, c.committedCycleId])),
    );
    // Each configuration's active agent, asked for all of them at once (an agent may serve hundreds).
    return Promise.all(
      configs.map(async (cfg): Promise<Assignment> => ({
        configurationId: cfg.id,
        active: (await this.deps.agents.activeAgent(cfg)) === session.agentId,
      })),
    );
  }

  async afterWelcome(session: AgentSession, hello: AgentHello): Promise<void> {
    const configs = await this.deps.configs.forAgent(session.agentId);
    const cursors = servedCursors(hello, configs);
    for (const cursor of cursors) {
      if (cursor.pendingCycleId) await this.sendVerdict(session.agentId, cursor.configurationId, cursor.pendingCycleId, true);
      if (cursor.runningCycleId) await this.sendVerdict(session.agentId, cursor.configurationId, cursor.runningCycleId, false);
    }
    // The hello is the truth of what the agent is doing. A cycle started for it before this
    // hello that it does not mention never reached it (its StartCycle went out while the
    // agent only looked connected, e.g. right after a controller crash): fail it now instead
    // of waiting for cycleTimeoutMs, so that a new cycle can start. Cycles started after the
    // hello (a failover racing with this welcome) were sent on this connection: keep them.
    const known = new Set(cursors.flatMap((c) => [c.pendingCycleId, c.runningCycleId]).filter((id) => id !== ''));
    const helloAt = this.helloAt.get(session) ?? 0;
    for (const cfg of configs) {
      const current = await this.deps.cycleRecords.currentCycleId(cfg.id);
      if (!current || known.has(current)) continue;
      const { phase, agentId: owner, startedAt } = await this.deps.cycleRecords.run(current);
      if (phase === 'streaming' && owner === session.agentId && Date.parse(startedAt ?? '') < helloAt) {
        await this.deps.cycles.failCycle(cfg.id, current, {
          code: 'ABANDONED',
          message: 'the agent reconnected without this cycle',
        });
      }
    }
    for (const cfg of configs) {
      if ((await this.deps.records.activeAgent(cfg.id)) !== session.agentId) continue;
      await this.deps.cycles.startCycleFor(cfg.id, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError))
          this.deps.logger.warn({ err: error, configurationId: cfg.id }, 'could not start a cycle');
      });
    }
  }

  /** Answers an agent's pending or running cycle after a reconnect. */
  private async sendVerdict(agentId: string, configurationId: string, cycleId: string, completed: boolean): Promise<void> {
    const { phase, configurationId: cfgId, lastSequence, agentId: owner } = await this.deps.cycleRecords.run(cycleId);
    const abort = (reason: AbortReason, message: string) =>
      this.deps.link.send(agentId, { type: 'cycleAborted', value: { configurationId, cycleId, reason, message } });
    // A cursor naming another agent's cycle must not settle (or fail) it.
    if (!phase || cfgId !== configurationId || owner !== agentId)
      return abort(AbortReason.ABORT_REASON_ABANDONED, 'unknown cycle');
    switch (phase) {
      case 'applied':
        return this.deps.cycles.sendCommitted(agentId, configurationId, cycleId);
      case 'failed':
        return abort(AbortReason.ABORT_REASON_ABANDONED, 'cycle failed');
      case 'discarded':
        return abort(AbortReason.ABORT_REASON_DISCARDED, 'cycle discarded');
      case 'streaming':
        if (completed && !lastSequence) {
          // The agent completed a cycle whose CycleComplete never reached us: it cannot be evaluated.
          await this.deps.cycles.failCycle(configurationId, cycleId, {
            code: 'ABANDONED',
            message: 'completion lost in a reconnect',
          });
          return abort(AbortReason.ABORT_REASON_ABANDONED, 'completion lost; a new cycle follows');
        }
        return;
      default:
        // complete, applying, quarantined: the verdict comes later.
        return;
    }
  }

  async batch(
    session: AgentSession,
    batch: StagedBatch,
    wire: { protocolVersion: number; encoded: readonly Uint8Array[] },
  ): Promise<{ ackedThrough: number | null; error: SessionError | null }> {
    const tooLong = changeOverLimit(batch);
    if (tooLong) return { ackedThrough: null, error: await this.refuseOverLimit(session, batch, tooLong) };
    // The script checks that the cycle is this agent's, for this configuration (one round trip).
    const { result, acked } = await this.deps.cycleRecords.persistBatch(
      batch.cycleId,
      batch.sequence,
      // The changes are kept as the agent encoded them.
      encodeStoredBatch(batch.changes, wire.encoded, wire.protocolVersion),
      { configurationId: batch.configurationId, agentId: session.agentId },
      this.deps.options,
    );
    if (result === PersistBatchResult.TOO_MANY_BATCHES || result === PersistBatchResult.TOO_MANY_BYTES) {
      const limit =
        result === PersistBatchResult.TOO_MANY_BATCHES
          ? `more than maxCycleBatches (${this.deps.options.maxCycleBatches}) batches`
          : `more than maxCycleBytes (${this.deps.options.maxCycleBytes}) bytes of changes`;
      return { ackedThrough: null, error: await this.refuseOverLimit(session, batch, `the cycle has ${limit}`) };
    }
    if (result === PersistBatchResult.NOT_OWNED) {
      return {
        ackedThrough: null,
        error: { code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${batch.cycleId}`, cycleId: batch.cycleId },
      };
    }
    if (result === PersistBatchResult.GAP) {
      return {
        ackedThrough: acked,
        error: {
          code: ErrorCode.ERROR_CODE_SEQUENCE_GAP,
          message: `expected batch ${acked + 1}, got ${batch.sequence}`,
          cycleId: batch.cycleId,
        },
      };
    }
    if (result === PersistBatchResult.NOT_STREAMING) {
      return {
        ackedThrough: null,
        error: {
          code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE,
          message: `cycle ${batch.cycleId} no longer runs`,
          cycleId: batch.cycleId,
        },
      };
    }
    // The last batch, after CycleComplete (a resend after a reconnect): the cycle is complete now.
    if (result === PersistBatchResult.STORED_COMPLETE) await this.deps.queues.enqueueCycle(batch.cycleId, 'complete');
    return { ackedThrough: acked, error: null };
  }

  /**
   * A batch over a cycle's limits: the cycle fails (when it is this agent's, streaming) with
   * LIMIT_EXCEEDED, nothing of it is applied, and the agent is told CycleAborted.
   */
  private async refuseOverLimit(session: AgentSession, batch: StagedBatch, why: string): Promise<SessionError> {
    const error = { code: ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, message: why, cycleId: batch.cycleId };
    const { configurationId: cfgId, agentId: owner } = await this.deps.cycleRecords.owner(batch.cycleId);
    if (cfgId !== batch.configurationId || owner !== session.agentId)
      return { ...error, code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${batch.cycleId}` };
    this.deps.logger.warn(
      { agentId: session.agentId, configurationId: cfgId, cycleId: batch.cycleId, why },
      'batch over a limit',
    );
    if (await this.deps.cycles.failCycle(cfgId, batch.cycleId, { code: 'LIMIT_EXCEEDED', message: why })) {
      await this.deps.link.send(session.agentId, {
        type: 'cycleAborted',
        value: {
          configurationId: cfgId,
          cycleId: batch.cycleId,
          reason: AbortReason.ABORT_REASON_CONTROLLER_ERROR,
          message: why,
        },
      });
    }
    return error;
  }

  async complete(session: AgentSession, message: CycleComplete): Promise<SessionError | null> {
    const { configurationId: cfgId, agentId: owner } = await this.deps.cycleRecords.owner(message.cycleId);
    if (cfgId !== message.configurationId || owner !== session.agentId) {
      return { code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${message.cycleId}`, cycleId: message.cycleId };
    }
    const r = await this.deps.cycleRecords.complete(
      message.cycleId,
      message.lastSequence,
      JSON.stringify(message.totals),
      String(message.mode),
      changeTrackingName(message.changeTracking),
      message.consistencyRead ? message.drift : null,
    );
    if (r === CompleteCycleResult.COMPLETE) await this.deps.queues.enqueueCycle(message.cycleId, 'complete');
    if (r === CompleteCycleResult.NOT_STREAMING) {
      const phase = await this.deps.cycleRecords.phase(message.cycleId);
      if (phase === 'failed' || phase === 'discarded') {
        return {
          code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE,
          message: `cycle ${message.cycleId} no longer runs`,
          cycleId: message.cycleId,
        };
      }
    }
    return null;
  }

  async failed(session: AgentSession, message: CycleFailed): Promise<SessionError | null> {
    // Only the agent the cycle was started for may fail it, as for its batches and
    // CycleComplete: cycle ids are visible to readers, and any agent could otherwise put
    // another agent's configuration into `error`.
    const { configurationId: cfgId, agentId: owner } = await this.deps.cycleRecords.owner(message.cycleId);
    if (!cfgId || cfgId !== message.configurationId || owner !== session.agentId) {
      return { code: ErrorCode.ERROR_CODE_UNKNOWN_CYCLE, message: `unknown cycle ${message.cycleId}`, cycleId: message.cycleId };
    }
    await this.deps.cycles.failCycle(cfgId, message.cycleId, {
      code: cycleErrorName(message.code),
      message: boundedText(message.message, MAX_AGENT_MESSAGE_CHARS),
    });
    if (message.code === CycleErrorCode.CYCLE_ERROR_CACHE_MISMATCH) {
      // The agent's cache is not at our committed cycle: the next cycle runs FULL, now.
      await this.deps.records.dropCursor(session.agentId, cfgId);
      await this.deps.cycles.startCycleFor(cfgId, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError)) throw error;
      });
    }
    return null;
  }

  async previewBatch(session: AgentSession, batch: PreviewBatch): Promise<{ ackedThrough: number; stop: boolean }> {
    return (await this.deps.previews?.batch(session.agentId, batch)) ?? { ackedThrough: batch.sequence, stop: true };
  }

  async previewComplete(session: AgentSession, message: PreviewComplete): Promise<void> {
    await this.deps.previews?.complete(session.agentId, message);
  }

  async previewFailed(session: AgentSession, message: PreviewFailed): Promise<void> {
    await this.deps.previews?.failed(session.agentId, message);
  }

  async alive(session: AgentSession): Promise<void> {
    if (!this.deps.link.isCurrent(session)) return;
    const mine = this.sessionValue(session);
    // Extended only while it is this session's; a newer connection elsewhere took it over.
    if (!(await this.deps.records.extendSession(session.agentId, mine, this.sessionTtlMs()))) {
      session.close(CloseCode.SUPERSEDED, 'superseded by a new connection');
      return;
    }
    // Also catches a revocation whose pub/sub command this replica missed.
    const lastSeenAt = new Date().toISOString();
    if (!(await this.deps.records.touch(session.agentId, session.tokenHash, { lastSeenAt })))
      session.revoke('the agent was deleted or its token rotated');
  }

  async closed(session: AgentSession): Promise<void> {
    const mine = await this.deps.records.endSession(session.agentId, this.sessionValue(session));
    if (!mine) return; // superseded by a newer connection
    await this.deps.records.touch(session.agentId, session.tokenHash, {
      lastSeenAt: new Date().toISOString(),
    });
    this.deps.logger.info({ agentId: session.agentId }, 'agent disconnected');
    // Fail over: configurations this agent was active for get another connected agent.
    const configs = await this.deps.configs.forAgent(session.agentId);
    for (const cfg of configs) {
      if (!(await this.deps.records.releaseActive(cfg.id, session.agentId))) continue;
      const next = await this.deps.agents.activeAgent(cfg);
      if (!next) continue;
      this.deps.logger.info({ configurationId: cfg.id, agentId: next }, 'agent takes over');
      await this.deps.cycles.startCycleFor(cfg.id, 'agent-connected').catch((error: unknown) => {
        if (!(error instanceof ConflictError)) this.deps.logger.warn({ err: error }, 'no cycle after failover');
      });
    }
  }
}

/** The API name of how the agent found a cycle's changes; null when it did not say (older agents). */
function changeTrackingName(value: ChangeTracking): ChangeTrackingName | null {
  if (value === ChangeTracking.CHANGE_TRACKING_SCAN) return 'scan';
  if (value === ChangeTracking.CHANGE_TRACKING_ACCESSLOG) return 'accesslog';
  if (value === ChangeTracking.CHANGE_TRACKING_USN) return 'usn';
  if (value === ChangeTracking.CHANGE_TRACKING_DIRSYNC) return 'dirsync';
  return null;
}

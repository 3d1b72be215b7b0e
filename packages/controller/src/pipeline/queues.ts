import { createHash } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import type { StoredConfiguration } from '../model';
import type { QueueConnection } from '../store/connection';
import type { Keys } from '../store/keys';

export interface PipelineProcessors {
  cycle(cycleId: string): Promise<void>;
  /** A scheduler tick (`schedule`), or the cycle brought forward after transient failures (`retry`). */
  tick(configurationId: string, trigger: 'schedule' | 'retry'): Promise<void>;
  mail(configurationId: string, cycleId: string, attempt: number, maxAttempts: number): Promise<void>;
  /** A cycle job failed for good (all attempts used). */
  cycleGaveUp(cycleId: string, error: Error): Promise<void>;
}

const CYCLE_ATTEMPTS = 5;

/**
 * How many queues the cycle jobs are sharded over. Fixed: every controller on the same Redis
 * must agree on it, since a configuration's jobs go to the shard of its tag.
 */
export const CYCLE_QUEUE_SHARDS = 4;

/**
 * `call`, or an error once `ms` have passed: a queue call from an API request fails (503, as
 * any Redis command that timed out) instead of hanging on a Redis that does not answer. The
 * call itself may still complete later; every job id makes adding it again harmless.
 */
function bounded<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('Command timed out (queue)')), ms);
  });
  call.catch(() => undefined);
  return Promise.race([call, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The cycle queue shard of a cycle (or configuration) id, from the 8 hex digits that both
 * begin with (store/keys.ts, "Hash tags"): a configuration's cycles always go to one shard.
 */
export function cycleQueueShard(id: string): number {
  const n = Number.parseInt(id.slice(0, 8), 16);
  return Number.isFinite(n) ? n % CYCLE_QUEUE_SHARDS : 0;
}

/**
 * Where in each interval a configuration's scheduled cycles start: a fixed offset in
 * [0, everyMs) from a hash of its id. BullMQ otherwise keeps the phase of the moment a
 * scheduler was made, so configurations created together (a bulk import, a benchmark's setup)
 * would start their cycles together every interval; spread by id, 1,000 configurations on a
 * 2-minute schedule start about 8 a second instead of in bursts.
 */
export function scheduleOffsetMs(configurationId: string, everyMs: number): number {
  return createHash('sha256').update(configurationId).digest().readUInt32BE(0) % everyMs;
}

/**
 * The BullMQ queues of the controller, each under its own hash-tagged prefix `P:bull:{<name>}`
 * (a Redis Cluster needs every key of a queue in one slot):
 * - `cycles-0` to `cycles-3` (CYCLE_QUEUE_SHARDS): one job per cycle event (`complete-<cycleId>` after CycleComplete,
 *   `release-<cycleId>` after allow-deletes). Job ids make enqueueing idempotent; a job
 *   whose worker died is taken over by stalled-job recovery and continues from the
 *   cycle's phase in Redis.
 * - `schedule`: a job scheduler per configuration (`cfg-<id>`, every syncIntervalSeconds, at
 *   the configuration's own offset in the interval: scheduleOffsetMs).
 * - `mail`: one job per quarantine (`mail-<cycleId>`), retried with exponential backoff.
 */
export class PipelineQueues {
  /** The cycle queue shards, by cycleQueueShard. */
  readonly cycleShards: readonly Queue[];
  readonly scheduleQueue: Queue;
  readonly mailQueue: Queue;
  private readonly workers: Worker[] = [];

  /**
   * `producer` adds jobs (from API calls too: it should have a command timeout); `worker` is
   * duplicated by each Worker for its blocking commands (no timeout, retried without end).
   */
  constructor(
    private readonly connections: { readonly producer: QueueConnection; readonly worker: QueueConnection },
    private readonly keys: Keys,
    private readonly options: CompiledControllerOptions,
    private readonly logger: Logger,
  ) {
    const connection = connections.producer;
    const queue = (name: string) => new Queue(name, { connection, prefix: keys.bullPrefix(name) });
    this.cycleShards = Array.from({ length: CYCLE_QUEUE_SHARDS }, (_x, i) => queue(`cycles-${i}`));
    this.scheduleQueue = queue('schedule');
    this.mailQueue = queue('mail');
    for (const q of this.all) {
      q.on('error', (error) => this.logger.error({ err: error, queue: q.name }, 'queue error'));
    }
  }

  get all(): Queue[] {
    return [...this.cycleShards, this.scheduleQueue, this.mailQueue];
  }

  startWorkers(processors: PipelineProcessors): void {
    const common = (name: string) => ({
      connection: this.connections.worker,
      prefix: this.keys.bullPrefix(name),
      lockDuration: this.options.jobLockMs,
      stalledInterval: this.options.stalledIntervalMs,
      maxStalledCount: 10,
    });
    const cycles = this.cycleShards.map((q) => {
      const worker = new Worker(q.name, async (job: Job<{ cycleId: string }>) => processors.cycle(job.data.cycleId), {
        ...common(q.name),
        // cycleConcurrency is per process: shared out over the shards (at least one job each).
        concurrency: Math.max(1, Math.ceil(this.options.cycleConcurrency / CYCLE_QUEUE_SHARDS)),
      });
      worker.on('failed', (job, error) => {
        if (!job) return;
        this.logger.error({ err: error, cycleId: job.data.cycleId, attempt: job.attemptsMade }, 'cycle job failed');
        if (job.attemptsMade >= (job.opts.attempts ?? 1))
          void processors.cycleGaveUp(job.data.cycleId, error).catch(() => undefined);
      });
      return worker;
    });
    const schedule = new Worker(
      'schedule',
      async (job: Job<{ configurationId: string; trigger?: 'retry' }>) =>
        processors.tick(job.data.configurationId, job.data.trigger ?? 'schedule'),
      { ...common('schedule'), concurrency: 4 },
    );
    const mail = new Worker(
      'mail',
      async (job: Job<{ configurationId: string; cycleId: string }>) =>
        processors.mail(job.data.configurationId, job.data.cycleId, job.attemptsMade + 1, job.opts.attempts ?? 1),
      { ...common('mail'), concurrency: 2 },
    );
    for (const w of [...cycles, schedule, mail]) {
      w.on('error', (error) => this.logger.error({ err: error, queue: w.name }, 'worker error'));
      this.workers.push(w);
    }
  }

  /** Queues the processing of a cycle (idempotent per cycle and reason; `recover` re-queues one that lost its job). */
  async enqueueCycle(cycleId: string, reason: 'complete' | 'release' | 'recover'): Promise<void> {
    // Recovery may repeat, at most once a minute per cycle; the processor is safe to run twice.
    const jobId = reason === 'recover' ? `recover-${cycleId}-${Math.floor(Date.now() / 60_000)}` : `${reason}-${cycleId}`;
    await this.bounded(
      this.cycleShards[cycleQueueShard(cycleId)]!.add(
        'cycle',
        { cycleId },
        {
          jobId,
          attempts: CYCLE_ATTEMPTS,
          backoff: { type: 'exponential', delay: 1000 },
          // A done job holds nothing the cycle record does not: it goes, so that a quiet cycle
          // adds one key to Redis (the cycle record). A failed one stays a week for diagnosis.
          removeOnComplete: true,
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      ),
    );
  }

  /** Queues the quarantine email of a cycle; a second call for the same cycle adds nothing. */
  async enqueueMail(configurationId: string, cycleId: string): Promise<void> {
    await this.bounded(
      this.mailQueue.add(
        'quarantine-email',
        { configurationId, cycleId },
        {
          jobId: `mail-${cycleId}`,
          attempts: this.options.mailAttempts,
          backoff: { type: 'exponential', delay: this.options.mailBackoffMs },
          removeOnComplete: { age: 30 * 24 * 3600 },
          removeOnFail: { age: 30 * 24 * 3600 },
        },
      ),
    );
  }

  async schedule(cfg: StoredConfiguration): Promise<void> {
    if (!this.options.schedule) return;
    await this.bounded(
      this.scheduleQueue.upsertJobScheduler(
        `cfg-${cfg.id}`,
        // An offset of 0 is BullMQ's "none": the phase of now, as before.
        { every: cfg.syncIntervalSeconds * 1000, offset: scheduleOffsetMs(cfg.id, cfg.syncIntervalSeconds * 1000) },
        { name: 'tick', data: { configurationId: cfg.id }, opts: { removeOnComplete: 100, removeOnFail: 100 } },
      ),
    );
  }

  /**
   * Starts a cycle of the configuration (trigger `retry`) in `delayMs`: one job per cycle that
   * asked (`retry-<cycleId>`), so asking again adds nothing. Off with the schedule.
   */
  async scheduleRetry(configurationId: string, cycleId: string, delayMs: number): Promise<void> {
    if (!this.options.schedule) return;
    await this.bounded(
      this.scheduleQueue.add(
        'tick',
        { configurationId, trigger: 'retry' },
        { jobId: `retry-${cycleId}`, delay: Math.max(0, Math.round(delayMs)), removeOnComplete: 100, removeOnFail: 100 },
      ),
    );
  }

  async unschedule(configurationId: string): Promise<void> {
    await this.bounded(this.scheduleQueue.removeJobScheduler(`cfg-${configurationId}`));
  }

  private bounded<T>(call: Promise<T>): Promise<T> {
    return bounded(call, this.options.redisCommandTimeoutMs);
  }

  /** Stops the workers (running jobs finish, or are handed back after lockDuration) and closes the queues. */
  async close(force = false): Promise<void> {
    const results = await Promise.allSettled([...this.workers.map((w) => w.close(force))]);
    await Promise.allSettled(this.all.map((q) => q.close()));
    for (const r of results) if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'worker close failed');
  }
}

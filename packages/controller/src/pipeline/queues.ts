import { Queue, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { CompiledControllerOptions } from '../controller-options';
import type { StoredConfiguration } from '../model';
import type { QueueConnection } from '../store/connection';
import type { Keys } from '../store/keys';

export interface PipelineProcessors {
  cycle(cycleId: string): Promise<void>;
  tick(configurationId: string): Promise<void>;
  mail(configurationId: string, cycleId: string, attempt: number, maxAttempts: number): Promise<void>;
  /** A cycle job failed for good (all attempts used). */
  cycleGaveUp(cycleId: string, error: Error): Promise<void>;
}

const CYCLE_ATTEMPTS = 5;

/**
 * The BullMQ queues of the controller, under the prefix `P:bull`:
 * - `cycles`: one job per cycle event (`complete-<cycleId>` after CycleComplete,
 *   `release-<cycleId>` after allow-deletes). Job ids make enqueueing idempotent; a job
 *   whose worker died is taken over by stalled-job recovery and continues from the
 *   cycle's phase in Redis.
 * - `schedule`: a job scheduler per configuration (`cfg-<id>`, every syncIntervalSeconds).
 * - `mail`: one job per quarantine (`mail-<cycleId>`), retried with exponential backoff.
 */
export class PipelineQueues {
  readonly cycles: Queue;
  readonly scheduleQueue: Queue;
  readonly mailQueue: Queue;
  private readonly workers: Worker[] = [];

  constructor(
    private readonly connection: QueueConnection,
    private readonly keys: Keys,
    private readonly options: CompiledControllerOptions,
    private readonly logger: Logger,
  ) {
    const prefix = keys.bullPrefix;
    this.cycles = new Queue('cycles', { connection, prefix });
    this.scheduleQueue = new Queue('schedule', { connection, prefix });
    this.mailQueue = new Queue('mail', { connection, prefix });
    for (const q of [this.cycles, this.scheduleQueue, this.mailQueue]) {
      q.on('error', (error) => this.logger.error({ err: error, queue: q.name }, 'queue error'));
    }
  }

  get all(): Queue[] {
    return [this.cycles, this.scheduleQueue, this.mailQueue];
  }

  startWorkers(processors: PipelineProcessors): void {
    const common = {
      connection: this.connection,
      prefix: this.keys.bullPrefix,
      lockDuration: this.options.jobLockMs,
      stalledInterval: this.options.stalledIntervalMs,
      maxStalledCount: 10,
    };
    const cycles = new Worker('cycles', async (job: Job<{ cycleId: string }>) => processors.cycle(job.data.cycleId), {
      ...common,
      concurrency: this.options.cycleConcurrency,
    });
    cycles.on('failed', (job, error) => {
      if (!job) return;
      this.logger.error({ err: error, cycleId: job.data.cycleId, attempt: job.attemptsMade }, 'cycle job failed');
      if (job.attemptsMade >= (job.opts.attempts ?? 1))
        void processors.cycleGaveUp(job.data.cycleId, error).catch(() => undefined);
    });
    const schedule = new Worker(
      'schedule',
      async (job: Job<{ configurationId: string }>) => processors.tick(job.data.configurationId),
      { ...common, concurrency: 4 },
    );
    const mail = new Worker(
      'mail',
      async (job: Job<{ configurationId: string; cycleId: string }>) =>
        processors.mail(job.data.configurationId, job.data.cycleId, job.attemptsMade + 1, job.opts.attempts ?? 1),
      { ...common, concurrency: 2 },
    );
    for (const w of [cycles, schedule, mail]) {
      w.on('error', (error) => this.logger.error({ err: error, queue: w.name }, 'worker error'));
      this.workers.push(w);
    }
  }

  /** Queues the processing of a cycle (idempotent per cycle and reason; `recover` re-queues one that lost its job). */
  async enqueueCycle(cycleId: string, reason: 'complete' | 'release' | 'recover'): Promise<void> {
    // Recovery may repeat, at most once a minute per cycle; the processor is safe to run twice.
    const jobId = reason === 'recover' ? `recover-${cycleId}-${Math.floor(Date.now() / 60_000)}` : `${reason}-${cycleId}`;
    await this.cycles.add(
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
    );
  }

  /** Queues the quarantine email of a cycle; a second call for the same cycle adds nothing. */
  async enqueueMail(configurationId: string, cycleId: string): Promise<void> {
    await this.mailQueue.add(
      'quarantine-email',
      { configurationId, cycleId },
      {
        jobId: `mail-${cycleId}`,
        attempts: this.options.mailAttempts,
        backoff: { type: 'exponential', delay: this.options.mailBackoffMs },
        removeOnComplete: { age: 30 * 24 * 3600 },
        removeOnFail: { age: 30 * 24 * 3600 },
      },
    );
  }

  async schedule(cfg: StoredConfiguration): Promise<void> {
    if (!this.options.schedule) return;
    await this.scheduleQueue.upsertJobScheduler(
      `cfg-${cfg.id}`,
      { every: cfg.syncIntervalSeconds * 1000 },
      { name: 'tick', data: { configurationId: cfg.id }, opts: { removeOnComplete: 100, removeOnFail: 100 } },
    );
  }

  async unschedule(configurationId: string): Promise<void> {
    await this.scheduleQueue.removeJobScheduler(`cfg-${configurationId}`);
  }

  /** Stops the workers (running jobs finish, or are handed back after lockDuration) and closes the queues. */
  async close(force = false): Promise<void> {
    const results = await Promise.allSettled([...this.workers.map((w) => w.close(force))]);
    await Promise.allSettled(this.all.map((q) => q.close()));
    for (const r of results) if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'worker close failed');
  }
}

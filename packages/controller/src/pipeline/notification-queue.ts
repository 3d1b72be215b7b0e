import { Queue, Worker, type Job } from 'bullmq';
import type { QueueConnection } from '../store/connection';
import type { Logger } from 'pino';
import type { Keys } from '../store/keys';

/** One delivery of one event to one endpoint: the body of a `notify` job. */
export interface DeliveryJob {
  eventId: string;
  configurationId: string;
  /** The endpoint's key within the event (`e-...` an email address, `w-...` a webhook URL). */
  key: string;
  channel: 'email' | 'webhook';
  /** The email address or the webhook URL. */
  to: string;
}

export interface DeliveryRetries {
  attempts: number;
  /** First retry delay (ms), doubled for each next one. */
  backoffMs: number;
}

/**
 * The `notify` BullMQ queue, the notifications' durable outbox: one job per event and
 * endpoint, its id `<eventId>.<endpoint key>`, so that adding an event twice delivers it
 * once; a failed attempt is retried with exponential backoff. Done and failed jobs stay 30
 * days (their ids keep deduplicating that long).
 */
export class NotificationQueue {
  readonly queue: Queue;
  private worker: Worker | null = null;

  constructor(
    private readonly connections: { readonly producer: QueueConnection; readonly worker: QueueConnection },
    private readonly keys: Keys,
    private readonly retries: { email: DeliveryRetries; webhook: DeliveryRetries },
    private readonly lock: { lockDuration: number; stalledInterval: number },
    private readonly logger: Logger,
  ) {
    this.queue = new Queue('notify', { connection: connections.producer, prefix: keys.bullPrefix('notify') });
    this.queue.on('error', (error) => this.logger.error({ err: error, queue: 'notify' }, 'queue error'));
  }

  async add(jobs: readonly DeliveryJob[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((data) => {
        const r = this.retries[data.channel];
        return {
          name: data.channel,
          data,
          opts: {
            jobId: `${data.eventId}.${data.key}`,
            attempts: r.attempts,
            backoff: { type: 'exponential', delay: r.backoffMs },
            removeOnComplete: { age: 30 * 24 * 3600 },
            removeOnFail: { age: 30 * 24 * 3600 },
          },
        };
      }),
    );
  }

  /** `deliver` throws when the attempt failed and should be retried (until the job's attempts are used). */
  startWorker(deliver: (job: DeliveryJob, attempt: number, maxAttempts: number) => Promise<void>): void {
    const worker = new Worker(
      'notify',
      async (job: Job<DeliveryJob>) => deliver(job.data, job.attemptsMade + 1, job.opts.attempts ?? 1),
      {
        connection: this.connections.worker,
        prefix: this.keys.bullPrefix('notify'),
        lockDuration: this.lock.lockDuration,
        stalledInterval: this.lock.stalledInterval,
        maxStalledCount: 10,
        concurrency: 4,
      },
    );
    worker.on('error', (error) => this.logger.error({ err: error, queue: 'notify' }, 'worker error'));
    this.worker = worker;
  }

  async close(): Promise<void> {
    await this.worker?.close().catch((error: unknown) => this.logger.warn({ err: error }, 'notify worker close failed'));
    await this.queue.close().catch(() => undefined);
  }
}

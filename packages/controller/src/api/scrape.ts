import type { Queue } from 'bullmq';
import type { ControllerService } from '../controller-service';
import type { ControllerMetrics } from '../metrics';

const JOB_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

/**
 * Sets the gauges that are read, not counted, right before a scrape: quarantined
 * configurations (from the service, so every replica reports the same) and BullMQ queue
 * depths. A failing read leaves the gauge as it was and is logged, never fails /metrics.
 */
export async function refreshScrapeGauges(
  deps: { service: ControllerService; metrics: ControllerMetrics; queues?: readonly Queue[] },
  log: { warn: (obj: object, msg: string) => void },
): Promise<void> {
  const reads: Promise<void>[] = [
    deps.service.listConfigurations().then((configs) => {
      deps.metrics.quarantinedConfigurations.set(configs.filter((c) => c.state === 'quarantined').length);
    }),
    ...(deps.queues ?? []).map((queue) =>
      queue.getJobCounts(...JOB_STATES).then((counts) => {
        for (const state of JOB_STATES) deps.metrics.queueDepth.set({ queue: queue.name, state }, counts[state] ?? 0);
      }),
    ),
  ];
  const results = await Promise.allSettled(reads);
  for (const result of results)
    if (result.status === 'rejected') log.warn({ err: result.reason }, 'metrics: a scrape-time read failed');
}

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one controller process, served at GET /metrics. One instance per
 * createServer() (tests run several controllers in one process), never a global registry.
 */
export class ControllerMetrics {
  readonly registry = new Registry();

  readonly connectedAgents = new Gauge({
    name: 'syncguard_connected_agents',
    help: 'Agents with an open WebSocket session to this controller process',
    registers: [this.registry],
  });
  readonly cycles = new Counter({
    name: 'syncguard_cycles_total',
    help: 'Cycles that reached an end state, by outcome',
    labelNames: ['outcome'] as const, // applied | quarantined | failed | discarded
    registers: [this.registry],
  });
  readonly changesApplied = new Counter({
    name: 'syncguard_changes_applied_total',
    help: 'Object changes applied to targets, by kind and result',
    labelNames: ['kind', 'status'] as const, // kind: create | update | delete; status: success | failure
    registers: [this.registry],
  });
  readonly stagedDeletes = new Counter({
    name: 'syncguard_staged_deletes_total',
    help: 'Deletes held back by quarantines',
    registers: [this.registry],
  });
  readonly guardTrips = new Counter({
    name: 'syncguard_guard_trips_total',
    help: 'Delete-policy rules that tripped (one per rule of each quarantined cycle), by rule',
    labelNames: ['rule'] as const, // count | percentage | type:user | type:group | window | memberRemovals | protected
    registers: [this.registry],
  });
  readonly quarantinedConfigurations = new Gauge({
    name: 'syncguard_quarantined_configurations',
    help: 'Configurations currently quarantined (read from Redis at scrape time)',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'syncguard_queue_jobs',
    help: 'BullMQ jobs by queue and state (read at scrape time)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });
  readonly emails = new Counter({
    name: 'syncguard_emails_total',
    help: 'Notification email send attempts, by result',
    labelNames: ['result'] as const, // sent | failed
    registers: [this.registry],
  });
  readonly webhooks = new Counter({
    name: 'syncguard_webhooks_total',
    help: 'Webhook delivery attempts, by result',
    labelNames: ['result'] as const, // delivered | failed
    registers: [this.registry],
  });
  readonly framesRejected = new Counter({
    name: 'syncguard_frames_rejected_total',
    help: 'Agent frames refused by the gateway, by ProtocolError code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

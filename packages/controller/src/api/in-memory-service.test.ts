/**
 * TEST DOUBLE, never shipped (a *.test.ts file, excluded from the build): an in-memory
 * implementation of our own ControllerService interface, so that the HTTP layer's tests
 * can drive every state (quarantine, conflicts) without agents. Tests that go through the
 * engine's real service live in api-real-service.int.test.ts.
 */
import { randomUUID } from 'node:crypto';
import type { ControllerService } from '../controller-service';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { DEFAULT_ACCIDENTAL_DELETES } from '../configurations/configuration-validation';
import type {
  AllowDeletesResult,
  Actor,
  Agent,
  AuditEntry,
  CloudObject,
  Configuration,
  ConfigurationInput,
  ConfigurationPatch,
  ConfigurationStatus,
  Cycle,
  NotificationEventView,
  ObjectTypeName,
  Page,
  ProvisioningAction,
  ProvisioningLogEntry,
} from '../model';

function pageOf<T>(all: T[], query: { limit?: number; cursor?: string }): Page<T> {
  const start = query.cursor ? Number(query.cursor) : 0;
  const limit = query.limit ?? 50;
  const items = all.slice(start, start + limit);
  return { items, nextCursor: start + limit < all.length ? String(start + limit) : null };
}

export class InMemoryControllerService implements ControllerService {
  readonly agents = new Map<string, Agent>();
  readonly configurations = new Map<string, Configuration>();
  readonly cycles = new Map<string, Cycle[]>();
  readonly logs = new Map<string, ProvisioningLogEntry[]>();
  readonly objects = new Map<string, CloudObject[]>();
  readonly audit: AuditEntry[] = [];
  readonly quarantines = new Map<string, { cycleId: string; deleteCount: number; since: string }>();
  redisUp = true;
  private clock = Date.parse('2026-11-24T10:00:00Z');

  private now(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private write(actor: Actor, action: string, target: { type: string; id: string }, details: Record<string, unknown> = {}): void {
    this.audit.unshift({
      id: randomUUID(),
      at: this.now(),
      actor: { tokenId: actor.tokenId, name: actor.name },
      action,
      target,
      details,
    });
  }

  async recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    this.audit.unshift({ id: randomUUID(), at: this.now(), ...entry });
  }

  async registerAgent(input: { name: string }, actor: Actor): Promise<{ id: string; token: string }> {
    if ([...this.agents.values()].some((a) => a.name === input.name))
      throw new ConflictError('SG_ERR_NAME_TAKEN', `name: an agent named ${input.name} exists`);
    const id = randomUUID();
    this.agents.set(id, {
      id,
      name: input.name,
      status: 'disconnected',
      lastSeenAt: null,
      version: null,
      hostname: null,
      configurationIds: [],
      createdAt: this.now(),
    });
    this.write(actor, 'agent.register', { type: 'agent', id }, { name: input.name });
    return { id, token: `agent-secret-${id}` };
  }

  async listAgents(): Promise<Agent[]> {
    return [...this.agents.values()];
  }

  async getAgent(id: string): Promise<Agent> {
    const agent = this.agents.get(id);
    if (!agent) throw new NotFoundError('agent', id);
    return agent;
  }

  async deleteAgent(id: string, actor: Actor): Promise<{ id: string; configurationIds: string[] }> {
    const agent = await this.getAgent(id);
    this.agents.delete(id);
    const configurationIds: string[] = [];
    for (const c of this.configurations.values()) {
      if (!c.agentIds.includes(id)) continue;
      c.agentIds = c.agentIds.filter((a) => a !== id);
      configurationIds.push(c.id);
    }
    this.write(actor, 'agent.delete', { type: 'agent', id }, { name: agent.name, configurationIds });
    return { id, configurationIds };
  }

  async rotateAgentToken(id: string, actor: Actor): Promise<{ id: string; token: string }> {
    const agent = await this.getAgent(id);
    this.write(actor, 'agent.rotate-token', { type: 'agent', id }, { name: agent.name });
    return { id, token: `agent-secret-${id}-${randomUUID()}` };
  }

  async listScimResources(id: string): Promise<{ totalResults: number; resources: Record<string, unknown>[] }> {
    await this.getConfiguration(id);
    return { totalResults: 0, resources: [] };
  }

  async listConfigurations(): Promise<Configuration[]> {
    return [...this.configurations.values()];
  }

  async createConfiguration(input: ConfigurationInput, actor: Actor): Promise<Configuration> {
    if ([...this.configurations.values()].some((c) => c.name === input.name))
      throw new ConflictError('SG_ERR_NAME_TAKEN', `a configuration named ${input.name} exists`);
    for (const agentId of input.agentIds ?? [])
      if (!this.agents.has(agentId)) throw new ValidationError('agentIds', `unknown agent ${agentId}`);
    const at = this.now();
    const config: Configuration = {
      id: randomUUID(),
      name: input.name,
      agentIds: input.agentIds ?? [],
      source: { filter: '', objectTypes: ['user', 'group'], attributes: [], disabledAttribute: '', ...input.source },
      syncIntervalSeconds: input.syncIntervalSeconds ?? 120,
      accidentalDeletes: { ...DEFAULT_ACCIDENTAL_DELETES, ...input.accidentalDeletes },
      notificationEmail: input.notificationEmail ?? null,
      target: { type: 'cloudDirectory' },
      notifications: {
        emails: input.notifications?.emails ?? [],
        webhooks: (input.notifications?.webhooks ?? []).map((w) => ({ url: w.url, secret: null, secretSet: true })),
      },
      state: 'pending',
      createdAt: at,
      updatedAt: at,
    };
    this.configurations.set(config.id, config);
    this.cycles.set(config.id, []);
    this.write(actor, 'configuration.create', { type: 'configuration', id: config.id }, { name: config.name });
    return config;
  }

  async getConfiguration(id: string): Promise<Configuration> {
    const config = this.configurations.get(id);
    if (!config) throw new NotFoundError('configuration', id);
    return config;
  }

  async updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration> {
    const config = await this.getConfiguration(id);
    const next: Configuration = {
      ...config,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.agentIds !== undefined ? { agentIds: patch.agentIds } : {}),
      ...(patch.syncIntervalSeconds !== undefined ? { syncIntervalSeconds: patch.syncIntervalSeconds } : {}),
      ...(patch.notificationEmail !== undefined ? { notificationEmail: patch.notificationEmail } : {}),
      source: { ...config.source, ...patch.source },
      accidentalDeletes: { ...config.accidentalDeletes, ...patch.accidentalDeletes },
      updatedAt: this.now(),
    };
    this.configurations.set(id, next);
    this.write(actor, 'configuration.update', { type: 'configuration', id }, { patch });
    return next;
  }

  async deleteConfiguration(id: string, actor: Actor): Promise<void> {
    await this.getConfiguration(id);
    this.configurations.delete(id);
    this.write(actor, 'configuration.delete', { type: 'configuration', id });
  }

  async getStatus(id: string): Promise<ConfigurationStatus> {
    const config = await this.getConfiguration(id);
    const q = this.quarantines.get(id);
    const last = this.cycles.get(id)?.[0] ?? null;
    return {
      state: config.state,
      quarantine: q
        ? {
            reason: 'TooManyDeletes',
            deleteCount: q.deleteCount,
            threshold: config.accidentalDeletes.threshold,
            trippedBy: [{ rule: 'count', value: q.deleteCount, limit: config.accidentalDeletes.threshold }],
            seriesCount: 1,
            hold: 'cycle',
            cycleId: q.cycleId,
            since: q.since,
            notification: { status: 'sent', attempts: 1, lastError: null, sentAt: q.since },
          }
        : null,
      lastCycle: last,
    };
  }

  private addCycle(
    id: string,
    state: Cycle['state'],
    trigger: Cycle['trigger'],
    counts = { create: 0, update: 0, delete: 0, failed: 0 },
  ): Cycle {
    const at = this.now();
    const cycle: Cycle = {
      id: randomUUID(),
      configurationId: id,
      state,
      mode: 'delta',
      trigger,
      agentId: null,
      baseCycleId: null,
      startedAt: at,
      completedAt: state === 'running' ? null : at,
      counts,
      error: null,
    };
    this.cycles.get(id)?.unshift(cycle);
    return cycle;
  }

  async startCycle(id: string, actor: Actor): Promise<{ cycleId: string }> {
    const config = await this.getConfiguration(id);
    if (config.state === 'quarantined') throw new ConflictError('SG_ERR_QUARANTINED', `configuration ${id} is quarantined`);
    const cycle = this.addCycle(id, 'running', 'manual');
    this.write(actor, 'cycle.start', { type: 'configuration', id }, { cycleId: cycle.id });
    return { cycleId: cycle.id };
  }

  async listCycles(id: string, page: { limit?: number; cursor?: string }): Promise<Page<Cycle>> {
    await this.getConfiguration(id);
    return pageOf(this.cycles.get(id) ?? [], page);
  }

  async listProvisioningLogs(
    id: string,
    query: { action?: ProvisioningAction; cycleId?: string; dn?: string; limit?: number; cursor?: string },
  ): Promise<Page<ProvisioningLogEntry>> {
    await this.getConfiguration(id);
    const all = (this.logs.get(id) ?? []).filter(
      (e) =>
        (!query.action || e.action === query.action) &&
        (!query.cycleId || e.cycleId === query.cycleId) &&
        (!query.dn || e.dn.toLowerCase().includes(query.dn.toLowerCase())),
    );
    return pageOf(all, query);
  }

  /** Test helper: puts a configuration in quarantine with `deleteCount` staged deletes. */
  quarantine(id: string, deleteCount: number): string {
    const config = this.configurations.get(id);
    if (!config) throw new Error(`no configuration ${id}`);
    const cycle = this.addCycle(id, 'quarantined', 'schedule', { create: 0, update: 0, delete: deleteCount, failed: 0 });
    this.configurations.set(id, { ...config, state: 'quarantined' });
    this.quarantines.set(id, { cycleId: cycle.id, deleteCount, since: cycle.startedAt });
    const entries = this.logs.get(id) ?? [];
    for (let i = 0; i < deleteCount; i++)
      entries.unshift({
        id: randomUUID(),
        cycleId: cycle.id,
        at: cycle.startedAt,
        action: 'StagedDelete',
        status: 'staged',
        objectType: 'user',
        objectId: `u${i}`,
        dn: `uid=user${i},ou=people,dc=example,dc=com`,
        details: null,
      });
    this.logs.set(id, entries);
    return cycle.id;
  }

  async allowDeletes(id: string, actor: Actor): Promise<AllowDeletesResult> {
    const config = await this.getConfiguration(id);
    const q = this.quarantines.get(id);
    if (!q) throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${config.name} is not quarantined`);
    this.quarantines.delete(id);
    this.configurations.set(id, { ...config, state: 'healthy' });
    this.write(actor, 'allow-deletes', { type: 'configuration', id }, { cycleId: q.cycleId, deleted: q.deleteCount });
    return { state: 'applied', cycleId: q.cycleId, deleted: q.deleteCount, kept: 0 };
  }

  async listStagedDeletes(id: string): Promise<{ items: never[]; nextCursor: null; total: number; cycleId: null }> {
    await this.getConfiguration(id);
    return { items: [], nextCursor: null, total: 0, cycleId: null };
  }

  async rejectDeletes(): Promise<never> {
    throw new ConflictError('SG_ERR_STATE', 'not in the in-memory service');
  }

  async listKeptObjects(id: string): Promise<{ items: never[]; nextCursor: null; total: number }> {
    await this.getConfiguration(id);
    return { items: [], nextCursor: null, total: 0 };
  }

  async deleteKeptObjects(): Promise<never> {
    throw new ConflictError('SG_ERR_STATE', 'not in the in-memory service');
  }

  async createDeleteApproval(): Promise<never> {
    throw new ConflictError('SG_ERR_STATE', 'not in the in-memory service');
  }

  async listDeleteApprovals(id: string): Promise<{ items: never[] }> {
    await this.getConfiguration(id);
    return { items: [] };
  }

  async revokeDeleteApproval(_id: string, approvalId: string): Promise<void> {
    throw new NotFoundError('delete approval', approvalId);
  }

  async startPreview(id: string): Promise<{ previewId: string }> {
    await this.getConfiguration(id);
    throw new ConflictError('SG_ERR_NO_AGENT', `no agent serving configuration ${id} is connected`);
  }

  async getPreview(_id: string, previewId: string): Promise<never> {
    throw new NotFoundError('preview', previewId);
  }

  async listNotifications(id: string): Promise<{ items: NotificationEventView[] }> {
    await this.getConfiguration(id);
    return { items: [] };
  }

  async testNotifications(id: string, actor: Actor): Promise<{ eventId: string; deliveries: number }> {
    const config = await this.getConfiguration(id);
    const deliveries =
      config.notifications.emails.length + config.notifications.webhooks.length + (config.notificationEmail ? 1 : 0);
    if (deliveries === 0) throw new ConflictError('SG_ERR_NO_NOTIFICATIONS', `configuration ${config.name} has no recipients`);
    const eventId = randomUUID();
    this.write(actor, 'notifications.test', { type: 'configuration', id }, { eventId, deliveries });
    return { eventId, deliveries };
  }

  async restart(id: string, actor: Actor): Promise<{ discardedCycleId: string; cycleId: string | null }> {
    const config = await this.getConfiguration(id);
    const q = this.quarantines.get(id);
    if (!q) throw new ConflictError('SG_ERR_NOT_QUARANTINED', `configuration ${config.name} is not quarantined`);
    this.quarantines.delete(id);
    this.configurations.set(id, { ...config, state: 'pending' });
    const cycle = this.addCycle(id, 'running', 'restart');
    this.write(actor, 'restart', { type: 'configuration', id }, { discardedCycleId: q.cycleId, cycleId: cycle.id });
    return { discardedCycleId: q.cycleId, cycleId: cycle.id };
  }

  async listObjects(
    id: string,
    query: { type?: ObjectTypeName; limit?: number; cursor?: string },
  ): Promise<{ total: number } & Page<CloudObject>> {
    await this.getConfiguration(id);
    const all = (this.objects.get(id) ?? []).filter((o) => !query.type || o.type === query.type);
    return { total: all.length, ...pageOf(all, query) };
  }

  async listAudit(query: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>> {
    return pageOf(this.audit, query);
  }

  async ping(): Promise<boolean> {
    return this.redisUp;
  }
}

if (expect.getState().testPath === __filename) {
  test('the test double answers NotFoundError for unknown ids', async () => {
    await expect(new InMemoryControllerService().getConfiguration('nope')).rejects.toBeInstanceOf(NotFoundError);
  });
}

import type { AgentRegistry } from './agents/agent-registry';
import type { AuditLog } from './store/audit-log';
import type { ConfigurationService } from './configurations/configuration-service';
import type { ControllerService, KeptDeleteResult, StagedDeleteGroups, StagedDeletePage } from './controller-service';
import type { StagedDeleteService } from './cycles/staged-deletes';
import type { DeleteApprovalService } from './cycles/delete-approvals';
import type { PreviewService } from './previews/preview-service';
import type { CycleService } from './cycles/cycle-service';
import type { QuarantineService } from './cycles/quarantine-service';
import { parseTriageBody, type KeptObject, type RejectResult, type TriageService } from './cycles/triage';
import type { NotificationService } from './notifications/notification-service';
import { ValidationError } from './errors';
import type {
  Actor,
  Agent,
  AllowDeletesResult,
  AuditEntry,
  CloudObject,
  Configuration,
  ConfigurationInput,
  ConfigurationPatch,
  ConfigurationStatus,
  Cycle,
  DeleteApproval,
  NotificationEventView,
  ObjectTypeName,
  Page,
  ProvisioningAction,
  ProvisioningLogEntry,
  Preview,
} from './model';
import { limitOf } from './page-limit';
import type { ConfigurationStore } from './store/configuration-store';
import type { Target } from './targets/target';
import { matchesFilter, scimResourceOf, type ScimDirectoryIndex, type ScimEqFilter } from './targets/scim/scim-view';

export interface ControllerFacadeDeps {
  agents: AgentRegistry;
  configurations: ConfigurationService;
  cycles: CycleService;
  quarantines: QuarantineService;
  triage: TriageService;
  notifications: NotificationService;
  stagedDeletes: StagedDeleteService;
  deleteApprovals: DeleteApprovalService;
  previews: PreviewService;
  configs: ConfigurationStore;
  target: Target;
  /** The cloud directory's index for the SCIM view; without it the view reads the directory from its start. */
  scimIndex?: ScimDirectoryIndex;
  audit: AuditLog;
  /** True while Redis answers. */
  ping(): Promise<boolean>;
}

/**
 * The ControllerService the HTTP API, the CLI's tests and the portal's server call: each
 * call handed to the service of its domain (agents, configurations, cycles, quarantines).
 */
export class ControllerFacade implements ControllerService {
  constructor(private readonly deps: ControllerFacadeDeps) {}

  registerAgent(input: { name: string }, actor: Actor): Promise<{ id: string; token: string }> {
    return this.deps.agents.registerAgent(input, actor);
  }

  async deleteAgent(id: string, actor: Actor): Promise<{ id: string; configurationIds: string[] }> {
    const removed = await this.deps.agents.deleteAgent(id, actor);
    await this.deps.cycles.agentRemoved(id, removed.name, removed.configurationIds);
    return { id: removed.id, configurationIds: removed.configurationIds };
  }

  rotateAgentToken(id: string, actor: Actor): Promise<{ id: string; token: string }> {
    return this.deps.agents.rotateAgentToken(id, actor);
  }

  listAgents(): Promise<Agent[]> {
    return this.deps.agents.listAgents();
  }

  getAgent(id: string): Promise<Agent> {
    return this.deps.agents.getAgent(id);
  }

  listConfigurations(): Promise<Configuration[]> {
    return this.deps.configurations.listConfigurations();
  }

  createConfiguration(input: ConfigurationInput, actor: Actor): Promise<Configuration> {
    return this.deps.configurations.createConfiguration(input, actor);
  }

  getConfiguration(id: string): Promise<Configuration> {
    return this.deps.configurations.getConfiguration(id);
  }

  updateConfiguration(id: string, patch: ConfigurationPatch, actor: Actor): Promise<Configuration> {
    return this.deps.configurations.updateConfiguration(id, patch, actor);
  }

  deleteConfiguration(id: string, actor: Actor): Promise<void> {
    return this.deps.configurations.deleteConfiguration(id, actor);
  }

  async getStatus(id: string): Promise<ConfigurationStatus> {
    const status = await this.deps.cycles.getStatus(id);
    const notifications = await this.deps.notifications.recent(id, 5);
    if (!status.quarantine) return { ...status, notifications };
    const emails = await this.deps.notifications.quarantineNotification(id, status.quarantine.cycleId);
    return {
      ...status,
      quarantine: { ...status.quarantine, notification: emails ?? status.quarantine.notification },
      notifications,
    };
  }

  listStagedDeletes(
    id: string,
    query: { groupBy?: string; limit?: number; cursor?: string },
  ): Promise<StagedDeletePage | StagedDeleteGroups> {
    return this.deps.stagedDeletes.list(id, query);
  }

  startPreview(id: string, patch: unknown, actor: Actor): Promise<{ previewId: string }> {
    return this.deps.previews.start(id, patch, actor);
  }

  getPreview(id: string, previewId: string): Promise<Preview> {
    return this.deps.previews.read(id, previewId);
  }

  createDeleteApproval(id: string, body: unknown, actor: Actor): Promise<DeleteApproval> {
    return this.deps.deleteApprovals.create(id, body, actor);
  }

  listDeleteApprovals(id: string): Promise<{ items: DeleteApproval[] }> {
    return this.deps.deleteApprovals.list(id);
  }

  revokeDeleteApproval(id: string, approvalId: string, actor: Actor): Promise<void> {
    return this.deps.deleteApprovals.revoke(id, approvalId, actor);
  }

  async listNotifications(id: string, query: { limit?: number }): Promise<{ items: NotificationEventView[] }> {
    return { items: await this.deps.notifications.recent(id, Math.min(limitOf(query.limit, 20), 100)) };
  }

  testNotifications(id: string, actor: Actor): Promise<{ eventId: string; deliveries: number }> {
    return this.deps.notifications.test(id, actor);
  }

  startCycle(id: string, actor: Actor): Promise<{ cycleId: string }> {
    return this.deps.cycles.startCycle(id, actor);
  }

  listCycles(id: string, page: { limit?: number; cursor?: string }): Promise<Page<Cycle>> {
    return this.deps.cycles.listCycles(id, page);
  }

  listProvisioningLogs(
    id: string,
    query: { action?: ProvisioningAction; cycleId?: string; dn?: string; limit?: number; cursor?: string },
  ): Promise<Page<ProvisioningLogEntry>> {
    return this.deps.cycles.listProvisioningLogs(id, query);
  }

  async allowDeletes(id: string, actor: Actor, body?: unknown): Promise<AllowDeletesResult> {
    const selection = parseTriageBody(body, { parents: true });
    if (selection.objectIds || selection.parentDns) return this.deps.triage.allowSome(id, selection, actor);
    const result = await this.deps.quarantines.allowDeletes(id, actor, selection.reason);
    return result.state === 'awaitingApproval' ? result : { ...result, kept: 0 };
  }

  async rejectDeletes(id: string, body: unknown, actor: Actor): Promise<RejectResult> {
    return this.deps.triage.reject(id, parseTriageBody(body, { parents: false }), actor);
  }

  listKeptObjects(id: string, query: { limit?: number; cursor?: string }): Promise<Page<KeptObject> & { total: number }> {
    return this.deps.triage.listKept(id, query);
  }

  async deleteKeptObjects(id: string, body: unknown, actor: Actor): Promise<KeptDeleteResult> {
    return this.deps.triage.deleteKept(id, parseTriageBody(body, { parents: false, requireIds: true }), actor);
  }

  restart(id: string, actor: Actor): Promise<{ discardedCycleId: string; cycleId: string | null }> {
    return this.deps.quarantines.restart(id, actor);
  }

  // ---------------------------------------------------------------- objects, audit

  async listObjects(
    id: string,
    query: { type?: ObjectTypeName; limit?: number; cursor?: string },
  ): Promise<{ total: number } & Page<CloudObject>> {
    await this.deps.configs.get(id);
    if (query.type !== undefined && query.type !== 'user' && query.type !== 'group')
      throw new ValidationError('type', 'must be user or group');
    return this.deps.target.listObjects(id, { type: query.type, limit: limitOf(query.limit, 100), cursor: query.cursor });
  }

  /**
   * The cloud directory's users or groups as SCIM resources, from `startIndex` (1-based),
   * at most `count`, optionally filtered by one `eq`. With the directory's index: a page is
   * read by position (ZRANGE by rank, whatever the startIndex), `id` and `externalId` (the
   * source id) by key, `userName` / a group's `displayName` from the name index; anything
   * else (a user's displayName, a directory applied before the index) by walking the directory.
   */
  async listScimResources(
    id: string,
    type: ObjectTypeName,
    query: { filter: ScimEqFilter | null; startIndex: number; count: number; baseUrl: string },
  ): Promise<{ totalResults: number; resources: Record<string, unknown>[] }> {
    await this.deps.configs.get(id);
    const index = this.deps.scimIndex;
    if (index) {
      const f = query.filter;
      if (!f) {
        const page = await index.page(id, type, query.startIndex - 1, query.count);
        const objects = await index.objects(id, page.ids);
        return { totalResults: page.total, resources: objects.map((o) => scimResourceOf(o, query.baseUrl)) };
      }
      const named = f.attribute === 'userName' || (f.attribute === 'displayName' && type === 'group');
      const ids =
        f.attribute === 'id' || f.attribute === 'externalId' ? [f.value] : named ? await index.byName(id, type, f.value) : null;
      if (ids) {
        const matched = (await index.objects(id, ids))
          .filter((o) => o.type === type)
          .map((o) => scimResourceOf(o, query.baseUrl))
          .filter((r) => matchesFilter(r, f))
          .sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
        const from = query.startIndex - 1;
        return { totalResults: matched.length, resources: matched.slice(from, from + query.count) };
      }
    }
    return this.scanScimResources(id, type, query);
  }

  /** The SCIM view by walking the directory in pages (a filter or a far startIndex reads every object before it). */
  private async scanScimResources(
    id: string,
    type: ObjectTypeName,
    query: { filter: ScimEqFilter | null; startIndex: number; count: number; baseUrl: string },
  ): Promise<{ totalResults: number; resources: Record<string, unknown>[] }> {
    const resources: Record<string, unknown>[] = [];
    let matched = 0;
    let cursor: string | undefined;
    const from = query.startIndex - 1;
    for (;;) {
      const page = await this.deps.target.listObjects(id, { type, limit: 1000, cursor });
      if (!query.filter && from >= page.total) return { totalResults: page.total, resources };
      for (const o of page.items) {
        const r = scimResourceOf(o, query.baseUrl);
        if (query.filter && !matchesFilter(r, query.filter)) continue;
        if (matched >= from && resources.length < query.count) resources.push(r);
        matched += 1;
      }
      if (!query.filter && resources.length >= query.count) return { totalResults: page.total, resources };
      if (!page.nextCursor) return { totalResults: query.filter ? matched : page.total, resources };
      cursor = page.nextCursor;
    }
  }

  async listAudit(query: { limit?: number; cursor?: string }): Promise<Page<AuditEntry>> {
    if (query.cursor !== undefined && !/^\d+-\d+$/.test(query.cursor))
      throw new ValidationError('cursor', 'is not a cursor of this list');
    return this.deps.audit.list({ limit: limitOf(query.limit, 50), cursor: query.cursor });
  }

  async recordAudit(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
    await this.deps.audit.record(entry);
  }

  ping(): Promise<boolean> {
    return this.deps.ping();
  }
}

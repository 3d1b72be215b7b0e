import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { coveringApproval } from '../guard/pre-approval';
import type { TrippedRule } from '../guard/decide';
import type { Actor, DeleteApproval } from '../model';
import type { AuditTrail, ConfigurationReader } from './cycle-records';

/** The longest a pre-approval may wait for its cycle: 30 days. */
export const MAX_APPROVAL_HOURS = 720;
/** Used, revoked and expired pre-approvals are listed this long after they ended, then removed. */
const ENDED_KEPT_MS = 30 * 86_400_000;

/** A pre-approval as stored (JSON in `P:config:{id}:delete-approvals`). */
export interface StoredDeleteApproval {
  id: string;
  maxDeletes: number;
  reason: string;
  createdAt: string;
  expiresAt: string;
  expiresAtMs: number;
  createdBy: string;
  createdByTokenId: string;
  usedAt: string | null;
  cycleId: string | null;
  usedDeletes: number | null;
  revokedAt: string | null;
}

/** Where pre-approvals are kept (store/delete-approval-store.ts implements it). */
export interface DeleteApprovalRecords {
  add(configurationId: string, a: StoredDeleteApproval): Promise<void>;
  list(configurationId: string): Promise<StoredDeleteApproval[]>;
  /** Marks it used by the cycle, atomically: `taken` now, `already` by this cycle before, `gone` otherwise. */
  use(
    configurationId: string,
    approvalId: string,
    cycleId: string,
    usedAt: string,
    deletes: number,
    nowMs: number,
  ): Promise<'taken' | 'already' | 'gone'>;
  revoke(configurationId: string, approvalId: string, at: string): Promise<'revoked' | 'spent' | 'unknown'>;
  remove(configurationId: string, approvalIds: readonly string[]): Promise<void>;
}

export interface DeleteApprovalServiceDeps {
  records: DeleteApprovalRecords;
  configs: ConfigurationReader;
  audit: AuditTrail;
  logger: Logger;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function approvalView(a: StoredDeleteApproval, nowMs = Date.now()): DeleteApproval {
  const state = a.usedAt ? 'used' : a.revokedAt ? 'revoked' : a.expiresAtMs <= nowMs ? 'expired' : 'active';
  return {
    id: a.id,
    maxDeletes: a.maxDeletes,
    reason: a.reason,
    createdAt: a.createdAt,
    expiresAt: a.expiresAt,
    createdBy: a.createdBy,
    state,
    usedAt: a.usedAt,
    cycleId: a.cycleId,
    usedDeletes: a.usedDeletes,
  };
}

/**
 * Pre-approvals of planned changes: an admin approves ahead a change of at most `maxDeletes`
 * deletes for `expiresInHours`; the first cycle the guard would quarantine within that
 * ceiling and time is applied instead, once, and records the approval's id. Never a switch
 * that turns the guard off: a cycle over the ceiling, after the expiry or deleting a
 * protected object is quarantined as ever (and leaves the approval unused).
 */
export class DeleteApprovalService {
  constructor(private readonly deps: DeleteApprovalServiceDeps) {}

  async create(configurationId: string, body: unknown, actor: Actor): Promise<DeleteApproval> {
    await this.deps.configs.get(configurationId);
    if (!isObject(body)) throw new ValidationError('body', 'must be a JSON object');
    for (const k of Object.keys(body))
      if (!['maxDeletes', 'expiresInHours', 'reason'].includes(k)) throw new ValidationError(k, 'is not a known field');
    const { maxDeletes, expiresInHours, reason } = body;
    if (typeof maxDeletes !== 'number' || !Number.isSafeInteger(maxDeletes) || maxDeletes < 1)
      throw new ValidationError('maxDeletes', 'must be a whole number >= 1');
    if (
      typeof expiresInHours !== 'number' ||
      !Number.isFinite(expiresInHours) ||
      expiresInHours <= 0 ||
      expiresInHours > MAX_APPROVAL_HOURS
    )
      throw new ValidationError('expiresInHours', `must be a number of hours > 0 and <= ${MAX_APPROVAL_HOURS}`);
    if (typeof reason !== 'string' || reason.trim() === '') throw new ValidationError('reason', 'must be a non-empty string');
    if (reason.length > 500) throw new ValidationError('reason', 'must be at most 500 characters');
    const nowMs = Date.now();
    const expiresAtMs = nowMs + Math.round(expiresInHours * 3_600_000);
    const a: StoredDeleteApproval = {
      id: randomUUID(),
      maxDeletes,
      reason: reason.trim(),
      createdAt: new Date(nowMs).toISOString(),
      expiresAt: new Date(expiresAtMs).toISOString(),
      expiresAtMs,
      createdBy: actor.name,
      createdByTokenId: actor.tokenId,
      usedAt: null,
      cycleId: null,
      usedDeletes: null,
      revokedAt: null,
    };
    await this.prune(configurationId, nowMs);
    await this.deps.records.add(configurationId, a);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'delete-approval.create',
      target: { type: 'configuration', id: configurationId },
      details: { approvalId: a.id, maxDeletes, expiresAt: a.expiresAt, reason: a.reason },
    });
    return approvalView(a, nowMs);
  }

  /** Newest first; ended ones are kept 30 days. */
  async list(configurationId: string): Promise<{ items: DeleteApproval[] }> {
    await this.deps.configs.get(configurationId);
    const nowMs = Date.now();
    const all = await this.deps.records.list(configurationId);
    return { items: all.sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((a) => approvalView(a, nowMs)) };
  }

  async revoke(configurationId: string, approvalId: string, actor: Actor): Promise<void> {
    await this.deps.configs.get(configurationId);
    const r = await this.deps.records.revoke(configurationId, approvalId, new Date().toISOString());
    if (r === 'unknown') throw new NotFoundError('delete approval', approvalId);
    if (r === 'spent')
      throw new ConflictError('SG_ERR_APPROVAL_SPENT', `delete approval ${approvalId} was already used or revoked`);
    await this.deps.audit.record({
      actor: { tokenId: actor.tokenId, name: actor.name },
      action: 'delete-approval.revoke',
      target: { type: 'configuration', id: configurationId },
      details: { approvalId },
    });
  }

  /**
   * The pre-approval a cycle with these deletes would use now (see {@link forCycle}), or
   * null; nothing is taken (for previews).
   */
  async covering(configurationId: string, deletes: number, trippedBy: readonly TrippedRule[]): Promise<string | null> {
    const all = await this.deps.records.list(configurationId);
    const candidates = all.map((a) => ({
      id: a.id,
      maxDeletes: a.maxDeletes,
      expiresAtMs: a.expiresAtMs,
      createdAtMs: Date.parse(a.createdAt),
      spent: a.usedAt !== null || a.revokedAt !== null,
    }));
    return coveringApproval(candidates, { deletes, trippedBy, nowMs: Date.now() })?.id ?? null;
  }

  /**
   * Asked by evaluation when the guard would quarantine a cycle: takes the covering
   * pre-approval for it (atomically, once) and answers its id, or null. Audited once per use.
   */
  async forCycle(
    configurationId: string,
    cycleId: string,
    deletes: number,
    trippedBy: readonly TrippedRule[],
  ): Promise<string | null> {
    const nowMs = Date.now();
    const all = await this.deps.records.list(configurationId);
    // Run again for the same cycle (a crashed evaluation): the approval it took is still its own.
    const mine = all.find((a) => a.cycleId === cycleId);
    if (mine) return mine.id;
    const candidates = all.map((a) => ({
      id: a.id,
      maxDeletes: a.maxDeletes,
      expiresAtMs: a.expiresAtMs,
      createdAtMs: Date.parse(a.createdAt),
      spent: a.usedAt !== null || a.revokedAt !== null,
    }));
    for (;;) {
      const pick = coveringApproval(candidates, { deletes, trippedBy, nowMs });
      if (!pick) return null;
      const r = await this.deps.records.use(configurationId, pick.id, cycleId, new Date(nowMs).toISOString(), deletes, nowMs);
      if (r === 'gone') {
        pick.spent = true; // revoked meanwhile: try the next
        continue;
      }
      if (r === 'taken') {
        const a = all.find((x) => x.id === pick.id)!;
        await this.deps.audit.record({
          actor: { tokenId: a.createdByTokenId, name: a.createdBy },
          action: 'delete-approval.use',
          target: { type: 'configuration', id: configurationId },
          details: { approvalId: a.id, cycleId, deleteCount: deletes, maxDeletes: a.maxDeletes, reason: a.reason, trippedBy },
        });
        this.deps.logger.warn(
          { configurationId, cycleId, approvalId: a.id, deleteCount: deletes, maxDeletes: a.maxDeletes },
          'deletes let through by a pre-approval',
        );
      }
      return pick.id;
    }
  }

  private async prune(configurationId: string, nowMs: number): Promise<void> {
    const all = await this.deps.records.list(configurationId);
    const endedAt = (a: StoredDeleteApproval) =>
      a.usedAt ? Date.parse(a.usedAt) : a.revokedAt ? Date.parse(a.revokedAt) : a.expiresAtMs;
    const old = all.filter((a) => endedAt(a) < nowMs - ENDED_KEPT_MS).map((a) => a.id);
    await this.deps.records.remove(configurationId, old);
  }
}

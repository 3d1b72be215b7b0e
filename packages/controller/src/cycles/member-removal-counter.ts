import { removedMemberships } from '../guard/member-removals';

/** A group an apply chunk applied: its new member list, or null for a delete. */
export interface PlannedMembership {
  readonly groupId: string;
  readonly memberDns: readonly string[] | null;
}

/** What counting needs to read: the pipeline's own records, never the target. */
export interface MemberRemovalReads {
  /** The member keys the pipeline last applied for each group (null: no record). */
  previous(configurationId: string, groupIds: readonly string[]): Promise<(readonly string[] | null)[]>;
  /** The member DNs of the cycle's changes at `(seq, idx)`, in the order given. */
  memberDns(cycleId: string, at: readonly { seq: number; idx: number }[]): Promise<(readonly string[])[]>;
}

/**
 * Counts a cycle's `memberRemovals` while evaluation walks its batches: each group update
 * that carries a member list is added, and {@link flush} (after each group of batches, so
 * that memory stays bounded) compares it with the group's recorded members. Only group
 * updates are read: a directory of users, or an initial sync (every object a create),
 * costs nothing.
 */
export class MemberRemovalCounter {
  private pending: { seq: number; idx: number; groupId: string }[] = [];
  private removed = 0;

  constructor(
    private readonly reads: MemberRemovalReads,
    private readonly configurationId: string,
    private readonly cycleId: string,
  ) {}

  /** A group update of the cycle (its change at `seq`, `idx`). */
  add(seq: number, idx: number, groupId: string): void {
    this.pending.push({ seq, idx, groupId });
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    const [previous, current] = await Promise.all([
      this.reads.previous(
        this.configurationId,
        pending.map((p) => p.groupId),
      ),
      this.reads.memberDns(this.cycleId, pending),
    ]);
    pending.forEach((_, i) => {
      const before = previous[i];
      if (before) this.removed += removedMemberships(before, current[i] ?? []);
    });
  }

  /** The memberships removed so far (call {@link flush} first). */
  get total(): number {
    return this.removed;
  }
}

/**
 * Memberships a cycle removes from a group that stays (the `memberRemovals` rule), as pure
 * code. The previous members are the pipeline's own record of what it applied to the
 * target (store/member-record.ts), never a read of the target; the new ones are the
 * group's member list in the cycle's change.
 */

/** A member DN as the record keeps and compares it: trimmed, lower-cased, no space after commas. */
export function memberKey(dn: string): string {
  return dn.trim().toLowerCase().replace(/,\s+/g, ',');
}

/**
 * How many of `previous` (member keys, as the record holds them) are not in `current`
 * (member DNs as the source lists them now). A member listed twice counts once.
 */
export function removedMemberships(previous: readonly string[], current: readonly string[]): number {
  if (previous.length === 0) return 0;
  const now = new Set(current.map(memberKey));
  let removed = 0;
  for (const m of new Set(previous)) if (!now.has(m)) removed += 1;
  return removed;
}

import { memberKey } from '../guard/member-removals';

/**
 * A value of the member record (`P:config:{id}:members`, group id -> this): the members of
 * a group as the pipeline last applied it to the target, as member keys
 * (guard/member-removals.ts: trimmed, lower-cased DNs), JSON. Written by the apply chunk
 * that applies the group's create or update (one with its member list), removed with the
 * group's delete; read by evaluation for the `memberRemovals` rule. Groups only: users
 * have none, so a directory of users costs nothing here.
 */
export function encodeMemberRecord(memberDns: readonly string[]): string {
  return JSON.stringify([...new Set(memberDns.map(memberKey))]);
}

export function decodeMemberRecord(stored: string): string[] {
  const parsed: unknown = JSON.parse(stored);
  if (!Array.isArray(parsed) || !parsed.every((m) => typeof m === 'string'))
    throw new Error(`not a member record: ${JSON.stringify(stored.slice(0, 200))}`);
  return parsed as string[];
}

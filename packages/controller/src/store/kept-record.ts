/**
 * A kept object as stored in `P:{C}:config:<id>:kept` (object id -> this): when it was
 * kept, the cycle whose delete it was, and the delete plan entry (cycles/plan-entry.ts) as
 * it was staged: `<keptAt ISO>\t<cycle id>\t<plan entry>`. The plan entry is last since its
 * DN may hold a tab. The scripts of store/scripts.ts write and read this form too.
 */
export interface KeptRecord {
  readonly keptAt: string;
  readonly cycleId: string;
  /** The delete plan entry, encoded. */
  readonly entry: string;
}

export function encodeKeptRecord(r: KeptRecord): string {
  return `${r.keptAt}\t${r.cycleId}\t${r.entry}`;
}

/** Reads a stored kept record; throws on anything else. */
export function decodeKeptRecord(text: string): KeptRecord {
  const first = text.indexOf('\t');
  const second = first < 0 ? -1 : text.indexOf('\t', first + 1);
  if (first <= 0 || second <= first + 1 || second + 2 >= text.length)
    throw new Error(`stored kept object is not in the expected format: ${text.slice(0, 80)}`);
  return { keptAt: text.slice(0, first), cycleId: text.slice(first + 1, second), entry: text.slice(second + 1) };
}

import type { ObjectTypeName } from '../model';

/**
 * A value of the synced index (`P:config:{id}:index`, object id -> this), what the
 * pipeline knows of an object the target holds: its content hash and, so that a delete
 * can be described without asking the target, its type and DN as applied.
 * Stored as `<hash>\t<u|g>\t<dn>`; the hash (hex) never holds a tab.
 */
export interface IndexEntry {
  readonly hash: string;
  readonly objectType: ObjectTypeName;
  readonly dn: string;
}

export function encodeIndexEntry(hash: string, objectType: ObjectTypeName, dn: string): string {
  return `${hash}\t${objectType === 'group' ? 'g' : 'u'}\t${dn}`;
}

/** True when the stored entry holds `hash` (the cheap check evaluation makes per object). */
export function indexHoldsHash(stored: string, hash: string): boolean {
  return stored.length > hash.length + 2 && stored.charCodeAt(hash.length) === 9 && stored.startsWith(hash);
}

export function decodeIndexEntry(stored: string): IndexEntry {
  const tab = stored.indexOf('\t');
  const t = stored[tab + 1];
  if (tab < 0 || (t !== 'u' && t !== 'g') || stored[tab + 2] !== '\t')
    throw new Error(`not an index entry: ${JSON.stringify(stored.slice(0, 200))}`);
  return { hash: stored.slice(0, tab), objectType: t === 'g' ? 'group' : 'user', dn: stored.slice(tab + 3) };
}

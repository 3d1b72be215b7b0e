import type { DeleteCauseName, ObjectTypeName } from '../model';

/**
 * One operation of an evaluated plan (the list `P:cycle:{id}:plan`), as the pipeline
 * stores it between evaluation and apply. Changes are not copied into the plan: an entry
 * points at the change in the cycle's stored batches, or (a retry) at the configuration's
 * retry record of the object.
 */
export type PlanEntry =
  /** A change of the cycle: the `index`th change of batch `sequence`. */
  | { readonly kind: 'create' | 'update'; readonly from: 'batch'; readonly sequence: number; readonly index: number }
  /** A create or update that failed in an earlier cycle, made again from its retry record. */
  | { readonly kind: 'create' | 'update'; readonly from: 'retry'; readonly objectId: string }
  | {
      readonly kind: 'delete';
      readonly objectId: string;
      readonly objectType: ObjectTypeName;
      readonly dn: string;
      /** Why (left out: unknown). */
      readonly cause?: DeleteCauseName;
      /** Moved out of scope: the DN the agent found the object at. */
      readonly newDn?: string;
    };

// The stored form: tab-separated, first the tag. `c`/`u` seq idx, `C`/`U` objectId (a
// retry), `d` id u|g dn (the DN last, since it is the only part that may hold a tab), or
// with a known cause `D` id u|g cause length-of-newDn newDn+dn.
const TAGS = { create: { batch: 'c', retry: 'C' }, update: { batch: 'u', retry: 'U' } } as const;

const CAUSES: readonly DeleteCauseName[] = ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'];

export function encodePlanEntry(entry: PlanEntry): string {
  if (entry.kind === 'delete') {
    const type = entry.objectType === 'group' ? 'g' : 'u';
    const newDn = entry.newDn ?? '';
    if ((entry.cause ?? 'unknown') === 'unknown' && newDn === '') return `d\t${entry.objectId}\t${type}\t${entry.dn}`;
    return `D\t${entry.objectId}\t${type}\t${entry.cause ?? 'unknown'}\t${newDn.length}\t${newDn}${entry.dn}`;
  }
  if (entry.from === 'batch') return `${TAGS[entry.kind].batch}\t${entry.sequence}\t${entry.index}`;
  return `${TAGS[entry.kind].retry}\t${entry.objectId}`;
}

/** Reads a stored plan entry; throws on anything this build does not write. */
export function decodePlanEntry(text: string): PlanEntry {
  const tab = text.indexOf('\t');
  const tag = tab === 1 ? text[0] : undefined;
  switch (tag) {
    case 'c':
    case 'u': {
      const second = text.indexOf('\t', 2);
      const sequence = Number(text.slice(2, second));
      const index = Number(text.slice(second + 1));
      if (second < 0 || !Number.isSafeInteger(sequence) || !Number.isSafeInteger(index) || index < 0 || sequence < 1) break;
      return { kind: tag === 'c' ? 'create' : 'update', from: 'batch', sequence, index };
    }
    case 'C':
    case 'U':
      if (text.length === 2) break;
      return { kind: tag === 'C' ? 'create' : 'update', from: 'retry', objectId: text.slice(2) };
    case 'd': {
      const typeAt = text.indexOf('\t', 2);
      const t = text[typeAt + 1];
      if (typeAt <= 2 || (t !== 'u' && t !== 'g') || text[typeAt + 2] !== '\t') break;
      return {
        kind: 'delete',
        objectId: text.slice(2, typeAt),
        objectType: t === 'g' ? 'group' : 'user',
        dn: text.slice(typeAt + 3),
      };
    }
    case 'D': {
      const typeAt = text.indexOf('\t', 2);
      const t = text[typeAt + 1];
      if (typeAt <= 2 || (t !== 'u' && t !== 'g') || text[typeAt + 2] !== '\t') break;
      const causeEnd = text.indexOf('\t', typeAt + 3);
      const lengthEnd = causeEnd < 0 ? -1 : text.indexOf('\t', causeEnd + 1);
      const cause = text.slice(typeAt + 3, causeEnd) as DeleteCauseName;
      const length = Number(text.slice(causeEnd + 1, lengthEnd));
      if (lengthEnd < 0 || !CAUSES.includes(cause) || !Number.isSafeInteger(length) || length < 0) break;
      if (lengthEnd + 1 + length > text.length) break;
      const newDn = text.slice(lengthEnd + 1, lengthEnd + 1 + length);
      return {
        kind: 'delete',
        objectId: text.slice(2, typeAt),
        objectType: t === 'g' ? 'group' : 'user',
        dn: text.slice(lengthEnd + 1 + length),
        cause,
        ...(newDn ? { newDn } : {}),
      };
    }
  }
  throw new Error(`not a plan entry: ${JSON.stringify(text.slice(0, 200))}`);
}

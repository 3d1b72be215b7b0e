import type { Entry } from 'ldapts';
import { AgentError } from '../errors';

/** `name;range=<low>-<high|*>`, as Active Directory names a part of a multi-valued attribute. */
const RANGED = /^(.+);range=(\d+)-(\d+|\*)$/i;

/** Reads one attribute (by its full description, e.g. `member;range=1500-*`) of an entry; undefined when it is gone. */
export type ReadAttribute = (dn: string, attribute: string) => Promise<Entry | undefined>;

/** True when an entry holds an attribute given in ranges. */
export function hasRanges(entry: Entry): boolean {
  for (const key in entry) if (key.includes(';range=') && RANGED.test(key)) return true;
  return false;
}

function asArray(v: Entry[string] | undefined): (string | Buffer)[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as (string | Buffer)[]) : [v as string | Buffer];
}

/**
 * Active Directory returns an attribute with more values than its MaxValRange (1,500 by
 * default; `member` of a large group) as `member;range=0-1499`, and the client must ask
 * for `member;range=1500-*`, and so on, until a range ends with `*`. This reads the
 * remaining ranges and puts every value under the plain name (`member`), so that the
 * entry is complete before it is mapped. A range that cannot be read makes the read fail
 * (never a group with silently fewer members).
 */
export async function completeRanges(entry: Entry, read: ReadAttribute): Promise<void> {
  for (const key of Object.keys(entry)) {
    const m = RANGED.exec(key);
    if (!m) continue;
    const [, name, , high] = m as unknown as [string, string, string, string];
    const values = asArray(entry[key]);
    delete entry[key];
    let next = high === '*' ? null : Number(high) + 1;
    while (next !== null) {
      const wanted = `${name};range=${next}-*`;
      const part = await read(entry.dn, wanted);
      const partKey = part && Object.keys(part).find((k) => RANGED.exec(k)?.[1]?.toLowerCase() === name.toLowerCase());
      if (!part || !partKey) {
        throw new AgentError(
          'AGENT_ERR_LDAP_OTHER',
          `${entry.dn}: the values of ${name} from ${next} on could not be read (${wanted})`,
        );
      }
      const [, , low, partHigh] = RANGED.exec(partKey) as unknown as [string, string, string, string];
      if (Number(low) !== next) {
        throw new AgentError('AGENT_ERR_LDAP_OTHER', `${entry.dn}: asked for ${wanted}, the server answered ${partKey}`);
      }
      values.push(...asArray(part[partKey]));
      next = partHigh === '*' ? null : Number(partHigh) + 1;
    }
    // A plain attribute of the same name (never sent together with ranges, but harmless) keeps its values.
    const plain = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
    if (plain) entry[plain] = [...asArray(entry[plain]), ...values] as Entry[string];
    else entry[name] = values as Entry[string];
  }
}

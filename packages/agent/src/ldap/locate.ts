import { DeleteCause } from '@syncguard/protocol';
import { EqualityFilter, OrFilter, type Filter } from 'ldapts';
import { isUnder } from './accesslog';
import type { DirectoryFlavor } from './entry-mapper';
import type { LdapSource } from './ldap-source';

/** Why an object left the scope, as the agent found it (Change.deleteCause, Change.newDn). */
export interface DeleteReason {
  cause: DeleteCause;
  /** MOVED_OUT_OF_SCOPE: the DN the object has now. */
  newDn?: string;
}

export const UNKNOWN: DeleteReason = Object.freeze({ cause: DeleteCause.DELETE_CAUSE_UNSPECIFIED });
export const DELETED: DeleteReason = Object.freeze({ cause: DeleteCause.DELETE_CAUSE_DELETED });
export const FILTERED_OUT: DeleteReason = Object.freeze({ cause: DeleteCause.DELETE_CAUSE_FILTERED_OUT });

/** A DN found for a cached object that left the scope: outside the base it moved, under it it was filtered out. */
export function reasonAt(dn: string, baseDn: string): DeleteReason {
  return isUnder(dn, baseDn) ? FILTERED_OUT : { cause: DeleteCause.DELETE_CAUSE_MOVED_OUT_OF_SCOPE, newDn: dn };
}

/** Ids per search when looking objects up by id. */
const CHUNK = 100;

/** AD's objectGUID bytes of its canonical string (whose first three groups are little-endian), or undefined. */
export function guidBytes(id: string): Buffer | undefined {
  const hex = id.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  bytes.subarray(0, 4).reverse();
  bytes.subarray(4, 6).reverse();
  bytes.subarray(6, 8).reverse();
  return bytes;
}

/**
 * The LDAP filter item of an id: entryUUID, or AD's objectGUID as its bytes (built as a filter
 * object: ldapts turns an escaped filter string into UTF-8 text, which mangles bytes >= 0x80).
 */
export function idAssertion(flavor: DirectoryFlavor, id: string): Filter | undefined {
  if (flavor === 'openldap')
    return /^[0-9a-f-]{36}$/i.test(id) ? new EqualityFilter({ attribute: 'entryUUID', value: id }) : undefined;
  const bytes = guidBytes(id);
  return bytes && new EqualityFilter({ attribute: 'objectGUID', value: bytes });
}

/**
 * Where the objects with these ids are now, searched by id from the naming context that
 * holds `baseDn` (entryUUID or objectGUID, both indexed), in chunks: found outside the base,
 * moved out of scope (with the new DN); found under it, filtered out; not found, deleted (as
 * the bind DN sees the directory: an object moved where it may not read looks deleted). A
 * naming context the server does not name leaves every cause unknown. Throws on a failed
 * search: the caller decides (the cause is informational, never a reason for a delete).
 */
export async function locateByIds(
  source: LdapSource,
  flavor: DirectoryFlavor,
  baseDn: string,
  ids: readonly string[],
): Promise<Map<string, DeleteReason>> {
  const out = new Map<string, DeleteReason>();
  const context = await source.namingContextOf(baseDn);
  if (!context) return out;
  const idAttr = flavor === 'ad' ? 'objectGUID' : 'entryUUID';
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const assertions = chunk.map((id) => idAssertion(flavor, id)).filter((a): a is Filter => a !== undefined);
    if (assertions.length === 0) continue;
    const found = new Map<string, string>();
    const filter = assertions.length === 1 ? assertions[0]! : new OrFilter({ filters: assertions });
    for await (const page of source.pagesOf({ base: context, filter, attributes: [idAttr] })) {
      for (const entry of page) {
        const id = source.idOf(entry);
        if (id) found.set(id.toLowerCase(), entry.dn);
      }
    }
    for (const id of chunk) {
      const dn = found.get(id.toLowerCase());
      out.set(id, dn === undefined ? DELETED : reasonAt(dn, baseDn));
    }
  }
  return out;
}

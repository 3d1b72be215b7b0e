import type { ProtectedObjects } from './decide';

/**
 * A DN in the form suffixes are compared in: lower case, no blanks around the commas that
 * separate RDNs. Escaped commas (`\,`) stay as they are.
 */
export function normalizeDn(dn: string): string {
  return dn
    .trim()
    .toLowerCase()
    .replace(/\s*(?<!\\),\s*/g, ',');
}

/**
 * Whether objects are protected (`accidentalDeletes.protected`), checked once per delete
 * of a cycle (never per object in scope). A DN suffix protects the object of that DN and
 * every object under it: `ou=admins,dc=example,dc=com` protects `cn=a,ou=Admins,dc=Example,dc=com`,
 * not `ou=superadmins,dc=example,dc=com` (suffixes match on RDN boundaries only).
 */
export class ProtectedMatcher {
  private readonly suffixes: readonly string[];
  private readonly ids: ReadonlySet<string>;

  constructor(objects: ProtectedObjects | null | undefined) {
    this.suffixes = (objects?.dnSuffixes ?? []).map(normalizeDn);
    this.ids = new Set(objects?.objectIds ?? []);
  }

  /** False for everything when nothing is protected. */
  get empty(): boolean {
    return this.suffixes.length === 0 && this.ids.size === 0;
  }

  matches(objectId: string, dn: string): boolean {
    if (this.ids.has(objectId)) return true;
    if (this.suffixes.length === 0) return false;
    const d = normalizeDn(dn);
    return this.suffixes.some((s) => {
      if (d === s) return true;
      if (!d.endsWith(s)) return false;
      const at = d.length - s.length - 1;
      // On an RDN boundary: an unescaped comma just before the suffix.
      return d[at] === ',' && d[at - 1] !== '\\';
    });
  }
}

import { attributeBaseName, isSecretAttribute } from '@syncguard/protocol';

/**
 * Which directory attributes a change carries (LDAP_ATTRIBUTES_ALLOW, LDAP_ATTRIBUTES_DENY).
 * Names are matched case-insensitively and without options (`;binary`, `;range=...`). The
 * deny list wins over the allow list, and the secret attributes of the protocol package
 * (passwords, hashes, keys) are never carried: no list can let them through.
 */
export interface AttributeFilter {
  /** The allow list (lower case); empty: every attribute that is not denied. */
  readonly allow: readonly string[];
  /** The deny list (lower case). */
  readonly deny: readonly string[];
  /** True when an attribute of this name goes to the controller. */
  carries(name: string): boolean;
}

/** Every attribute but the secret ones. */
export const DEFAULT_ATTRIBUTE_FILTER: AttributeFilter = compileAttributeFilter([], []);

export function compileAttributeFilter(allow: readonly string[], deny: readonly string[]): AttributeFilter {
  const allowed = new Set(allow.map(attributeBaseName));
  const denied = new Set(deny.map(attributeBaseName));
  // Entries repeat the same few dozen names: the answer is kept per name as it comes.
  const known = new Map<string, boolean>();
  return Object.freeze({
    allow: Object.freeze([...allowed]),
    deny: Object.freeze([...denied]),
    carries(name: string): boolean {
      let carried = known.get(name);
      if (carried === undefined) {
        const base = attributeBaseName(name);
        carried = !isSecretAttribute(base) && !denied.has(base) && (allowed.size === 0 || allowed.has(base));
        if (known.size < 10_000) known.set(name, carried);
      }
      return carried;
    },
  });
}

import { ObjectType, type Scope } from '@syncguard/protocol';
import { AgentError } from '../errors';
import { typeFilter, type DirectoryFlavor } from '../ldap/entry-mapper';

/** Canonical form of a scope: equal keys read the same objects with the same content. */
export function scopeKey(scope: Scope): string {
  return JSON.stringify([
    normalizeDn(scope.baseDn),
    scope.filter.trim(),
    [...new Set(scope.objectTypes)].sort(),
    [...new Set(scope.attributes.map((a) => a.toLowerCase()))].sort(),
    scope.disabledAttribute.toLowerCase(),
  ]);
}

function normalizeDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) => rdn.trim().replace(/^([^=]+)=/, (_m, name: string) => `${name.trim().toLowerCase()}=`))
    .join(',')
    .toLowerCase();
}

/** Rejects a scope that cannot be read (the .proto's invariants plus what LDAP needs). */
export function validateScope(scope: Scope): void {
  if (!scope.baseDn.trim() || !/^[^=,]+=/.test(scope.baseDn.trim())) {
    throw new AgentError('AGENT_ERR_INVALID_SCOPE', `scope.baseDn is not a DN: ${JSON.stringify(scope.baseDn)}`);
  }
  if (scope.objectTypes.length === 0) throw new AgentError('AGENT_ERR_INVALID_SCOPE', 'scope.objectTypes is empty');
  for (const t of scope.objectTypes) {
    if (t !== ObjectType.OBJECT_TYPE_USER && t !== ObjectType.OBJECT_TYPE_GROUP) {
      throw new AgentError('AGENT_ERR_INVALID_SCOPE', `scope.objectTypes holds an unknown type ${String(t)}`);
    }
  }
}

/** The LDAP filter selecting the scope's objects: its object types AND its own filter. */
export function scopeFilter(scope: Scope, flavor: DirectoryFlavor): string {
  const types = [...new Set(scope.objectTypes)].map((t) => typeFilter(flavor, t));
  const typePart = types.length === 1 ? types[0]! : `(|${types.join('')})`;
  const own = scope.filter.trim();
  if (own === '') return typePart;
  return `(&${typePart}${own.startsWith('(') ? own : `(${own})`})`;
}

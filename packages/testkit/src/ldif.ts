/** Builders of sample directory content for tests, demos and benchmarks. */

export interface SampleUser {
  uid: string;
  dn: string;
}

/** LDIF of `count` inetOrgPerson entries `uid=<prefix><n>` under `parentDn`, n from `start`. */
export function usersLdif(parentDn: string, count: number, options: { prefix?: string; start?: number } = {}): string {
  const prefix = options.prefix ?? 'user';
  const start = options.start ?? 0;
  const parts: string[] = [];
  for (let i = start; i < start + count; i++) parts.push(userLdif(parentDn, `${prefix}${i}`, i));
  return parts.join('');
}

export function userLdif(parentDn: string, uid: string, n = 0): string {
  return [
    `dn: uid=${uid},${parentDn}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: User ${uid}`,
    `sn: ${uid}`,
    `givenName: Given${n}`,
    `mail: ${uid}@example.com`,
    `employeeNumber: ${n}`,
    `title: Engineer ${n % 17}`,
    '',
    '',
  ].join('\n');
}

/** LDIF of a groupOfNames `cn=<name>` under `parentDn` with the given member DNs (at least one: the schema requires it). */
export function groupLdif(parentDn: string, name: string, memberDns: readonly string[]): string {
  const members = memberDns.length > 0 ? memberDns : [`cn=nobody,${parentDn}`];
  return [
    `dn: cn=${name},${parentDn}`,
    'objectClass: groupOfNames',
    `cn: ${name}`,
    ...members.map((m) => `member: ${m}`),
    '',
    '',
  ].join('\n');
}

/** The DNs of `count` users made by {@link usersLdif}. */
export function userDns(parentDn: string, count: number, options: { prefix?: string; start?: number } = {}): string[] {
  const prefix = options.prefix ?? 'user';
  const start = options.start ?? 0;
  return Array.from({ length: count }, (_, i) => `uid=${prefix}${start + i},${parentDn}`);
}

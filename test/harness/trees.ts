import { userDns, usersLdif } from '@syncguard/testkit';
import type { TestSystem } from './system';

/** The OUs and user DNs {@link addMixedTree} made. */
export interface MixedTree {
  corp: string;
  archive: string;
  eng: string;
  sales: string;
  engDns: string[];
  salesDns: string[];
}

/**
 * Adds `ou=<name>` holding `ou=eng` (15 users) and `ou=sales` (10), and `ou=<name>-archive`
 * beside it (out of a configuration over `ou=<name>`): the tree of the triage tests, where
 * users are deleted in sales and moved from eng to the archive.
 */
export async function addMixedTree(system: TestSystem, name: string, suffix = 'dc=example,dc=com'): Promise<MixedTree> {
  const corp = `ou=${name},${suffix}`;
  const archive = `ou=${name}-archive,${suffix}`;
  const eng = `ou=eng,${corp}`;
  const sales = `ou=sales,${corp}`;
  await system.slapd.add(
    [
      `dn: ${corp}\nobjectClass: organizationalUnit\nou: ${name}\n`,
      `dn: ${archive}\nobjectClass: organizationalUnit\nou: ${name}-archive\n`,
      `dn: ${eng}\nobjectClass: organizationalUnit\nou: eng\n`,
      `dn: ${sales}\nobjectClass: organizationalUnit\nou: sales\n`,
      usersLdif(eng, 15, { prefix: `${name}-e` }),
      usersLdif(sales, 10, { prefix: `${name}-s` }),
    ].join('\n'),
  );
  return {
    corp,
    archive,
    eng,
    sales,
    engDns: userDns(eng, 15, { prefix: `${name}-e` }),
    salesDns: userDns(sales, 10, { prefix: `${name}-s` }),
  };
}

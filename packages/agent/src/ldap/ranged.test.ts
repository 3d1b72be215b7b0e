import { ObjectType } from '@syncguard/protocol';
import type { Entry } from 'ldapts';
import { AgentError } from '../errors';
import { mapEntry } from './entry-mapper';
import { completeRanges, hasRanges, type ReadAttribute } from './ranged';

const GROUP = 'CN=Everyone,OU=Groups,DC=corp,DC=example';
const members = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `CN=User${from + i},OU=People,DC=corp,DC=example`);

/** A directory that serves `member` of GROUP in ranges of 1,500, as Active Directory does. */
function server(total: number): { read: ReadAttribute; asked: string[] } {
  const asked: string[] = [];
  const read: ReadAttribute = async (dn, attribute) => {
    asked.push(attribute);
    if (dn !== GROUP) return undefined;
    const low = Number(/range=(\d+)-\*/.exec(attribute)![1]);
    const high = Math.min(total - 1, low + 1499);
    const key = high === total - 1 ? `member;range=${low}-*` : `member;range=${low}-${high}`;
    return { dn, [key]: members(low, high) };
  };
  return { read, asked };
}

describe('ranged attribute retrieval (Active Directory)', () => {
  it('reads the remaining ranges of a large group and maps every member', async () => {
    const entry: Entry = {
      dn: GROUP,
      objectClass: ['top', 'group'],
      objectGUID: Buffer.from('c6ad5b4a1f0e4d4ba3a1b2c3d4e5f607', 'hex'),
      cn: 'Everyone',
      'member;range=0-1499': members(0, 1499),
    };
    expect(hasRanges(entry)).toBe(true);
    const { read, asked } = server(3500);
    await completeRanges(entry, read);
    expect(asked).toEqual(['member;range=1500-*', 'member;range=3000-*']);
    expect(hasRanges(entry)).toBe(false);
    expect(Object.keys(entry)).not.toContain('member;range=0-1499');
    const object = mapEntry(entry, { flavor: 'ad', objectTypes: [ObjectType.OBJECT_TYPE_GROUP], disabledAttribute: '' })!;
    expect(object.memberDns).toHaveLength(3500);
    expect(new Set(object.memberDns)).toEqual(new Set(members(0, 3499)));
    expect(object.attributes.map((a) => a.name)).toEqual(['cn', 'objectClass']);
  });

  it('takes a single range that is already the last one as it is', async () => {
    const entry: Entry = { dn: GROUP, 'member;range=0-*': members(0, 2) };
    const { read, asked } = server(3);
    await completeRanges(entry, read);
    expect(asked).toEqual([]);
    expect(entry.member).toEqual(members(0, 2));
  });

  it('fails the read when a range cannot be read or the server answers another one', async () => {
    const gone: Entry = { dn: GROUP, 'member;range=0-1499': members(0, 1499) };
    const error = await completeRanges(gone, async () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: 'AGENT_ERR_LDAP_OTHER' });
    const skewed: Entry = { dn: GROUP, 'member;range=0-1499': members(0, 1499) };
    const wrong = await completeRanges(skewed, async (dn) => ({ dn, 'member;range=1600-*': members(1600, 1700) })).catch(
      (e: unknown) => e,
    );
    expect((wrong as Error).message).toContain('asked for member;range=1500-*');
  });

  it('leaves entries without ranges alone', () => {
    expect(hasRanges({ dn: GROUP, member: members(0, 2), description: 'range=0-1 in a value' })).toBe(false);
  });
});

import { decodeIndexEntry, encodeIndexEntry, indexHoldsHash } from './index-entry';

describe('index entries', () => {
  const hash = 'ab'.repeat(32);

  it('round-trip hash, type and DN (a DN may hold tabs)', () => {
    expect(decodeIndexEntry(encodeIndexEntry(hash, 'group', 'cn=a\tb,dc=x'))).toEqual({
      hash,
      objectType: 'group',
      dn: 'cn=a\tb,dc=x',
    });
    expect(decodeIndexEntry(encodeIndexEntry(hash, 'user', ''))).toEqual({ hash, objectType: 'user', dn: '' });
  });

  it('tell whether an entry holds a hash', () => {
    const stored = encodeIndexEntry(hash, 'user', 'uid=a');
    expect(indexHoldsHash(stored, hash)).toBe(true);
    expect(indexHoldsHash(stored, 'cd'.repeat(32))).toBe(false);
    expect(indexHoldsHash(stored, hash.slice(0, 10))).toBe(false);
    expect(indexHoldsHash(hash, hash)).toBe(false);
  });

  it('refuse what is not an entry', () => {
    expect(() => decodeIndexEntry(hash)).toThrow('not an index entry');
    expect(() => decodeIndexEntry(`${hash}\tx\tdn`)).toThrow('not an index entry');
  });
});

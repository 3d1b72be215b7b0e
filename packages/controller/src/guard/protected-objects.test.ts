import { ProtectedMatcher, normalizeDn } from './protected-objects';

describe('ProtectedMatcher', () => {
  const m = new ProtectedMatcher({ dnSuffixes: ['OU=Admins, DC=example,DC=com'], objectIds: ['id-7'] });

  it('protects the suffix itself and what is under it, whatever the case and blanks', () => {
    expect(m.matches('x', 'ou=admins,dc=example,dc=com')).toBe(true);
    expect(m.matches('x', 'cn=Root , ou=ADMINS,dc=Example, dc=com')).toBe(true);
  });

  it('matches on RDN boundaries only', () => {
    expect(m.matches('x', 'ou=superadmins,dc=example,dc=com')).toBe(false);
    // An escaped comma is part of the RDN value: this object is not under ou=admins.
    expect(m.matches('x', 'cn=a\\,ou=admins,dc=example,dc=com')).toBe(false);
    expect(m.matches('x', 'cn=b,ou=people,dc=example,dc=com')).toBe(false);
  });

  it('protects listed object ids wherever they are', () => {
    expect(m.matches('id-7', 'cn=b,ou=people,dc=example,dc=com')).toBe(true);
    expect(m.matches('id-8', 'cn=b,ou=people,dc=example,dc=com')).toBe(false);
  });

  it('is empty without suffixes and ids', () => {
    expect(new ProtectedMatcher(null).empty).toBe(true);
    expect(new ProtectedMatcher({ dnSuffixes: [], objectIds: [] }).matches('a', 'dc=com')).toBe(false);
    expect(m.empty).toBe(false);
  });

  it('normalizes DNs for comparison', () => {
    expect(normalizeDn(' CN=A , DC=Com ')).toBe('cn=a,dc=com');
  });
});

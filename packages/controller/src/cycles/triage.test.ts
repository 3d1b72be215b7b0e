import { AUDIT_ID_LIMIT, DeleteChooser, auditIds, normalizeDn, parseTriageBody, selectionHash, underParent } from './triage';
import { decodeKeptRecord, encodeKeptRecord } from '../store/kept-record';

describe('parseTriageBody', () => {
  test('{} and no body choose everything', () => {
    expect(parseTriageBody({}, { parents: true })).toEqual({ objectIds: null, parentDns: null, reason: null });
    expect(parseTriageBody(undefined, { parents: true })).toEqual({ objectIds: null, parentDns: null, reason: null });
  });

  test('ids and parent DNs are taken as sent, duplicates once; reason kept', () => {
    expect(parseTriageBody({ objectIds: ['a', 'b', 'a'], parentDns: ['ou=x'], reason: 'why' }, { parents: true })).toEqual({
      objectIds: ['a', 'b'],
      parentDns: ['ou=x'],
      reason: 'why',
    });
  });

  test.each([
    [{ objectIds: 'a' }, 'objectIds'],
    [{ objectIds: [] }, 'objectIds'],
    [{ objectIds: ['a', 3] }, 'objectIds[1]'],
    [{ objectIds: [''] }, 'objectIds[0]'],
    [{ parentDns: [null] }, 'parentDns[0]'],
    [{ reason: 5 }, 'reason'],
    [{ reason: 'x'.repeat(1001) }, 'reason'],
    [{ colour: 'red' }, 'colour'],
    [[], 'body'],
    ['ids', 'body'],
  ])('%j is a 400 naming %s', (body, field) => {
    expect(() => parseTriageBody(body, { parents: true })).toThrow(expect.objectContaining({ field, status: 400 }));
  });

  test('parentDns only where allowed; objectIds required where asked', () => {
    expect(() => parseTriageBody({ parentDns: ['ou=x'] }, { parents: false })).toThrow(
      expect.objectContaining({ field: 'parentDns' }),
    );
    expect(() => parseTriageBody({}, { parents: false, requireIds: true })).toThrow(
      expect.objectContaining({ field: 'objectIds' }),
    );
  });
});

describe('choosing staged deletes', () => {
  const d = (objectId: string, dn: string) => ({ objectId, dn });

  test('a parent DN chooses its children and its subtree, case and spaces after commas ignored, not a sibling with the same suffix text', () => {
    expect(normalizeDn(' OU=Eng, DC=Example,  DC=com ')).toBe('ou=eng,dc=example,dc=com');
    const p = normalizeDn('ou=eng,dc=x');
    expect(underParent(d('1', 'uid=a,ou=eng,dc=x'), p)).toBe(true);
    expect(underParent(d('2', 'uid=a,ou=team,OU=Eng, dc=x'), p)).toBe(true);
    expect(underParent(d('3', 'uid=a,ou=reng,dc=x'), p)).toBe(false);
    expect(underParent(d('4', 'ou=eng,dc=x'), p)).toBe(false);
    expect(underParent(d('5', 'uid=a,dc=x'), p)).toBe(false);
  });

  test('ids and parents together; unknown ids and unmatched parents are named', () => {
    const chooser = new DeleteChooser({ objectIds: ['1', 'nope'], parentDns: ['ou=eng,dc=x', 'ou=hr,dc=x'] });
    for (const x of [d('1', 'uid=a,ou=sales,dc=x'), d('2', 'uid=b,ou=eng,dc=x'), d('3', 'uid=c,ou=sales,dc=x')]) chooser.add(x);
    expect([...chooser.chosen].sort()).toEqual(['1', '2']);
    expect(chooser.unknownIds()).toEqual(['nope']);
    expect(chooser.unmatchedParents()).toEqual(['ou=hr,dc=x']);
  });
});

describe('audit of a set of ids', () => {
  test(`up to ${AUDIT_ID_LIMIT} ids are listed sorted; more are a count and the SHA-256 of the sorted set`, () => {
    expect(auditIds(['b', 'a'])).toEqual({ objectIds: ['a', 'b'] });
    const many = Array.from({ length: AUDIT_ID_LIMIT + 1 }, (_, i) => `id-${i}`);
    const a = auditIds(many);
    expect(a).toEqual({ objectCount: AUDIT_ID_LIMIT + 1, objectIdsSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(auditIds([...many].reverse())).toEqual(a);
  });

  test('a selection hash depends on the set and its kind, not the order', () => {
    expect(selectionHash(['a', 'b'], 'allow')).toBe(selectionHash(['b', 'a'], 'allow'));
    expect(selectionHash(['a', 'b'], 'allow')).not.toBe(selectionHash(['a', 'b'], 'kept-delete'));
    expect(selectionHash(['a'], 'allow')).not.toBe(selectionHash(['a', 'b'], 'allow'));
  });
});

describe('kept record', () => {
  test('round-trips, the plan entry last (its DN may hold a tab)', () => {
    const r = { keptAt: '2026-12-01T10:00:00.000Z', cycleId: 'c1', entry: 'd\tid1\tu\tuid=a\tb,dc=x' };
    expect(decodeKeptRecord(encodeKeptRecord(r))).toEqual(r);
    expect(() => decodeKeptRecord('nonsense')).toThrow(/expected format/);
    expect(() => decodeKeptRecord('a\t\t')).toThrow(/expected format/);
  });
});

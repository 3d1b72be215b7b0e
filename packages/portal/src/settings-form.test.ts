import {
  listValue,
  notificationsPatchOf,
  policyFormOf,
  policyPatchOf,
  ruleValue,
  settingsFieldOf,
  sourcePatchOf,
  type PolicyForm,
} from './settings-form';

const empty: PolicyForm = policyFormOf({});

describe('the delete policy inputs', () => {
  it('read a configuration: a rule that is off is an empty input, the lists one item a line', () => {
    expect(empty).toEqual({
      percentage: '',
      minimumObjects: '100',
      userThreshold: '',
      userPercentage: '',
      groupThreshold: '',
      groupPercentage: '',
      windowHours: '',
      windowThreshold: '',
      memberRemovals: '',
      dnSuffixes: '',
      objectIds: '',
    });
    expect(
      policyFormOf({
        percentage: 12.5,
        minimumObjects: 0,
        perType: { user: { threshold: 300, percentage: null }, group: null },
        window: { hours: 24, threshold: 1000 },
        memberRemovals: { threshold: 2000 },
        protected: { dnSuffixes: ['ou=admins,dc=example,dc=com', 'ou=svc,dc=example,dc=com'], objectIds: ['id-1'] },
      }),
    ).toEqual({
      percentage: '12.5',
      minimumObjects: '0',
      userThreshold: '300',
      userPercentage: '',
      groupThreshold: '',
      groupPercentage: '',
      windowHours: '24',
      windowThreshold: '1000',
      memberRemovals: '2000',
      dnSuffixes: 'ou=admins,dc=example,dc=com\nou=svc,dc=example,dc=com',
      objectIds: 'id-1',
    });
  });

  it('empty inputs turn every rule off; an empty minimumObjects is the default', () => {
    expect(policyPatchOf({ ...empty, minimumObjects: ' ' })).toEqual({
      percentage: null,
      minimumObjects: 100,
      perType: null,
      window: null,
      memberRemovals: null,
      protected: null,
    });
  });

  it('filled inputs give each rule in full, empty limits of a type as null', () => {
    expect(
      policyPatchOf({
        ...empty,
        percentage: ' 10 ',
        minimumObjects: '50',
        groupThreshold: '20',
        windowHours: '24',
        windowThreshold: '1000',
        memberRemovals: ' 500 ',
        dnSuffixes: ' ou=admins,dc=example,dc=com \n\n ou=svc,dc=example,dc=com\n',
      }),
    ).toEqual({
      percentage: 10,
      minimumObjects: 50,
      perType: { user: null, group: { threshold: 20, percentage: null } },
      window: { hours: 24, threshold: 1000 },
      memberRemovals: { threshold: 500 },
      protected: { dnSuffixes: ['ou=admins,dc=example,dc=com', 'ou=svc,dc=example,dc=com'], objectIds: [] },
    });
  });

  it('sends what is not a number as typed, and half a window with null, for the API to name the field', () => {
    const patch = policyPatchOf({ ...empty, percentage: 'ten', userPercentage: '5%', windowHours: '24' });
    expect(patch.percentage).toBe('ten');
    expect(patch.perType).toEqual({ user: { threshold: null, percentage: '5%' }, group: null });
    expect(patch.window).toEqual({ hours: 24, threshold: null });
  });

  it('reads rule values and lists', () => {
    expect(ruleValue('')).toBeNull();
    expect(ruleValue('  ')).toBeNull();
    expect(ruleValue('0')).toBe(0);
    expect(ruleValue('2.5')).toBe(2.5);
    expect(listValue('\n a \r\nb\n\n')).toEqual(['a', 'b']);
  });

  it('shows each API message next to the input it names', () => {
    const cases: [string, string][] = [
      ['accidentalDeletes.percentage', 'percentage'],
      ['accidentalDeletes.minimumObjects', 'minimumObjects'],
      ['accidentalDeletes.perType', 'userThreshold'],
      ['accidentalDeletes.perType.user', 'userThreshold'],
      ['accidentalDeletes.perType.user.threshold', 'userThreshold'],
      ['accidentalDeletes.perType.user.percentage', 'userPercentage'],
      ['accidentalDeletes.perType.group', 'groupThreshold'],
      ['accidentalDeletes.perType.group.threshold', 'groupThreshold'],
      ['accidentalDeletes.perType.group.percentage', 'groupPercentage'],
      ['accidentalDeletes.window', 'windowHours'],
      ['accidentalDeletes.window.hours', 'windowHours'],
      ['accidentalDeletes.window.threshold', 'windowThreshold'],
      ['accidentalDeletes.protected', 'dnSuffixes'],
      ['accidentalDeletes.memberRemovals.threshold', 'memberRemovals'],
      ['accidentalDeletes.hold', 'hold'],
      ['accidentalDeletes.protected.dnSuffixes', 'dnSuffixes'],
      ['accidentalDeletes.protected.dnSuffixes.3', 'dnSuffixes'],
      ['accidentalDeletes.protected.objectIds', 'objectIds'],
      ['accidentalDeletes.protected.objectIds.0', 'objectIds'],
      ['accidentalDeletes.threshold', 'threshold'],
    ];
    for (const [api, field] of cases) expect([api, settingsFieldOf(api)]).toEqual([api, field]);
    expect(settingsFieldOf('accidentalDeletes.window.days')).toBeNull();
    expect(settingsFieldOf('accidentalDeletes.memberRemovals')).toBe('memberRemovals');
    expect(settingsFieldOf('accidentalDeletes.approvalz')).toBeNull();
  });
});

describe('notifications in the settings form', () => {
  it('sends the lists one a line, the secret for every URL only when typed', () => {
    expect(notificationsPatchOf(' a@example.com \n\nb@example.com', 'https://h.example/1\n', '')).toEqual({
      emails: ['a@example.com', 'b@example.com'],
      webhooks: [{ url: 'https://h.example/1', secret: null }],
    });
    expect(notificationsPatchOf('', 'https://h.example/1\nhttps://h.example/2', ' s3cret-of-16-chars ').webhooks).toEqual([
      { url: 'https://h.example/1', secret: 's3cret-of-16-chars' },
      { url: 'https://h.example/2', secret: 's3cret-of-16-chars' },
    ]);
  });

  it('shows the API message next to the field it names', () => {
    expect(settingsFieldOf('notifications.emails.3')).toBe('notifyEmails');
    expect(settingsFieldOf('notifications.emails')).toBe('notifyEmails');
    expect(settingsFieldOf('notifications.webhooks.0.url')).toBe('webhooks');
    expect(settingsFieldOf('notifications.webhooks')).toBe('webhooks');
    expect(settingsFieldOf('notifications.webhooks.1.secret')).toBe('webhookSecret');
  });
});

describe('the scope inputs', () => {
  const current = { baseDn: 'ou=people,dc=example,dc=com', filter: '', objectTypes: ['group', 'user'] };

  it('send no source while they hold what the configuration has (object types in any order)', () => {
    expect(
      sourcePatchOf({ baseDn: 'ou=people,dc=example,dc=com', filter: ' ', users: true, groups: true }, current),
    ).toBeUndefined();
  });

  it('send the whole scope when one of them changed, trimmed, and no object type when none is ticked', () => {
    expect(sourcePatchOf({ baseDn: current.baseDn, filter: ' (mail=a*) ', users: true, groups: false }, current)).toEqual({
      baseDn: current.baseDn,
      filter: '(mail=a*)',
      objectTypes: ['user'],
    });
    expect(sourcePatchOf({ baseDn: current.baseDn, filter: '', users: false, groups: false }, current)?.objectTypes).toEqual([]);
  });

  it('show the API message of source fields at their inputs', () => {
    expect(settingsFieldOf('source.baseDn')).toBe('baseDn');
    expect(settingsFieldOf('source.filter')).toBe('filter');
    expect(settingsFieldOf('source.objectTypes')).toBe('objectTypes');
  });
});

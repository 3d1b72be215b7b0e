import { actionOptions, fromParam } from './log-filters';
import { href, parseRoute, type Route } from './routes';
import { settingsFieldOf, thresholdValue } from './settings-form';

describe('routes', () => {
  it('parses every page', () => {
    expect(parseRoute('')).toEqual({ page: 'configurations' });
    expect(parseRoute('#/configurations')).toEqual({ page: 'configurations' });
    expect(parseRoute('#/configurations/c1')).toEqual({ page: 'configuration', id: 'c1' });
    expect(parseRoute('#/configurations/c1/settings')).toEqual({ page: 'settings', id: 'c1' });
    expect(parseRoute('#/configurations/c1/logs?action=StagedDelete&cycleId=y')).toEqual({
      page: 'logs',
      id: 'c1',
      action: 'StagedDelete',
      cycleId: 'y',
      dn: undefined,
    });
    expect(parseRoute('#/agents')).toEqual({ page: 'agents' });
    expect(parseRoute('#/agents/a1')).toEqual({ page: 'agents', id: 'a1' });
    expect(parseRoute('#/nope/x/y')).toEqual({ page: 'not-found', path: '/nope/x/y' });
  });

  it('round-trips hrefs, ids and filters included', () => {
    const routes: Route[] = [
      { page: 'configurations' },
      { page: 'configuration', id: 'a b/c' },
      { page: 'settings', id: 'c1' },
      { page: 'logs', id: 'c1', action: 'all', cycleId: 'y', dn: 'uid=x,dc=y' },
      { page: 'agents', id: 'a1' },
    ];
    for (const r of routes) expect(parseRoute(href(r))).toMatchObject(r);
  });
});

describe('log filters', () => {
  it('puts StagedDelete first while quarantined', () => {
    expect(actionOptions(true).map((o) => o.value)).toEqual(['StagedDelete', '', 'Create', 'Update', 'Delete']);
    expect(actionOptions(false).map((o) => o.value)).toEqual(['', 'Create', 'Update', 'Delete', 'StagedDelete']);
    expect(fromParam('all')).toBe('');
    expect(fromParam('Delete')).toBe('Delete');
  });
});

describe('settings form', () => {
  it('maps API fields to the form fields', () => {
    expect(settingsFieldOf('accidentalDeletes.threshold')).toBe('threshold');
    expect(settingsFieldOf('notificationEmail')).toBe('notificationEmail');
    expect(settingsFieldOf('accidentalDeletes.enabled')).toBe('enabled');
    expect(settingsFieldOf('name')).toBeNull();
    expect(settingsFieldOf(null)).toBeNull();
  });

  it('sends the threshold as a number when it is one, as typed otherwise', () => {
    expect(thresholdValue(' 500 ')).toBe(500);
    expect(thresholdValue('0')).toBe(0);
    expect(thresholdValue('1.5')).toBe(1.5);
    expect(thresholdValue('')).toBe('');
    expect(thresholdValue('lots')).toBe('lots');
  });
});

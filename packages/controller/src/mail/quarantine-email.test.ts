import { quarantineEmail } from './quarantine-email';

describe('quarantineEmail', () => {
  const staged = Array.from({ length: 25 }, (_, i) => ({
    dn: `uid=u${i},ou=people,dc=example,dc=com`,
    objectType: 'user' as const,
  }));
  const mail = quarantineEmail({
    configuration: { id: 'cfg-1', name: 'corp.example.com' },
    cycleId: 'cycle-1',
    deleteCount: 612,
    threshold: 500,
    since: '2026-11-24T10:00:00.000Z',
    staged,
    publicUrl: 'https://sync.example.com/',
  });

  it('names the configuration and the reason in the subject', () => {
    expect(mail.subject).toContain('corp.example.com');
    expect(mail.subject).toContain('Delete threshold exceeded');
  });

  it('gives the counts, the first 20 staged objects and the exact commands and API calls', () => {
    expect(mail.text).toContain('Delete count: 612');
    expect(mail.text).toContain('Threshold: 500');
    for (const s of staged.slice(0, 20)) expect(mail.text).toContain(`${s.dn}  (user)`);
    for (const s of staged.slice(20)) expect(mail.text).not.toContain(s.dn);
    expect(mail.text).toContain('syncguardctl allow-deletes cfg-1');
    expect(mail.text).toContain('syncguardctl restart cfg-1');
    expect(mail.text).toContain('POST https://sync.example.com/api/v1/configurations/cfg-1/allow-deletes');
    expect(mail.text).toContain('POST https://sync.example.com/api/v1/configurations/cfg-1/restart');
  });
});

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
    trippedBy: [
      { rule: 'count', value: 612, limit: 500 },
      { rule: 'percentage', value: 12.2, limit: 10, of: 5000 },
      { rule: 'protected', value: 1, limit: 1 },
    ],
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
    expect(mail.text).toContain('Tripped by:\n  612 deletes >= threshold 500\n  percentage: 12.2% of 5,000 objects, limit 10%\n');
    expect(mail.text).toContain('  protected: 1 protected object deleted\n');
    for (const s of staged.slice(0, 20)) expect(mail.text).toContain(`${s.dn}  (user)`);
    for (const s of staged.slice(20)) expect(mail.text).not.toContain(s.dn);
    expect(mail.text).toContain('syncguardctl allow-deletes cfg-1');
    expect(mail.text).toContain('syncguardctl restart cfg-1');
    expect(mail.text).toContain('POST https://sync.example.com/api/v1/configurations/cfg-1/allow-deletes');
    expect(mail.text).toContain('POST https://sync.example.com/api/v1/configurations/cfg-1/restart');
  });
});

describe('the TargetFailures email', () => {
  it('says the target refused operations, and offers restart, not allow-deletes', () => {
    const { subject, text } = quarantineEmail({
      configuration: { id: 'c1', name: 'corp' },
      cycleId: 'cy1',
      reason: 'TargetFailures',
      deleteCount: 120,
      threshold: 50,
      trippedBy: [],
      since: '2026-12-01T10:00:00Z',
      staged: [],
      publicUrl: 'https://sync.example.com/',
    });
    expect(subject).toBe('syncguard: target failures for configuration "corp"');
    expect(text).toContain('Failed operations: 120');
    expect(text).toContain('syncguardctl restart c1');
    expect(text).not.toContain('allow-deletes');
  });
});

import { createHmac } from 'node:crypto';
import { webhookSignature } from './webhook-sender';
import { cycleEventId, endpointKey } from './notification-service';

describe('webhook signature and ids', () => {
  it('is the hex HMAC-SHA256 of the body with the secret', () => {
    const body = '{"id":"x","event":"quarantine.started"}';
    expect(webhookSignature(body, 'k'.repeat(16))).toBe(
      `sha256=${createHmac('sha256', 'k'.repeat(16)).update(body).digest('hex')}`,
    );
    expect(webhookSignature(body, 'k'.repeat(16))).not.toBe(webhookSignature(`${body} `, 'k'.repeat(16)));
  });

  it('gives the same event of the same cycle one id, and others another', () => {
    const c1 = '0a1b2c3d-0000-4000-8000-000000000001';
    const a = cycleEventId('quarantine.started', c1, 'y1');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // In its configuration's Redis Cluster slot: it begins with the configuration id's 8 hex digits.
    expect(a.slice(0, 8)).toBe('0a1b2c3d');
    expect(cycleEventId('quarantine.started', c1, 'y1')).toBe(a);
    expect(cycleEventId('quarantine.released', c1, 'y1')).not.toBe(a);
    expect(cycleEventId('quarantine.started', c1, 'y2')).not.toBe(a);
    expect(cycleEventId('quarantine.started', '9f8e7d6c-0000-4000-8000-000000000001', 'y1')).not.toBe(a);
    expect(endpointKey('email', 'Ops@Example.com')).toBe(endpointKey('email', 'ops@example.com'));
    expect(endpointKey('webhook', 'https://a.example/h')).not.toBe(endpointKey('email', 'https://a.example/h'));
  });
});

import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ControllerService } from '../controller-service';
import type { AuditEntry } from '../model';

/**
 * Records an audit entry of the admin surface (token create/revoke). Uses the engine's
 * ControllerService.recordAudit when it has one; until then writes the entry (model.ts
 * AuditEntry, JSON) to the Redis list `${keyPrefix}:audit:api`, newest first, so that
 * nothing is lost and the engine can adopt it.
 */
export async function recordAudit(
  deps: { service: ControllerService; redis: Redis; keyPrefix: string },
  entry: Omit<AuditEntry, 'id' | 'at'>,
): Promise<void> {
  if (typeof deps.service.recordAudit === 'function') {
    await deps.service.recordAudit(entry);
    return;
  }
  const full: AuditEntry = { id: randomUUID(), at: new Date().toISOString(), ...entry };
  await deps.redis.lpush(`${deps.keyPrefix}:audit:api`, JSON.stringify(full));
}

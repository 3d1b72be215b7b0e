import { randomUUID } from 'node:crypto';

/**
 * A new cycle id: a random UUID whose first 8 hex digits are those of its configuration's
 * id. The store keeps a cycle's keys in its configuration's Redis Cluster slot by those
 * digits (store/keys.ts, "Hash tags"), and the cycle queue shard is chosen by them, so
 * that a cycle id alone leads to both. The other 90 random bits keep ids unique.
 */
export function newCycleId(configurationId: string): string {
  if (!/^[0-9a-f]{8}/.test(configurationId))
    throw new Error(`configuration id ${configurationId} does not begin with 8 hex digits`);
  return configurationId.slice(0, 8) + randomUUID().slice(8);
}

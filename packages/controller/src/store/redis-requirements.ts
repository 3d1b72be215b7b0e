import type { Redis } from 'ioredis';
import { ControllerError } from '../errors';

/** The oldest Redis the controller is tested with and supports (BullMQ needs 6.2 commands). */
export const MIN_REDIS_VERSION = '6.2.0';

function field(info: string, name: string): string | null {
  const m = new RegExp(`^${name}:(.*)$`, 'm').exec(info);
  return m ? m[1]!.trim() : null;
}

function older(version: string, than: string): boolean {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) < (b[i] ?? 0);
  }
  return false;
}

/**
 * Checks, at start, what the controller needs of its Redis (README, "Redis"): version
 * 6.2 or later and `maxmemory-policy noeviction`. Under any other policy Redis silently
 * drops keys when it is full: quarantines, staged deletes, the synced index and queued
 * jobs would vanish, and a lost index turns into a full re-read or wrong deletes. Reads
 * INFO (allowed where CONFIG is renamed away, as on managed services); throws SG_ERR_REDIS
 * naming the Redis setting to change.
 */
export async function checkRedisRequirements(redis: Redis): Promise<void> {
  const info = await redis.info();
  const version = field(info, 'redis_version');
  if (version && older(version, MIN_REDIS_VERSION)) {
    throw new ControllerError('SG_ERR_REDIS', `Redis ${version} is too old: syncguard needs Redis ${MIN_REDIS_VERSION} or later`);
  }
  const policy = field(info, 'maxmemory_policy');
  if (policy !== null && policy !== 'noeviction') {
    throw new ControllerError(
      'SG_ERR_REDIS',
      `Redis maxmemory-policy is ${policy}: syncguard needs noeviction, or Redis may drop its state when memory is full. ` +
        'Set "maxmemory-policy noeviction" in redis.conf (or CONFIG SET maxmemory-policy noeviction) and start again',
    );
  }
}

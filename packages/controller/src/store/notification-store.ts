import type { Redis } from 'ioredis';
import type { NotificationDelivery } from '../model';
import type {
  NotificationEventHeader,
  NotificationRecords,
  StoredNotificationEvent,
} from '../notifications/notification-records';
import type { Keys } from './keys';
import { StoredFormatError } from './quarantine-codec';
import { LuaScript, callScript } from './scripts';

/** Events are kept this long, and the newest this many per configuration. */
const EVENT_TTL_SECONDS = 30 * 86_400;
const EVENTS_KEPT = 100;

/**
 * Records an event once (KEYS[1]: the event hash, KEYS[2]: the configuration's event zset).
 * ARGV[1]: header JSON, ARGV[2]: body, ARGV[3]: time (ms), ARGV[4]: event id, ARGV[5]: TTL (s),
 * ARGV[6]: events kept, ARGV[7..]: delivery field, delivery JSON pairs.
 * Returns 1 when recorded, 0 when the event was recorded before (nothing changed).
 */
const CREATE_EVENT = new LuaScript(
  'create-notification-event',
  `
if redis.call('HSETNX', KEYS[1], 'event', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'body', ARGV[2])
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[4])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[6]))
return 1
`,
);

/** Sets one delivery field (KEYS[1]: the event hash; ARGV[1]: field, ARGV[2]: JSON) while the event exists. Returns 1 or 0. */
const SET_DELIVERY = new LuaScript(
  'set-notification-delivery',
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`,
);

const DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'cancelled'];

/** Notification events and their deliveries in Redis (`P:notification:{eventId}`, `P:config:{id}:notifications`). */
export class NotificationStore implements NotificationRecords {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {}

  async create(
    header: NotificationEventHeader,
    body: string,
    deliveries: ReadonlyMap<string, NotificationDelivery>,
  ): Promise<boolean> {
    const args: string[] = [
      JSON.stringify(header),
      body,
      String(Date.parse(header.at)),
      header.id,
      String(EVENT_TTL_SECONDS),
      String(EVENTS_KEPT),
    ];
    for (const [key, d] of deliveries) args.push(`d:${key}`, encodeDelivery(d));
    const created = await callScript(
      this.redis,
      CREATE_EVENT,
      [this.keys.notificationEvent(header.id), this.keys.notificationEvents(header.configurationId)],
      args,
    );
    return created === 1;
  }

  async get(eventId: string): Promise<StoredNotificationEvent | null> {
    return decodeEvent(await this.redis.hgetall(this.keys.notificationEvent(eventId)));
  }

  async setDelivery(eventId: string, key: string, delivery: NotificationDelivery): Promise<void> {
    await callScript(this.redis, SET_DELIVERY, [this.keys.notificationEvent(eventId)], [`d:${key}`, encodeDelivery(delivery)]);
  }

  async recent(configurationId: string, limit: number): Promise<StoredNotificationEvent[]> {
    const ids = await this.redis.zrevrange(this.keys.notificationEvents(configurationId), 0, limit - 1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.keys.notificationEvent(id));
    const results = (await pipeline.exec()) ?? [];
    const out: StoredNotificationEvent[] = [];
    for (const [error, fields] of results) {
      if (error) throw error;
      const e = decodeEvent(fields as Record<string, string>);
      if (e) out.push(e);
    }
    return out;
  }

  async stagedPreview(cycleId: string): Promise<{ dn: string; objectType: 'user' | 'group' }[]> {
    const raw = await this.redis.hget(this.keys.cycle(cycleId), 'stagedPreview');
    return raw ? (JSON.parse(raw) as { dn: string; objectType: 'user' | 'group' }[]) : [];
  }
}

function encodeDelivery(d: NotificationDelivery): string {
  return JSON.stringify({
    channel: d.channel,
    to: d.to,
    status: d.status,
    attempts: d.attempts,
    lastError: d.lastError,
    responseStatus: d.responseStatus,
    deliveredAt: d.deliveredAt,
  });
}

function decodeDelivery(raw: string): NotificationDelivery {
  const v = JSON.parse(raw) as Record<string, unknown>;
  if (
    (v.channel !== 'email' && v.channel !== 'webhook') ||
    typeof v.to !== 'string' ||
    !DELIVERY_STATUSES.includes(v.status as string) ||
    typeof v.attempts !== 'number'
  )
    throw new StoredFormatError('notification delivery', raw.slice(0, 80));
  return v as unknown as NotificationDelivery;
}

function decodeEvent(fields: Record<string, string>): StoredNotificationEvent | null {
  if (!fields.event || fields.body === undefined) return null;
  const header = JSON.parse(fields.event) as NotificationEventHeader;
  const deliveries = new Map<string, NotificationDelivery>();
  for (const [k, v] of Object.entries(fields)) if (k.startsWith('d:')) deliveries.set(k.slice(2), decodeDelivery(v));
  return { header, body: fields.body, deliveries };
}

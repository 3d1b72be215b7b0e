import { startRedis, type RedisServer } from '@syncguard/testkit';
import Redis from 'ioredis';
import { encodeCommand, encodedCommand, queueEncoded } from './resp';

/* Commands encoded beforehand must do and answer exactly what ioredis's own would. */

jest.setTimeout(60_000);

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = new Redis(server.url);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.dispose();
});

describe('encoded commands', () => {
  it('are RESP arrays of bulk strings, whatever the arguments', () => {
    expect(encodeCommand('set', ['k', 'v']).toString()).toBe('*3\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\nv\r\n');
    // UTF-8 lengths, numbers, buffers (binary, with CR LF inside) and empty strings.
    expect(encodeCommand('x', ['é', 12, Buffer.from([0x0d, 0x0a, 0x00]), '']).toString('latin1')).toBe(
      '*5\r\n$1\r\nx\r\n$2\r\n\xc3\xa9\r\n$2\r\n12\r\n$3\r\n\r\n\x00\r\n$0\r\n\r\n',
    );
    const many = Array.from({ length: 1200 }, (_, i) => `v${'x'.repeat(i % 300)}`);
    const encoded = encodeCommand('rpush', ['list', ...many]).toString();
    expect(encoded.startsWith('*1202\r\n$5\r\nrpush\r\n$4\r\nlist\r\n')).toBe(true);
  });

  it('on a MULTI, give the replies and the data of the same commands sent by ioredis', async () => {
    const values = ['plain', 'ünïcödé ✓', Buffer.from([0, 1, 2, 0xff]), ''];
    const args = values.flatMap((v, i) => [`enc:${i}`, v]);
    const tx = redis.multi();
    queueEncoded(tx, 'mset', args);
    queueEncoded(tx, 'zadd', ['enc:z', 0, 'b', 0, 'a']);
    queueEncoded(tx, 'hset', ['enc:h', 'f1', 'v1', 'f2', 'v2']);
    tx.hset('enc:h', 'f3', 'v3');
    const replies = await tx.exec();
    expect(replies).toEqual([
      [null, 'OK'],
      [null, 2],
      [null, 2],
      [null, 1],
    ]);
    const read = await redis.mgetBuffer(...values.map((_, i) => `enc:${i}`));
    expect(read).toEqual(values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v)));
    expect(await redis.zrange('enc:z', 0, -1)).toEqual(['a', 'b']);
    expect(await redis.hgetall('enc:h')).toEqual({ f1: 'v1', f2: 'v2', f3: 'v3' });
  });

  it('report a command error as ioredis does, and leave the connection usable', async () => {
    await redis.set('enc:str', 'x');
    await expect(redis.sendCommand(encodedCommand('hset', ['enc:str', 'f', 'v']))).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.get('enc:str')).toBe('x');
  });
});

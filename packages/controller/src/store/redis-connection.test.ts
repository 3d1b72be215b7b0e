import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors';
import { compileRedisSettings, describeRedis, parseRedisNodes, type RedisSettingsInput } from './redis-connection';

describe('compileRedisSettings', () => {
  it('is one server at redis://127.0.0.1:6379 by default', () => {
    const s = compileRedisSettings({}, 3000);
    expect(s).toEqual({
      topology: { kind: 'single', url: 'redis://127.0.0.1:6379' },
      username: null,
      password: null,
      sentinelPassword: null,
      tls: null,
      commandTimeoutMs: 3000,
    });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reads Sentinel: the sentinels, the master name, passwords and TLS', () => {
    const s = compileRedisSettings(
      {
        redisSentinels: '10.0.0.1:26379, 10.0.0.2:26380,[::1]:26381',
        redisSentinelName: 'syncguard',
        redisPassword: 'data-secret',
        redisSentinelPassword: 'sentinel-secret',
        redisTls: 'true',
      },
      1000,
    );
    expect(s.topology).toEqual({
      kind: 'sentinel',
      name: 'syncguard',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
    expect(s).toMatchObject({ password: 'data-secret', sentinelPassword: 'sentinel-secret', tls: { ca: null } });
    expect(describeRedis(s)).toBe('Sentinel master syncguard via 10.0.0.1:26379,10.0.0.2:26380,[::1]:26381');
    expect(describeRedis(s)).not.toContain('secret');
  });

  it('reads Cluster seed nodes from a string or a config file list, and a CA file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-redis-ca-'));
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, 'PEM');
    try {
      const s = compileRedisSettings(
        { redisClusterNodes: ['redis-a:7000', 'redis-b:7001'], redisTls: true, redisCaFile: ca, redisUsername: 'sg' },
        3000,
      );
      expect(s.topology).toEqual({
        kind: 'cluster',
        nodes: [
          { host: 'redis-a', port: 7000 },
          { host: 'redis-b', port: 7001 },
        ],
      });
      expect(s.tls?.ca?.toString()).toBe('PEM');
      expect(s.username).toBe('sg');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the password beside a URL without one, and TLS from rediss://', () => {
    const s = compileRedisSettings({ redisUrl: 'rediss://redis.example.com:6380', redisPassword: 'x' }, 3000);
    expect(s).toMatchObject({ topology: { kind: 'single' }, password: 'x', tls: { ca: null } });
  });

  it.each<[RedisSettingsInput, string, RegExp]>([
    [{ redisUrl: 'redis://a:1', redisClusterNodes: 'b:2' }, 'redisClusterNodes', /only one of REDIS_URL/],
    [{ redisSentinels: 'a:1', redisSentinelName: 'm', redisClusterNodes: 'b:2' }, 'redisClusterNodes', /only one/],
    [{ redisSentinels: 'a:1' }, 'redisSentinelName', /is required with SYNCGUARD_REDIS_SENTINELS/],
    [{ redisSentinelName: 'm' }, 'redisSentinelName', /needs SYNCGUARD_REDIS_SENTINELS/],
    [{ redisSentinels: 'a:1', redisSentinelName: 'my master' }, 'redisSentinelName', /may only hold/],
    [{ redisSentinels: 'a', redisSentinelName: 'm' }, 'redisSentinels', /"a" is not host:port/],
    [{ redisSentinels: 'a:0', redisSentinelName: 'm' }, 'redisSentinels', /is not host:port/],
    [{ redisClusterNodes: 'a:70000' }, 'redisClusterNodes', /is not host:port/],
    [{ redisClusterNodes: ' , ' }, 'redisClusterNodes', /names no host:port/],
    [{ redisClusterNodes: 7000 }, 'redisClusterNodes', /comma-separated list/],
    [{ redisSentinelPassword: 'x' }, 'redisSentinelPassword', /Sentinels? only/i],
    [{ redisUrl: 'redis://:pw@a:1', redisPassword: 'x' }, 'redisPassword', /holds a password already/],
    [{ redisUrl: 'redis://a:1', redisTls: 'true' }, 'redisTls', /rediss:\/\/ means TLS/],
    [{ redisClusterNodes: 'a:1', redisTls: 'yes' }, 'redisTls', /true or false/],
    [{ redisClusterNodes: 'a:1', redisCaFile: '/ca.pem' }, 'redisCaFile', /needs SYNCGUARD_REDIS_TLS=true/],
    [{ redisUrl: 'redis://a:1', redisCaFile: '/ca.pem' }, 'redisCaFile', /needs a rediss:\/\//],
    [{ redisClusterNodes: 'a:1', redisTls: true, redisCaFile: '/nonexistent/ca.pem' }, 'redisCaFile', /cannot read/],
    [{ redisUrl: 'http://a:1' }, 'redisUrl', /must start with redis:\/\//],
  ])('refuses %j naming %s', (input, setting, message) => {
    let error: unknown;
    try {
      compileRedisSettings(input, 3000);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ setting });
    expect((error as Error).message).toMatch(message);
  });

  it('parses host:port lists', () => {
    expect(parseRedisNodes('x', undefined)).toBeNull();
    expect(parseRedisNodes('x', 'h:1,h:2')).toEqual([
      { host: 'h', port: 1 },
      { host: 'h', port: 2 },
    ]);
  });
});

import { compileControllerOptions } from './controller-options';
import { ConfigError } from './errors';
import { resolveOptions } from './main';

const TOKEN = 'a-long-enough-admin-token-0123456789';

describe('compileControllerOptions', () => {
  it('applies the defaults and freezes the result', () => {
    const o = compileControllerOptions({ adminToken: TOKEN });
    expect(o).toMatchObject({
      port: 8080,
      redisUrl: 'redis://127.0.0.1:6379',
      redisKeyPrefix: 'syncguard',
      smtpUrl: null,
      mailFrom: 'syncguard@localhost',
      tls: null,
      heartbeatIntervalMs: 15_000,
      maxFrameBytes: 4 * 1024 * 1024,
      historyRetentionDays: 30,
      heapGrowingPercent: 100,
    });
    expect(Object.isFrozen(o)).toBe(true);
  });

  it.each([
    [{}, 'adminToken'],
    [{ adminToken: 'short' }, 'adminToken'],
    // 31 characters: the bootstrap token is tried by anyone who reaches the port.
    [{ adminToken: 'a'.repeat(31) }, 'adminToken'],
    [{ adminToken: TOKEN, publicUrl: 'https://ops:S3cret@sync.example.com' }, 'publicUrl'],
    [{ adminToken: TOKEN, trustProxy: 'proxy.example.com' }, 'trustProxy'],
    [{ adminToken: TOKEN, authFailureLimit: -1 }, 'authFailureLimit'],
    [{ adminToken: TOKEN, authFailureWindowMs: 10 }, 'authFailureWindowMs'],
    [{ adminToken: TOKEN, dashboardSessionTtlMs: 0 }, 'dashboardSessionTtlMs'],
    [{ adminToken: TOKEN, port: 70000 }, 'port'],
    [{ adminToken: TOKEN, port: 'eighty' }, 'port'],
    [{ adminToken: TOKEN, redisUrl: 'http://x' }, 'redisUrl'],
    [{ adminToken: TOKEN, smtpUrl: 'not a url' }, 'smtpUrl'],
    [{ adminToken: TOKEN, mailFrom: 'nobody' }, 'mailFrom'],
    [{ adminToken: TOKEN, tlsCertFile: '/nonexistent.pem' }, 'tlsKeyFile'],
    [{ adminToken: TOKEN, tlsCertFile: '/nonexistent.pem', tlsKeyFile: '/nonexistent.key' }, 'tlsCertFile'],
    [{ adminToken: TOKEN, redisKeyPrefix: 'a b' }, 'redisKeyPrefix'],
    [{ adminToken: TOKEN, heartbeatIntervalMs: 0 }, 'heartbeatIntervalMs'],
    [{ adminToken: TOKEN, historyRetentionDays: 0 }, 'historyRetentionDays'],
    [{ adminToken: TOKEN, heapGrowingPercent: -1 }, 'heapGrowingPercent'],
    [{ adminToken: TOKEN, heapGrowingPercent: 1.5 }, 'heapGrowingPercent'],
  ])('refuses %j naming %s', (input, setting) => {
    const secret = /S3cret/;
    let error: unknown;
    try {
      compileControllerOptions(input as never);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ setting, code: 'SG_ERR_CONFIG' });
    expect((error as Error).message.startsWith(`${setting}:`)).toBe(true);
    expect((error as Error).message).not.toMatch(secret);
  });

  it.each([
    ['redisUrl', 'http://:S3cret@redis.example.com:6379'],
    ['redisUrl', 'redis://:S3cret@redis.example.com:port'],
    ['redisUrl', 'redis://user:S3c@ret@redis.example.com:x'],
    ['smtpUrl', 'imap://mail:S3cret@smtp.example.com'],
    ['smtpUrl', 'smtp://mail:S3cret@smtp.example.com:99999'],
  ])('names %s without printing the password of %s', (setting, value) => {
    expect(() => compileControllerOptions({ adminToken: TOKEN, [setting]: value })).toThrow(
      expect.objectContaining({ setting, message: expect.not.stringContaining('S3c') }),
    );
    expect(() => compileControllerOptions({ adminToken: TOKEN, [setting]: value })).toThrow(/\[REDACTED\]@/);
  });

  it('takes the 32-character admin token and the security settings', () => {
    const o = compileControllerOptions({ adminToken: 'a'.repeat(32), trustProxy: '10.0.0.1, 10.1.0.0/16' });
    expect(o).toMatchObject({ authFailureLimit: 20, authFailureWindowMs: 60_000, dashboardSessionTtlMs: 3_600_000 });
    expect(o.trustProxy).toEqual(['10.0.0.1', '10.1.0.0/16']);
  });
});

describe('resolveOptions', () => {
  it('takes flags over the environment over the config file', () => {
    const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
    const os = jest.requireActual<typeof import('node:os')>('node:os');
    const path = jest.requireActual<typeof import('node:path')>('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-opts-'));
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(
      file,
      'SYNCGUARD_PORT: 1111\nREDIS_URL: redis://file:1\nSYNCGUARD_MAIL_FROM: file@example.com\n' +
        'SYNCGUARD_ADMIN_TOKEN: from-the-file-0123456789abcdefghijkl\n',
    );
    try {
      const o = resolveOptions(['node', 'main', '--config', file, '--port', '3333'], {
        SYNCGUARD_PORT: '2222',
        REDIS_URL: 'redis://env:2',
        SMTP_URL: 'smtp://127.0.0.1:2525',
      });
      expect(o).toMatchObject({
        port: 3333,
        redisUrl: 'redis://env:2',
        mailFrom: 'file@example.com',
        adminToken: 'from-the-file-0123456789abcdefghijkl',
        smtpUrl: 'smtp://127.0.0.1:2525',
      });
      expect(compileControllerOptions(o).port).toBe(3333);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the config file setting when the file is missing', () => {
    expect(() =>
      resolveOptions(['node', 'main', '--config', '/nonexistent/c.yaml'], { SYNCGUARD_ADMIN_TOKEN: 'a'.repeat(32) }),
    ).toThrow(/^--config: cannot read/);
  });
});

describe('the config file', () => {
  const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
  const os = jest.requireActual<typeof import('node:os')>('node:os');
  const path = jest.requireActual<typeof import('node:path')>('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-config-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (text: string) => {
    const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(file, text);
    return file;
  };
  const failure = (argv: string[], env: NodeJS.ProcessEnv): string => {
    try {
      resolveOptions(['node', 'main', ...argv], env);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('no error');
  };

  it('loads the example of the repository, keys as the documented names', () => {
    const example = path.resolve(__dirname, '../examples/controller.yaml');
    const options = resolveOptions(['node', 'main', '--config', example], { SYNCGUARD_ADMIN_TOKEN: TOKEN });
    const compiled = compileControllerOptions(options);
    expect(compiled).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      smtpUrl: 'smtp://127.0.0.1:25',
      redisCommandTimeoutMs: 3000,
      trustProxy: ['127.0.0.1'],
      workers: true,
    });
  });

  it('stops at an unknown key, naming it (smtp_url is not SMTP_URL)', () => {
    const file = write('smtp_url: smtp://127.0.0.1:25\n');
    expect(failure(['--config', file], { SYNCGUARD_ADMIN_TOKEN: TOKEN })).toMatch(
      /unknown setting smtp_url \(did you mean SMTP_URL\?\)/,
    );
    // The old ControllerOptions names are not config keys any more.
    expect(failure(['--config', write('redisUrl: redis://x:1\n')], { SYNCGUARD_ADMIN_TOKEN: TOKEN })).toMatch(
      /unknown setting redisUrl \(did you mean REDIS_URL\?\)/,
    );
  });

  it('reports every problem at once', () => {
    const file = write('smtp_url: x\nSYNCGUARD_PORT: 99999\nSYNCGUARD_MAIL_FROM: nobody\nSYNCGUARD_LOG_LEVEL: loud\n');
    const message = failure(['--config', file], {});
    expect(message.split('\n')).toEqual([
      expect.stringContaining('unknown setting smtp_url'),
      expect.stringContaining('adminToken: is required'),
      expect.stringContaining('mailFrom: is not an email address'),
      expect.stringContaining('logLevel: must be one of'),
      expect.stringContaining('port: must be a whole number from 0 to 65535'),
    ]);
  });

  it('takes every setting from the environment too, numbers and booleans converted', () => {
    const o = compileControllerOptions(
      resolveOptions(['node', 'main'], {
        SYNCGUARD_ADMIN_TOKEN: TOKEN,
        SYNCGUARD_CYCLE_CONCURRENCY: '8',
        SYNCGUARD_WORKERS: 'false',
        SYNCGUARD_REDIS_COMMAND_TIMEOUT_MS: '500',
      }),
    );
    expect(o).toMatchObject({ cycleConcurrency: 8, workers: false, redisCommandTimeoutMs: 500 });
  });

  it('needs TLS for a client CA', () => {
    expect(() => compileControllerOptions({ adminToken: TOKEN, tlsClientCaFile: '/etc/ca.pem' })).toThrow(
      /^tlsClientCaFile: needs tlsCertFile/,
    );
  });
});

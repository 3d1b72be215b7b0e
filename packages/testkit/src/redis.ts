import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitFor } from './ports';
import { ManagedProcess } from './process';

export interface RedisOptions {
  /** Keep data across stop/kill/start with an append-only file. Default false (memory only). */
  persistent?: boolean;
  /** Listen on this port instead of a free one the OS picks. */
  port?: number;
  /** More arguments for redis-server (e.g. `--cluster-enabled yes`, `--replicaof 127.0.0.1 6379`). */
  args?: readonly string[];
}

/** A private redis-server on a free loopback port. */
export class RedisServer {
  private process?: ManagedProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly persistent: boolean,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The server's process id while it runs (benchmarks read its CPU time and memory). */
  get pid(): number | undefined {
    return this.process?.child.pid;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  get log(): string {
    return this.process?.log ?? '';
  }

  static async start(options: RedisOptions = {}): Promise<RedisServer> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'syncguard-redis-'));
    const server = new RedisServer(dir, options.port ?? (await freePort()), options.persistent ?? false, options.args ?? []);
    await server.start();
    return server;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, '--daemonize', 'no'];
    args.push('--appendonly', this.persistent ? 'yes' : 'no');
    if (this.persistent) args.push('--appendfsync', 'always');
    args.push(...this.extraArgs);
    this.process = new ManagedProcess('redis-server', args);
    await waitFor(() => this.command('PING').then((r) => r.startsWith('+PONG')), {
      timeoutMs: 10_000,
      message: `redis-server on port ${this.port}`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.log}`);
    });
  }

  /** Graceful stop (SIGTERM; with persistence the AOF is flushed). */
  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM');
  }

  /** Kills at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.process?.stop('SIGKILL');
  }

  async dispose(): Promise<void> {
    await this.process?.stop('SIGKILL', 1000);
    await fs.rm(this.dir, { recursive: true, force: true });
  }

  /** `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Runs one command through `redis-cli` and returns its plain output (arrays one item a line). */
  async cli(...words: string[]): Promise<string> {
    return redisCli(this.port, ...words);
  }

  /** Sends one inline command and returns the raw reply (a whole bulk string for `$` replies). */
  command(...words: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: this.port, host: '127.0.0.1' });
      let data = '';
      socket.setTimeout(2000, () => socket.destroy(new Error('redis command timed out')));
      socket.on('connect', () => socket.write(words.join(' ') + '\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        const eol = data.indexOf('\r\n');
        if (eol < 0) return;
        const bulk = data.startsWith('$') ? Number(data.slice(1, eol)) : -1;
        if (bulk >= 0 && Buffer.byteLength(data, 'latin1') < eol + 2 + bulk + 2) return;
        socket.end();
        resolve(data);
      });
      socket.on('error', reject);
    });
  }
}

/** Runs `redis-cli -p <port> <words...>` and returns its output (errors too: redis-cli prints them). */
export function redisCli(port: number, ...words: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...words], { timeout: 10_000 }, (error, stdout, stderr) => {
      if (error && !stdout) reject(new Error(`redis-cli ${words.join(' ')} on port ${port}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export function startRedis(options?: RedisOptions): Promise<RedisServer> {
  return RedisServer.start(options);
}

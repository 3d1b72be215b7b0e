import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A child process whose output is kept (last 4 MiB) for error messages. */
export class ManagedProcess {
  readonly child: ChildProcess;
  private output = '';
  private exited: Promise<number | null>;
  /** How the process ended ("exit code 1", "killed by SIGKILL"), once it has; null while it runs. */
  exitDescription: string | null = null;

  constructor(command: string, args: readonly string[], options: SpawnOptions = {}) {
    this.child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-4 * 1024 * 1024);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitDescription = signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve(code ?? (signal ? -1 : null));
      });
      this.child.once('error', (error) => {
        this.output += `\nspawn error: ${error.message}`;
        this.exitDescription = `spawn error: ${error.message}`;
        resolve(-1);
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get log(): string {
    return this.output;
  }

  /** Resolves with the exit code once the process has exited. */
  wait(): Promise<number | null> {
    return this.exited;
  }

  /** Sends `signal` and waits for the exit; escalates to SIGKILL after graceMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

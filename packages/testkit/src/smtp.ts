import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort, waitFor } from './ports';

export interface ReceivedMail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
  receivedAt: Date;
}

/**
 * A real SMTP server (the smtp-server package) on a free loopback port that keeps
 * every message it accepts. `stop()` closes the port (senders see connection refused)
 * and `start()` opens the same port again, for "SMTP down then up" tests.
 */
export class SmtpSink {
  readonly messages: ReceivedMail[] = [];
  /** Called for every message accepted (the demo prints them). */
  onMessage?: (mail: ReceivedMail) => void;
  private server?: SMTPServer;

  private constructor(readonly port: number) {}

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink(await freePort());
    await sink.start();
    return sink;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          simpleParser(raw)
            .then((parsed) => {
              const mail: ReceivedMail = {
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                to: session.envelope.rcptTo.map((r) => r.address),
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
                html: typeof parsed.html === 'string' ? parsed.html : '',
                raw,
                receivedAt: new Date(),
              };
              this.messages.push(mail);
              this.onMessage?.(mail);
              callback();
            })
            .catch((error: Error) => callback(error));
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    server.on('error', () => undefined);
    this.server = server;
  }

  /** Closes the port; messages received so far are kept. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `count` messages (matching `filter`) have arrived and returns them. */
  async waitForMessages(
    count: number,
    options: { timeoutMs?: number; filter?: (m: ReceivedMail) => boolean } = {},
  ): Promise<ReceivedMail[]> {
    const pick = () => this.messages.filter(options.filter ?? (() => true));
    await waitFor(() => pick().length >= count, { timeoutMs: options.timeoutMs ?? 15_000, message: `${count} email(s)` });
    return pick();
  }

  async dispose(): Promise<void> {
    await this.stop();
  }
}

export function startSmtp(): Promise<SmtpSink> {
  return SmtpSink.start();
}

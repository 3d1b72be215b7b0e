import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './ports';

export interface ReceivedRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** The body exactly as received. */
  body: string;
  /** The HTTP status this receiver answered. */
  answered: number;
  receivedAt: Date;
}

/**
 * A real HTTP server on a free loopback port that keeps every request it gets (webhook
 * receivers, HTTP peers). It answers 204, or the statuses queued with `failNext()` first, or
 * a path's status set with `alwaysAnswer()`.
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly queued: number[] = [];
  private readonly fixed = new Map<string, number>();

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const answered = receiver!.fixed.get((req.url ?? '').split('?')[0]!) ?? receiver!.queued.shift() ?? 204;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : (v ?? '');
        receiver!.requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          headers,
          body: Buffer.concat(chunks).toString('utf8'),
          answered,
          receivedAt: new Date(),
        });
        res.statusCode = answered;
        res.end();
      });
    });
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The receiver's URL with `path` (default `/hook`). */
  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers the next requests with these statuses (e.g. `failNext(500)`: one failure, then 204 again). */
  failNext(...statuses: number[]): void {
    this.queued.push(...statuses);
  }

  /** Answers every request to `path` with `status` from now on (an endpoint that keeps failing). */
  alwaysAnswer(path: string, status: number): void {
    this.fixed.set(path, status);
  }

  /** Waits until `count` requests matching `filter` arrived; answers them. */
  async waitForRequests(
    count: number,
    options: { filter?: (r: ReceivedRequest) => boolean; timeoutMs?: number } = {},
  ): Promise<ReceivedRequest[]> {
    const pick = () => this.requests.filter(options.filter ?? (() => true));
    return waitFor(() => (pick().length >= count ? pick() : null), {
      timeoutMs: options.timeoutMs ?? 20_000,
      message: `${count} webhook requests`,
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function startWebhookReceiver(): Promise<WebhookReceiver> {
  return WebhookReceiver.start();
}

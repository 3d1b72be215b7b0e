import { createHmac } from 'node:crypto';
import { ControllerError } from '../errors';

/** `sha256=<hex HMAC-SHA256 of the body with the secret>`: the `X-Syncguard-Signature` header. */
export function webhookSignature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** What one POST of a webhook got: a 2xx status, or the status (null: no answer) and why it failed. */
export type WebhookOutcome = { ok: true; status: number } | { ok: false; status: number | null; error: ControllerError };

/**
 * POSTs an event's body to a webhook, signed with its secret. A 2xx answer is a delivery;
 * anything else (another status, a redirect, which is not followed, no answer within
 * `timeoutMs`, a refused connection) is a failed attempt with code `SG_ERR_WEBHOOK`.
 */
export async function postWebhook(input: {
  url: string;
  secret: string;
  body: string;
  event: string;
  deliveryId: string;
  timeoutMs: number;
  userAgent: string;
}): Promise<WebhookOutcome> {
  let response: Response;
  try {
    response = await fetch(input.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(input.timeoutMs),
      headers: {
        'content-type': 'application/json',
        'user-agent': input.userAgent,
        'x-syncguard-event': input.event,
        'x-syncguard-delivery': input.deliveryId,
        'x-syncguard-signature': webhookSignature(input.body, input.secret),
      },
      body: input.body,
    });
  } catch (cause) {
    const reason =
      cause instanceof Error && cause.name === 'TimeoutError' ? `no answer within ${input.timeoutMs} ms` : describe(cause);
    return {
      ok: false,
      status: null,
      error: new ControllerError('SG_ERR_WEBHOOK', `webhook ${input.url}: ${reason}`, { cause }),
    };
  }
  // The answer's body is not read: only its status counts.
  await response.body?.cancel().catch(() => undefined);
  if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
  return {
    ok: false,
    status: response.status,
    error: new ControllerError('SG_ERR_WEBHOOK', `webhook ${input.url} answered HTTP ${response.status}`),
  };
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as Error & { cause?: unknown }).cause;
  return inner instanceof Error ? `${cause.message}: ${inner.message}` : cause.message;
}

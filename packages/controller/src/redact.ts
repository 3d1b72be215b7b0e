/**
 * Secrets out of what the controller prints and logs: credentials in URLs (REDIS_URL,
 * SMTP_URL, the public URL) and secret query parameters of request URLs.
 */

/** What stands in for a removed secret. */
export const REDACTED = '[REDACTED]';

// scheme://userinfo@ : the userinfo is anything up to the last '@' before the host part
// ends, so that a password holding '@' or ':' (unencoded, as people type them) goes too.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]*(?:@[^\s/?#@]*)*@/gi;

/**
 * `text` with the user and password of every URL in it replaced, also in URLs that do
 * not parse (`redis://:S3cret@host:port6379` must not print S3cret either).
 */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/** Query parameters whose values are secrets (the dashboard's `?token=`). */
const SECRET_PARAMS = /([?&](?:token|access_token|session)=)[^&#]*/gi;

/** A request URL (path and query) with the values of secret query parameters replaced. */
export function redactRequestUrl(url: string): string {
  return url.replace(SECRET_PARAMS, `$1${REDACTED}`);
}

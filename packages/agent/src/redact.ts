/*
 * URLs as the agent prints and logs them: without credentials. A URL setting may carry a
 * user and password (`ldap://user:secret@host`) or a secret in its query string
 * (`wss://host/agent?token=...`); neither may reach a log line, stderr or the controller.
 */

/** Words in the names of query parameters whose values are secrets. */
const SECRET_WORDS = 'token|secret|passw|pwd|key|auth|sig|credential|session';
const SECRET_PARAMETER = new RegExp(SECRET_WORDS, 'i');
const SECRET_QUERY_VALUE = new RegExp(`([?&][^=&\\s]*(?:${SECRET_WORDS})[^=&\\s]*=)[^&\\s#]*`, 'gi');

/** `url` with its user, password and secret query values replaced by `***`. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (the message says so): still strip anything shaped like credentials.
    return redactUrlsIn(url).replace(/[^\s/@*]+@/g, '***@');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    parsed.username = '***';
    parsed.password = '';
  }
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMETER.test(name)) parsed.searchParams.set(name, '***');
  }
  // URL writes `ldap://host` of a special scheme with a trailing `/`; keep what was given.
  const text = parsed.toString();
  return !url.endsWith('/') && text.endsWith('/') && parsed.pathname === '/' && !url.includes('/?') ? text.slice(0, -1) : text;
}

/** Every `scheme://user:password@` and secret `name=value` of a URL query in free text, replaced by `***`. */
export function redactUrlsIn(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, '$1***@').replace(SECRET_QUERY_VALUE, '$1***');
}

import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';

export function SignInPage({ onSignIn, message }: { onSignIn: (token: string) => Promise<void>; message: string | null }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSignIn(t);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'This token is not valid: it is unknown or revoked.'
          : (err as Error).message,
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} noValidate data-testid="sign-in-form">
        <h1>
          <svg viewBox="0 0 16 16" width="28" height="28" aria-hidden="true">
            <path d="M8 1l6 2.5v4c0 3.6-2.6 6.6-6 7.5-3.4-.9-6-3.9-6-7.5v-4z" fill="#2457c5" />
            <path d="m5 8 2 2 4-4.2" stroke="#fff" stroke-width="1.6" fill="none" />
          </svg>
          syncguard
        </h1>
        <p class="muted">Directory sync with accidental delete prevention.</p>
        {message ? <p class="notice notice-warn">{message}</p> : null}
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'token-error token-help' : 'token-help'}
          data-testid="token-input"
        />
        <p id="token-help" class="help">
          An admin or reader token (<code>syncguardctl tokens create</code>). It is kept for this browser session only.
        </p>
        {error ? (
          <p id="token-error" class="field-error" role="alert" data-testid="sign-in-error">
            {error}
          </p>
        ) : null}
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="sign-in">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

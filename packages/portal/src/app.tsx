import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiClient, ApiError } from './api/client';
import type { Role } from './api/model';
import { SessionContext, type Session } from './app-context';
import { Layout } from './components/layout';
import { AgentsPage } from './pages/agents-page';
import { ConfigurationPage } from './pages/configuration-page';
import { ConfigurationsPage } from './pages/configurations-page';
import { LogsPage } from './pages/logs-page';
import { SettingsPage } from './pages/settings-page';
import { SignInPage } from './pages/sign-in-page';
import { parseRoute, type Route } from './routes';
import { clearToken, loadToken, saveToken } from './session';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

interface SignedIn {
  token: string;
  role: Role | null;
}

export function App() {
  const route = useRoute();
  const [auth, setAuth] = useState<SignedIn | null>(null);
  const [checking, setChecking] = useState(() => loadToken() !== null);
  const [signOutReason, setSignOutReason] = useState<string | null>(null);

  const signOut = (reason: string | null = null) => {
    clearToken();
    setAuth(null);
    setSignOutReason(reason);
  };

  const makeClient = (token: string) =>
    new ApiClient({
      token,
      onUnauthorized: () => signOut('The API token is no longer accepted. Sign in again.'),
    });

  /** Checks a token against the API, learns its role, and keeps it for the session. */
  const signIn = async (token: string): Promise<void> => {
    const probe = new ApiClient({ token });
    await probe.listConfigurations();
    const role = await probe.role();
    saveToken(token);
    setSignOutReason(null);
    setAuth({ token, role });
  };

  useEffect(() => {
    const saved = loadToken();
    if (!saved) return;
    signIn(saved)
      .catch((e) => {
        if (e instanceof ApiError && e.status === 401) signOut('The saved API token is no longer accepted. Sign in again.');
        else setSignOutReason((e as Error).message);
      })
      .finally(() => setChecking(false));
  }, []);

  const session = useMemo<Session | null>(
    () => (auth ? { client: makeClient(auth.token), role: auth.role, canWrite: auth.role !== 'reader' } : null),
    [auth?.token, auth?.role],
  );

  if (!session) {
    if (checking) return <p class="loading">Signing in…</p>;
    return <SignInPage onSignIn={signIn} message={signOutReason} />;
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout route={route} onSignOut={() => signOut(null)}>
        <Page route={route} />
      </Layout>
    </SessionContext.Provider>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'configurations':
      return <ConfigurationsPage />;
    case 'configuration':
      return <ConfigurationPage id={route.id} />;
    case 'logs':
      return <LogsPage route={route} />;
    case 'settings':
      return <SettingsPage id={route.id} />;
    case 'agents':
      return <AgentsPage selectedId={route.id} />;
    case 'not-found':
      return (
        <section>
          <h1>Page not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <a href="#/configurations">Back to the configurations</a>.
          </p>
        </section>
      );
  }
}

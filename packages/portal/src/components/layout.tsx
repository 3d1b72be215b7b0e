import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useSession } from '../app-context';
import type { Route } from '../routes';

function ShieldLogo() {
  return (
    <svg viewBox="0 0 16 16" width="22" height="22" aria-hidden="true" focusable="false">
      <path d="M8 1l6 2.5v4c0 3.6-2.6 6.6-6 7.5-3.4-.9-6-3.9-6-7.5v-4z" fill="currentColor" />
      <path d="m5 8 2 2 4-4.2" stroke="#fff" stroke-width="1.6" fill="none" />
    </svg>
  );
}

export function Layout({ route, onSignOut, children }: { route: Route; onSignOut: () => void; children: ComponentChildren }) {
  const { role } = useSession();
  const section = route.page === 'agents' ? 'agents' : 'configurations';
  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [route.page, 'id' in route ? route.id : '']);
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="#/configurations">
          <ShieldLogo /> syncguard
        </a>
        <nav aria-label="Main">
          <a
            href="#/configurations"
            aria-current={section === 'configurations' ? 'page' : undefined}
            data-testid="nav-configurations"
          >
            Configurations
          </a>
          <a href="#/agents" aria-current={section === 'agents' ? 'page' : undefined} data-testid="nav-agents">
            Agents
          </a>
        </nav>
        <div class="topbar-end">
          <span class="role" data-testid="role" title="The role of the API token you signed in with">
            {role === 'reader' ? 'Reader (read-only)' : role === 'admin' ? 'Admin' : 'Role unknown'}
          </span>
          <button type="button" class="btn btn-ghost" onClick={onSignOut} data-testid="sign-out">
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

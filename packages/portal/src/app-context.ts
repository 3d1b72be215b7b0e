import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { ApiClient } from './api/client';
import type { Role } from './api/model';

export interface Session {
  client: ApiClient;
  /** null when the controller did not tell: admin actions are shown and the API decides. */
  role: Role | null;
  /** Whether to show write actions (allow deletes, restart, sync now, settings). */
  canWrite: boolean;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in session');
  return s;
}

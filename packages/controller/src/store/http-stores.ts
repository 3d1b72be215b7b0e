import type { Redis } from 'ioredis';
import { DEFAULT_HTTP_SECURITY } from '../controller-options';
import { AuthFailureStore } from './auth-failure-store';
import { DashboardSessions } from './dashboard-sessions';
import { Keys } from './keys';
import { ApiTokenStore } from './token-store';

/** The stores the HTTP layer reads and writes itself (everything else goes through the services). */
export interface HttpStores {
  tokens: ApiTokenStore;
  authFailures: AuthFailureStore;
  dashboardSessions: DashboardSessions;
}

/** The HTTP layer's stores on one connection, keys under `keyPrefix`. */
export function httpStores(
  redis: Redis,
  keyPrefix: string,
  dashboardSessionTtlMs = DEFAULT_HTTP_SECURITY.dashboardSessionTtlMs,
): HttpStores {
  const keys = new Keys(keyPrefix);
  return {
    tokens: new ApiTokenStore(redis, keys),
    authFailures: new AuthFailureStore(redis, keys),
    dashboardSessions: new DashboardSessions(redis, keys, dashboardSessionTtlMs),
  };
}

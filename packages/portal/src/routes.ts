/**
 * Hash routes (`#/configurations/ID/logs`), so that any static server, with or without
 * an index.html fallback, serves every page and reloads keep their place.
 */
export type Route =
  | { page: 'configurations' }
  | { page: 'configuration'; id: string }
  | { page: 'logs'; id: string; action?: string; cycleId?: string; dn?: string }
  | { page: 'settings'; id: string }
  | { page: 'agents'; id?: string }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [pathPart, queryPart = ''] = raw.split('?', 2) as [string, string?];
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const q = new URLSearchParams(queryPart);
  const opt = (k: string) => q.get(k) || undefined;
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'configurations')) return { page: 'configurations' };
  if (parts[0] === 'configurations' && parts[1]) {
    const id = parts[1];
    if (parts.length === 2) return { page: 'configuration', id };
    if (parts.length === 3 && parts[2] === 'logs') {
      return { page: 'logs', id, action: opt('action'), cycleId: opt('cycleId'), dn: opt('dn') };
    }
    if (parts.length === 3 && parts[2] === 'settings') return { page: 'settings', id };
  }
  if (parts[0] === 'agents' && parts.length <= 2) return parts[1] ? { page: 'agents', id: parts[1] } : { page: 'agents' };
  return { page: 'not-found', path: pathPart };
}

export function href(route: Route): string {
  switch (route.page) {
    case 'configurations':
      return '#/configurations';
    case 'configuration':
      return `#/configurations/${encodeURIComponent(route.id)}`;
    case 'settings':
      return `#/configurations/${encodeURIComponent(route.id)}/settings`;
    case 'logs': {
      const q = new URLSearchParams();
      if (route.action) q.set('action', route.action);
      if (route.cycleId) q.set('cycleId', route.cycleId);
      if (route.dn) q.set('dn', route.dn);
      const s = q.toString();
      return `#/configurations/${encodeURIComponent(route.id)}/logs${s ? `?${s}` : ''}`;
    }
    case 'agents':
      return route.id ? `#/agents/${encodeURIComponent(route.id)}` : '#/agents';
    case 'not-found':
      return `#${route.path}`;
  }
}

import type {
  ConfigurationState,
  CycleCounts,
  CycleState,
  NotificationStatus,
  ProvisioningLogEntry,
  Quarantine,
} from './api/model';

/** One rule of `quarantine.trippedBy`, as the banner names it: "12.2% of 5,000 objects, limit 10%". */
export function trippedRuleText(t: Quarantine['trippedBy'][number]): string {
  const n = (v: number): string => v.toLocaleString('en-US');
  const what = t.rule === 'type:user' ? 'users' : t.rule === 'type:group' ? 'groups' : 'objects';
  if (t.of !== undefined) return `${t.value}% of ${n(t.of)} ${what}, limit ${t.limit}%`;
  switch (t.rule) {
    case 'window':
      return `${n(t.value)} deletes in the window, limit ${n(t.limit)}`;
    case 'protected':
      return `${plural(t.value, 'protected object')} deleted`;
    case 'memberRemovals':
      return `${plural(t.value, 'membership')} removed from groups, limit ${n(t.limit)}`;
    case 'type:user':
    case 'type:group':
      return `${n(t.value)} ${what} deleted, limit ${n(t.limit)}`;
    default:
      return `${n(t.value)} deletes, limit ${n(t.limit)}`;
  }
}

/** "1 object", "612 objects". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** A timestamp as `2026-11-24 10:00:05 UTC`, or an em dash when there is none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** How long ago, coarse: "just now", "5 s ago", "3 min ago", "2 h ago", "4 days ago". */
export function formatAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

export type Tone = 'ok' | 'danger' | 'warn' | 'muted' | 'info';

export const STATE_LABEL: Record<ConfigurationState, string> = {
  healthy: 'Healthy',
  quarantined: 'Delete threshold exceeded',
  error: 'Error',
  pending: 'Pending',
};

export function stateTone(state: ConfigurationState | CycleState | string): Tone {
  switch (state) {
    case 'healthy':
    case 'applied':
      return 'ok';
    case 'quarantined':
    case 'error':
    case 'failed':
      return 'danger';
    case 'running':
      return 'info';
    default:
      return 'muted';
  }
}

/** A configuration state in words; quarantined reads "Delete threshold exceeded". */
export function stateLabel(state: string): string {
  return (STATE_LABEL as Record<string, string>)[state] ?? capitalize(state);
}

/** A cycle state in words ("Quarantined", "Applied", ...). */
export function cycleStateLabel(state: string): string {
  return capitalize(state);
}

export function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1) : s;
}

/** The quarantine reason in words. */
export function reasonLabel(reason: string): string {
  return reason === 'TooManyDeletes' ? 'Too many deletes (TooManyDeletes)' : reason;
}

export function notificationLabel(status: NotificationStatus | undefined, email: string | null): string {
  switch (status) {
    case 'sent':
      return `Sent to ${email ?? 'the notification address'}`;
    case 'pending':
      return `Sending to ${email ?? 'the notification address'}`;
    case 'failed':
      return 'Failed';
    case 'none':
      return 'Not sent: no notification address';
    default:
      return 'Unknown';
  }
}

export function countsLabel(c: CycleCounts | null | undefined): string {
  if (!c) return '—';
  const failed = c.failed > 0 ? ` ✗${c.failed}` : '';
  return `+${c.create} ~${c.update} −${c.delete}${failed}`;
}

/** Share of the threshold reached, 0..1 and beyond, for the gauge. */
export function thresholdRatio(deleteCount: number, threshold: number): number {
  if (!(threshold > 0)) return 1;
  return deleteCount / threshold;
}

/** Case-insensitive substring match on the DN (the client-side search). */
export function filterByDn<T extends Pick<ProvisioningLogEntry, 'dn'>>(items: T[], query: string): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return items;
  return items.filter((e) => e.dn.toLowerCase().includes(q));
}

/**
 * Whether a page answered for a `dn` search was filtered by the server: every entry
 * matches. An API that ignores the parameter answers entries that do not match, and the
 * portal then filters the loaded page itself and says so.
 */
export function serverFilteredByDn(items: Pick<ProvisioningLogEntry, 'dn'>[], query: string): boolean {
  return filterByDn(items, query).length === items.length;
}

/** A staged delete's cause in words. */
export function causeLabel(cause: string): string {
  switch (cause) {
    case 'deleted':
      return 'deleted at the source';
    case 'movedOutOfScope':
      return 'moved out of scope';
    case 'filteredOut':
      return 'filtered out';
    case 'disabled':
      return 'disabled (counted as deletes)';
    case 'scopeChanged':
      return 'out of the changed scope';
    case 'unknown':
      return 'gone from the scope (cause unknown)';
    default:
      return cause;
  }
}

/** How an event's deliveries went: `3 delivered`, `1 delivered, 1 failed`. */
export function deliveriesLabel(deliveries: readonly { status: string }[]): string {
  if (deliveries.length === 0) return 'no recipient';
  const by = new Map<string, number>();
  for (const d of deliveries) by.set(d.status, (by.get(d.status) ?? 0) + 1);
  return [...by].map(([status, n]) => `${n} ${status}`).join(', ');
}

/**
 * The deletes a release of `parentDn` applies: its group and those of the OUs under it, as the
 * controller matches a parent DN (case-insensitive, spaces after commas ignored).
 */
export function subtreeCount(groups: readonly { key: string; count: number }[], parentDn: string): number {
  const norm = (dn: string) => dn.trim().toLowerCase().replace(/,\s+/g, ',');
  const p = norm(parentDn);
  return groups.reduce((n, g) => {
    const k = norm(g.key);
    return k === p || k.endsWith(`,${p}`) ? n + g.count : n;
  }, 0);
}

/** A pre-approval's state in words. */
export function approvalStateLabel(state: string): string {
  switch (state) {
    case 'active':
      return 'waiting for its cycle';
    case 'used':
      return 'used';
    case 'expired':
      return 'expired unused';
    case 'revoked':
      return 'revoked';
    default:
      return state;
  }
}

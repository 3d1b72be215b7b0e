import { useEffect, useState } from 'preact/hooks';
import type { Configuration, ConfigurationStatus, Cycle, Page, ProvisioningAction, ProvisioningLogEntry } from '../api/model';
import { useSession } from '../app-context';
import { ConfigHeader } from '../components/config-header';
import { Badge, ErrorNotice, Loading, Notice } from '../components/ui';
import { countsLabel, filterByDn, formatTime, serverFilteredByDn } from '../format';
import { actionOptions, fromParam } from '../log-filters';
import { href, type Route } from '../routes';
import { useLoad } from '../use-load';

const PAGE_SIZE = 50;

type LogsRoute = Extract<Route, { page: 'logs' }>;

interface Context {
  configuration: Configuration;
  status: ConfigurationStatus;
  cycles: Cycle[];
}

/** Provisioning log: filter by action and cycle, search by DN, page by cursor. */
export function LogsPage({ route }: { route: LogsRoute }) {
  const { id } = route;
  const { client } = useSession();
  const ctx = useLoad<Context>(async () => {
    const [configuration, status, cycles] = await Promise.all([
      client.getConfiguration(id),
      client.getStatus(id),
      client.listCycles(id, 20).catch(() => [] as Cycle[]),
    ]);
    return { configuration, status, cycles };
  }, [client, id]);
  const status = ctx.data?.status;
  const quarantine = status?.quarantine ?? null;
  // Until the URL names a filter, a quarantined configuration opens on its staged deletes.
  const explicit = route.action !== undefined || route.cycleId !== undefined || route.dn !== undefined;
  // "all" in the URL keeps an explicit "All ..." choice apart from "no choice yet".
  const action = route.action !== undefined ? fromParam(route.action) : !explicit && quarantine ? 'StagedDelete' : '';
  const cycleId = route.cycleId !== undefined ? fromParam(route.cycleId) : !explicit && quarantine ? quarantine.cycleId : '';
  const dn = route.dn ?? '';
  const ready = ctx.data !== undefined || ctx.error !== null;

  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => setCursors([null]), [id, action, cycleId, dn]);

  const query = JSON.stringify([id, action, cycleId, dn, cursor]);
  const loaded = useLoad<{ query: string; page: Page<ProvisioningLogEntry> } | null>(
    () =>
      ready
        ? client
            .listLogs(id, { action: action as ProvisioningAction | '', cycleId, dn, limit: PAGE_SIZE, cursor })
            .then((result) => ({ query, page: result }))
        : Promise.resolve(null),
    [client, id, action, cycleId, dn, cursor, ready],
  );
  // Only results of the current query count: for one render after a filter changes, the
  // previous query's results are still held and would look like an unfiltered answer.
  const page = { ...loaded, data: loaded.data?.query === query ? loaded.data.page : undefined };

  const items = page.data?.items ?? [];
  const clientSide = dn !== '' && page.data != null && !serverFilteredByDn(items, dn);
  const shown = clientSide ? filterByDn(items, dn) : items;

  const go = (next: Partial<LogsRoute>) => {
    const m = { action, cycleId, dn, ...next };
    const r: LogsRoute = { page: 'logs', id, action: m.action || 'all', cycleId: m.cycleId || 'all', dn: m.dn };
    location.hash = href(r).slice(1);
  };

  const [dnInput, setDnInput] = useState(dn);
  useEffect(() => setDnInput(dn), [dn]);

  return (
    <section>
      <ConfigHeader id={id} configuration={ctx.data?.configuration} state={status?.state} tab="logs" />
      <ErrorNotice error={ctx.error} />
      {quarantine && action === 'StagedDelete' ? (
        <Notice tone="warn" title="Staged deletes" testId="staged-notice">
          These objects would be deleted from the cloud directory if the deletes are allowed (
          {quarantine.deleteCount.toLocaleString('en-US')} in the quarantined cycle).{' '}
          <a href={href({ page: 'configuration', id })}>Back to the sync status info</a> to allow them or restart.
        </Notice>
      ) : null}
      <form
        class="filters"
        role="search"
        aria-label="Filter the provisioning log"
        onSubmit={(e) => {
          e.preventDefault();
          go({ dn: dnInput.trim() });
        }}
      >
        <div class="field">
          <label for="f-action">Action</label>
          <select
            id="f-action"
            value={action}
            onChange={(e) => go({ action: (e.target as HTMLSelectElement).value })}
            data-testid="filter-action"
          >
            {actionOptions(!!quarantine).map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-cycle">Cycle</label>
          <select
            id="f-cycle"
            value={cycleId}
            onChange={(e) => go({ cycleId: (e.target as HTMLSelectElement).value })}
            data-testid="filter-cycle"
          >
            <option value="">All cycles</option>
            {cycleId && !ctx.data?.cycles.some((c) => c.id === cycleId) ? <option value={cycleId}>{cycleId}</option> : null}
            {ctx.data?.cycles.map((c) => (
              <option key={c.id} value={c.id}>
                {formatTime(c.startedAt)} · {c.state} · {countsLabel(c.counts)}
              </option>
            ))}
          </select>
        </div>
        <div class="field field-grow">
          <label for="f-dn">Search by DN</label>
          <input
            id="f-dn"
            type="search"
            placeholder="uid=jdoe,ou=people,dc=example,dc=com"
            value={dnInput}
            onInput={(e) => setDnInput((e.target as HTMLInputElement).value)}
            data-testid="filter-dn"
          />
        </div>
        <div class="field field-button">
          <button type="submit" class="btn" data-testid="search">
            Search
          </button>
        </div>
      </form>
      {clientSide ? (
        <p class="notice notice-info small" data-testid="client-side-search">
          This controller does not search by DN, so the search covers only the {items.length} entries loaded on this page (
          {shown.length} match). Narrow the list with the action and cycle filters or page on.
        </p>
      ) : null}
      <ErrorNotice error={page.error} />
      {!page.data && !page.error ? <Loading what="Loading the log" /> : null}
      {page.data ? (
        shown.length === 0 ? (
          <p class="empty" data-testid="log-empty">
            No entry matches these filters.
          </p>
        ) : (
          <div class="table-wrap">
            <table class="table" data-testid="log">
              <caption class="sr-only">Provisioning log entries</caption>
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Action</th>
                  <th scope="col">Status</th>
                  <th scope="col">Type</th>
                  <th scope="col">DN</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((e) => (
                  <tr key={e.id} data-testid="log-row" data-action={e.action}>
                    <td class="nowrap">{formatTime(e.at)}</td>
                    <td>
                      <Badge tone={e.action === 'StagedDelete' ? 'warn' : e.action === 'Delete' ? 'danger' : 'info'}>
                        {e.action}
                      </Badge>
                    </td>
                    <td>
                      <Badge tone={e.status === 'success' ? 'ok' : e.status === 'failure' ? 'danger' : 'muted'}>{e.status}</Badge>
                    </td>
                    <td>{e.objectType}</td>
                    <td class="mono dn" data-testid="log-dn">
                      {e.dn}
                    </td>
                    <td class="small">{e.details ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          class="btn"
          disabled={cursors.length <= 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
          data-testid="prev-page"
        >
          Previous
        </button>
        <span class="muted" data-testid="page-number">
          Page {cursors.length}
        </span>
        <button
          type="button"
          class="btn"
          disabled={!page.data?.nextCursor}
          onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}
          data-testid="next-page"
        >
          Next
        </button>
      </nav>
    </section>
  );
}

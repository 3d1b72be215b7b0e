import type { Configuration, ConfigurationStatus } from '../api/model';
import { useSession } from '../app-context';
import { ErrorNotice, Loading, StateBadge, WarningIcon } from '../components/ui';
import { countsLabel, cycleStateLabel, formatAgo, formatTime, plural, trippedRuleText } from '../format';
import { href } from '../routes';
import { useLoad } from '../use-load';

interface Row {
  configuration: Configuration;
  status: ConfigurationStatus | null;
}

/** Every configuration with its state; refreshes itself every 5 s. */
export function ConfigurationsPage() {
  const { client } = useSession();
  const { data, error } = useLoad<Row[]>(
    async () => {
      const configurations = await client.listConfigurations();
      const statuses = await Promise.all(configurations.map((c) => client.getStatus(c.id).catch(() => null)));
      return configurations.map((configuration, i) => ({ configuration, status: statuses[i] ?? null }));
    },
    [client],
    5000,
  );
  const quarantined = data?.filter((r) => (r.status?.state ?? r.configuration.state) === 'quarantined').length ?? 0;
  return (
    <section>
      <div class="page-head">
        <h1>Configurations</h1>
        {data ? (
          <p class="muted" data-testid="summary">
            {plural(data.length, 'configuration')}
            {quarantined ? (
              <>
                {' · '}
                <span class="text-danger">{quarantined} quarantined</span>
              </>
            ) : null}
          </p>
        ) : null}
      </div>
      <ErrorNotice error={error} />
      {!data && !error ? <Loading /> : null}
      {data && data.length === 0 ? (
        <p class="empty">
          No configuration yet. Create one with <code>syncguardctl configs create</code> or{' '}
          <code>POST /api/v1/configurations</code>.
        </p>
      ) : null}
      {data && data.length > 0 ? (
        <div class="table-wrap">
          <table class="table" data-testid="configurations">
            <thead>
              <tr>
                <th scope="col">Configuration</th>
                <th scope="col">Status</th>
                <th scope="col">Last cycle</th>
                <th scope="col">Accidental delete prevention</th>
                <th scope="col">Agents</th>
              </tr>
            </thead>
            <tbody>
              {data.map(({ configuration: c, status }) => {
                const state = status?.state ?? c.state;
                const last = status?.lastCycle ?? null;
                return (
                  <tr key={c.id} data-testid="configuration-row" data-config-id={c.id} data-state={state}>
                    <td>
                      <a href={href({ page: 'configuration', id: c.id })} class="strong" data-testid="configuration-link">
                        {c.name}
                      </a>
                      <div class="muted small mono">{c.source.baseDn}</div>
                    </td>
                    <td>
                      {state === 'quarantined' ? (
                        <a
                          href={href({ page: 'configuration', id: c.id })}
                          class="threshold-link"
                          data-testid="threshold-exceeded"
                        >
                          <WarningIcon />
                          Delete threshold exceeded
                        </a>
                      ) : (
                        <StateBadge state={state} testId="configuration-state" />
                      )}
                      {status?.quarantine ? (
                        <div class="small text-danger">
                          {plural(status.quarantine.deleteCount, 'delete')}{' '}
                          {status.quarantine.hold === 'deletes' ? 'held (creates and updates go on)' : 'staged'}
                          {status.quarantine.trippedBy.length > 0
                            ? `: ${status.quarantine.trippedBy.map((t) => `${t.rule} ${trippedRuleText(t)}`).join('; ')}`
                            : `, threshold ${status.quarantine.threshold}`}
                        </div>
                      ) : null}
                    </td>
                    <td>
                      {last ? (
                        <>
                          <span title={formatTime(last.startedAt)}>{formatAgo(last.startedAt)}</span>
                          <div class="muted small">
                            {cycleStateLabel(last.state)} ·{' '}
                            <span title="creates, updates, deletes">{countsLabel(last.counts)}</span>
                          </div>
                        </>
                      ) : (
                        <span class="muted">never ran</span>
                      )}
                    </td>
                    <td>
                      {c.accidentalDeletes.enabled ? (
                        <>On, threshold {c.accidentalDeletes.threshold.toLocaleString('en-US')}</>
                      ) : (
                        <span class="text-warn">Off</span>
                      )}
                    </td>
                    <td>{c.agentIds.length}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

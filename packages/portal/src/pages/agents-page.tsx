import { Fragment } from 'preact';
import type { Agent, Configuration } from '../api/model';
import { useSession } from '../app-context';
import { Badge, ErrorNotice, Loading } from '../components/ui';
import { formatAgo, formatTime, plural } from '../format';
import { href } from '../routes';
import { useLoad } from '../use-load';

function AgentStatus({ agent }: { agent: Agent }) {
  return agent.status === 'connected' ? (
    <Badge tone="ok" testId="agent-status">
      <span class="dot dot-ok" aria-hidden="true" /> Connected
    </Badge>
  ) : (
    <Badge tone="muted" testId="agent-status">
      <span class="dot" aria-hidden="true" /> Disconnected
    </Badge>
  );
}

/** Every agent: connected or not, host, version, last seen, configurations. Refreshes every 10 s. */
export function AgentsPage({ selectedId }: { selectedId?: string }) {
  const { client } = useSession();
  const { data, error } = useLoad<{ agents: Agent[]; configurations: Map<string, Configuration> }>(
    async () => {
      const [agents, configurations] = await Promise.all([client.listAgents(), client.listConfigurations().catch(() => [])]);
      return { agents, configurations: new Map(configurations.map((c) => [c.id, c])) };
    },
    [client],
    10000,
  );
  const selected = selectedId ? data?.agents.find((a) => a.id === selectedId) : undefined;
  const configLinks = (a: Agent) =>
    a.configurationIds.length === 0 ? (
      <span class="muted">none</span>
    ) : (
      a.configurationIds.map((cid, i) => (
        <Fragment key={cid}>
          {i > 0 ? ', ' : null}
          <a href={href({ page: 'configuration', id: cid })}>{data?.configurations.get(cid)?.name ?? cid}</a>
        </Fragment>
      ))
    );
  return (
    <section>
      <div class="page-head">
        <h1>Agents</h1>
        {data ? (
          <p class="muted">
            {plural(data.agents.length, 'agent')}, {data.agents.filter((a) => a.status === 'connected').length} connected
          </p>
        ) : null}
      </div>
      <ErrorNotice error={error} />
      {!data && !error ? <Loading /> : null}
      {selectedId && data && !selected ? <p class="notice notice-warn">No agent with the id {selectedId}.</p> : null}
      {selected ? (
        <div class="card" data-testid="agent-detail">
          <h2>
            {selected.name} <AgentStatus agent={selected} />
          </h2>
          <dl class="facts">
            <dt>Id</dt>
            <dd class="mono">{selected.id}</dd>
            <dt>Host</dt>
            <dd>{selected.hostname ?? <span class="muted">unknown</span>}</dd>
            <dt>Version</dt>
            <dd>{selected.version ?? <span class="muted">unknown</span>}</dd>
            <dt>Last seen</dt>
            <dd>
              {formatTime(selected.lastSeenAt)} <span class="muted">({formatAgo(selected.lastSeenAt)})</span>
            </dd>
            <dt>Configurations</dt>
            <dd>{configLinks(selected)}</dd>
          </dl>
        </div>
      ) : null}
      {data && data.agents.length === 0 ? (
        <p class="empty">
          No agent registered. Register one with <code>syncguardctl agents register NAME</code>.
        </p>
      ) : null}
      {data && data.agents.length > 0 ? (
        <div class="table-wrap">
          <table class="table" data-testid="agents">
            <thead>
              <tr>
                <th scope="col">Agent</th>
                <th scope="col">Status</th>
                <th scope="col">Host</th>
                <th scope="col">Version</th>
                <th scope="col">Last seen</th>
                <th scope="col">Configurations</th>
              </tr>
            </thead>
            <tbody>
              {data.agents.map((a) => (
                <tr
                  key={a.id}
                  data-testid="agent-row"
                  data-status={a.status}
                  class={a.id === selectedId ? 'selected' : undefined}
                >
                  <td>
                    <a href={href({ page: 'agents', id: a.id })} class="strong">
                      {a.name}
                    </a>
                  </td>
                  <td>
                    <AgentStatus agent={a} />
                  </td>
                  <td>{a.hostname ?? <span class="muted">unknown</span>}</td>
                  <td>{a.version ?? <span class="muted">unknown</span>}</td>
                  <td title={formatTime(a.lastSeenAt)}>{formatAgo(a.lastSeenAt)}</td>
                  <td>{configLinks(a)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

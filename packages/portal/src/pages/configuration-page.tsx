import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type {
  Agent,
  AllowDeletesResult,
  Configuration,
  ConfigurationStatus,
  Cycle,
  KeptDeleteResult,
  KeptObject,
  RejectResult,
  StagedDeleteGroup,
} from '../api/model';
import { useSession } from '../app-context';
import { ConfigHeader } from '../components/config-header';
import { DeleteApprovalsCard } from '../components/delete-approvals-card';
import { HeldDeletes } from '../components/held-deletes';
import { KeptObjects } from '../components/kept-objects';
import { NotificationsCard } from '../components/notifications-card';
import { ConfirmDialog, ErrorNotice, KebabMenu, Loading, Notice, StateBadge, type MenuItem } from '../components/ui';
import {
  formatAgo,
  formatTime,
  notificationLabel,
  plural,
  reasonLabel,
  cycleStateLabel,
  thresholdRatio,
  trippedRuleText,
} from '../format';
import { href } from '../routes';
import { useLoad } from '../use-load';

/** While waiting for the state to return to healthy, the page polls this often. */
const FAST_POLL_MS = 3000;
const SLOW_POLL_MS = 10000;

interface Info {
  configuration: Configuration;
  status: ConfigurationStatus;
  cycles: Cycle[];
  /** Agent names by id (empty when the agents could not be read). */
  agentNames: Map<string, string>;
  /** While quarantined: the held deletes by cause and by parent OU. */
  held: { byCause: StagedDeleteGroup[]; byParent: StagedDeleteGroup[] };
  /** Kept objects (deletes an admin kept). */
  kept: KeptObject[];
}

/** The open confirmation: allow all, restart, reject all, allow one parent OU, delete one kept object. */
type Dialog =
  | 'allow'
  | 'restart'
  | 'reject'
  | { kind: 'allowGroup'; parentDn: string; count: number }
  | { kind: 'deleteKept'; kept: KeptObject };

type Outcome =
  | { kind: 'allowed'; result: AllowDeletesResult; healthy: boolean }
  | { kind: 'restarted'; healthy: boolean }
  | { kind: 'rejected'; result: RejectResult; healthy: boolean }
  | { kind: 'keptDeleted'; result: KeptDeleteResult; dn: string }
  | { kind: 'synced'; cycleId: string };

/** Sync status info: state, quarantine details, recent cycles, and the "..." actions. */
export function ConfigurationPage({ id }: { id: string }) {
  const { client, canWrite } = useSession();
  const [dialog, setDialog] = useState<Dialog | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [actionError, setActionError] = useState<Error | null>(null);
  const awaiting =
    (outcome?.kind === 'allowed' || outcome?.kind === 'restarted' || outcome?.kind === 'rejected') && !outcome.healthy;

  const { data, error, reload } = useLoad<Info>(
    async () => {
      const [configuration, status, cycles, agents, kept] = await Promise.all([
        client.getConfiguration(id),
        client.getStatus(id),
        client.listCycles(id, 10).catch(() => [] as Cycle[]),
        client.listAgents().catch(() => [] as Agent[]),
        client.listKept(id).catch(() => [] as KeptObject[]),
      ]);
      const none: StagedDeleteGroup[] = [];
      const [byCause, byParent] =
        status.state === 'quarantined'
          ? await Promise.all([
              client.stagedGroups(id, 'cause').catch(() => none),
              client.stagedGroups(id, 'parent').catch(() => none),
            ])
          : [none, none];
      return {
        configuration,
        status,
        cycles,
        agentNames: new Map(agents.map((a) => [a.id, a.name])),
        held: { byCause, byParent },
        kept,
      };
    },
    [client, id],
    awaiting ? FAST_POLL_MS : SLOW_POLL_MS,
  );

  useEffect(() => {
    setOutcome(null);
  }, [id]);

  useEffect(() => {
    const state = data?.status.state;
    if (awaiting && state === 'healthy') setOutcome({ ...outcome!, healthy: true } as Outcome);
    // A later quarantine makes the last outcome old news.
    else if (!awaiting && outcome && outcome.kind !== 'synced' && state === 'quarantined') setOutcome(null);
  }, [awaiting, data?.status.state]);

  const status = data?.status;
  const q = status?.quarantine ?? null;
  const quarantined = status?.state === 'quarantined';
  const c = data?.configuration;

  const confirm = async () => {
    setBusy(true);
    setDialogError(null);
    try {
      if (dialog === 'allow') {
        const result = await client.allowDeletes(id);
        setOutcome({ kind: 'allowed', result, healthy: false });
      } else if (dialog === 'restart') {
        await client.restart(id);
        setOutcome({ kind: 'restarted', healthy: false });
      } else if (dialog === 'reject') {
        const result = await client.rejectDeletes(id);
        setOutcome({ kind: 'rejected', result, healthy: result.state === 'healthy' });
      } else if (dialog?.kind === 'allowGroup') {
        const result = await client.allowDeletes(id, { parentDns: [dialog.parentDn] });
        setOutcome({ kind: 'allowed', result, healthy: false });
      } else if (dialog?.kind === 'deleteKept') {
        const result = await client.deleteKept(id, [dialog.kept.objectId]);
        setOutcome({ kind: 'keptDeleted', result, dn: dialog.kept.dn });
      }
      setDialog(null);
      await reload();
    } catch (e) {
      setDialogError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const syncNow = async () => {
    setActionError(null);
    try {
      const { cycleId } = await client.startCycle(id);
      setOutcome({ kind: 'synced', cycleId });
      await reload();
    } catch (e) {
      setActionError(e as Error);
    }
  };

  const agentHref = c && c.agentIds.length === 1 ? href({ page: 'agents', id: c.agentIds[0]! }) : href({ page: 'agents' });
  const menu: MenuItem[] = [
    { label: 'View provisioning log', href: href({ page: 'logs', id }), testId: 'menu-logs' },
    { label: 'View agent', href: agentHref, testId: 'menu-agent' },
  ];
  if (canWrite) {
    menu.push(
      {
        label: 'Allow deletes',
        onSelect: () => openDialog('allow'),
        disabled: !quarantined,
        danger: true,
        testId: 'menu-allow-deletes',
      },
      { label: 'Restart', onSelect: () => openDialog('restart'), disabled: !quarantined, testId: 'menu-restart' },
      {
        label: 'Reject deletes (keep them)',
        onSelect: () => openDialog('reject'),
        disabled: !quarantined,
        testId: 'menu-reject',
      },
      { label: 'Sync now', onSelect: () => void syncNow(), disabled: quarantined, testId: 'menu-sync-now' },
    );
  }
  menu.push({
    label: canWrite ? 'Edit settings' : 'View settings',
    href: href({ page: 'settings', id }),
    testId: 'menu-settings',
  });

  function openDialog(which: Dialog) {
    setDialogError(null);
    setDialog(which);
  }

  const actions = (
    <div class="actions">
      {canWrite && quarantined ? (
        <>
          <button type="button" class="btn btn-danger" onClick={() => openDialog('allow')} data-testid="allow-deletes">
            Allow deletes
          </button>
          <button type="button" class="btn" onClick={() => openDialog('reject')} data-testid="reject-deletes">
            Reject deletes
          </button>
          <button type="button" class="btn" onClick={() => openDialog('restart')} data-testid="restart">
            Restart
          </button>
        </>
      ) : null}
      <KebabMenu label="More actions" items={menu} testId="more-actions" />
    </div>
  );

  return (
    <section>
      <ConfigHeader id={id} configuration={c} state={status?.state} tab="status" actions={actions} />
      <ErrorNotice error={error} />
      <ErrorNotice error={actionError} />
      {outcome?.kind === 'allowed' ? (
        <Notice
          tone="ok"
          title={outcome.result.state === 'awaitingApproval' ? 'Approval recorded' : 'Deletes accepted'}
          testId="deletes-accepted"
        >
          {outcome.result.state === 'applied' ? (
            <>
              {plural(outcome.result.deleted, 'object')} {outcome.result.deleted === 1 ? 'was' : 'were'} deleted from the cloud
              directory.{' '}
              {outcome.result.kept ? (
                <span data-testid="kept-count">
                  {plural(outcome.result.kept, 'other staged delete')} {outcome.result.kept === 1 ? 'was' : 'were'} kept: the
                  objects stay (see Kept objects below).{' '}
                </span>
              ) : null}
            </>
          ) : outcome.result.state === 'applying' ? (
            <span data-testid="still-applying">
              {plural(outcome.result.deleteCount, 'delete')} {outcome.result.deleteCount === 1 ? 'is' : 'are'} still being
              applied; the cycle list below shows when it is done.{' '}
            </span>
          ) : (
            <span data-testid="awaiting-approval">
              Your approval is recorded. Nothing is deleted until another admin allows the deletes too (
              {plural(outcome.result.approvalsNeeded, 'approval')} needed).{' '}
            </span>
          )}
          {outcome.result.state === 'awaitingApproval' ? null : outcome.healthy ? (
            <strong data-testid="healthy-again">The status is healthy again.</strong>
          ) : (
            <span data-testid="awaiting-healthy">
              The status returns to healthy with the next cycle; this page refreshes itself every {FAST_POLL_MS / 1000} seconds.
            </span>
          )}
        </Notice>
      ) : null}
      {outcome?.kind === 'restarted' ? (
        <Notice tone="info" title="Restarted" testId="restarted">
          The quarantined cycle was discarded without applying it and a new cycle is running.{' '}
          {outcome.healthy ? (
            <strong data-testid="healthy-again">The status is healthy again.</strong>
          ) : (
            <span>
              If the source still lacks those objects, the configuration is quarantined again. This page refreshes itself every{' '}
              {FAST_POLL_MS / 1000} seconds.
            </span>
          )}
        </Notice>
      ) : null}
      {outcome?.kind === 'rejected' ? (
        <Notice tone="info" title="Deletes rejected" testId="deletes-rejected">
          {plural(outcome.result.kept, 'staged delete')} {outcome.result.kept === 1 ? 'was' : 'were'} kept: the objects stay in
          the cloud directory and trip nothing while they stay out of scope.{' '}
          {outcome.result.state === 'quarantined' ? (
            <span>{plural(outcome.result.left, 'staged delete')} still held.</span>
          ) : outcome.healthy ? (
            <strong data-testid="healthy-again">The status is healthy again.</strong>
          ) : (
            <span>The rest of the cycle is being applied.</span>
          )}
        </Notice>
      ) : null}
      {outcome?.kind === 'keptDeleted' ? (
        <Notice tone="ok" title="Kept object deleted" testId="kept-deleted">
          {outcome.result.state === 'applied' ? (
            <>
              <code>{outcome.dn}</code> was deleted from the cloud directory.
            </>
          ) : outcome.result.state === 'applying' ? (
            <>
              The delete of <code>{outcome.dn}</code> is still being applied.
            </>
          ) : (
            <>Your approval is recorded; another admin must delete it too.</>
          )}
        </Notice>
      ) : null}
      {outcome?.kind === 'synced' ? (
        <Notice tone="info" title="Cycle started" testId="cycle-started">
          Cycle <code>{outcome.cycleId}</code> is running.
        </Notice>
      ) : null}
      {!data && !error ? <Loading /> : null}
      {data && c && status ? (
        <>
          {quarantined && q ? (
            <Notice tone="danger" title="Delete threshold exceeded" testId="quarantine-banner">
              {q.hold === 'deletes' ? (
                <span data-testid="delete-lane">
                  Deletes are held: {plural(q.deleteCount, 'object')} would be deleted from the cloud directory. Creates and
                  updates go on; every cycle since ({plural(q.seriesCount, 'cycle')}) adds its deletes to the held set.{' '}
                </span>
              ) : (
                <>
                  Synchronisation is stopped: the last cycle would delete {plural(q.deleteCount, 'object')} from the cloud
                  directory and the threshold is {q.threshold.toLocaleString('en-US')}. Nothing of that cycle was applied.
                  {q.seriesCount > 1 ? ` Cycles in a row that found it: ${q.seriesCount}.` : ''}{' '}
                </>
              )}
              {q.trippedBy.length > 0 ? (
                <span data-testid="tripped-by">
                  Tripped: {q.trippedBy.map((t) => `${t.rule} (${trippedRuleText(t)})`).join('; ')}.{' '}
                </span>
              ) : null}
              <a href={href({ page: 'logs', id, action: 'StagedDelete', cycleId: q.cycleId })} data-testid="review-staged">
                Review the staged deletes
              </a>
              {canWrite ? ', then allow them or restart.' : '. An admin can allow them or restart.'}
            </Notice>
          ) : null}
          <div class="grid">
            <div class="card" data-testid="status-info">
              <h2>Sync status info</h2>
              <dl class="facts">
                <dt>State</dt>
                <dd>
                  <StateBadge state={status.state} testId="status-state" />
                </dd>
                {status.state === 'error' && status.lastCycle?.error ? (
                  <>
                    <dt>Error</dt>
                    <dd class="text-danger" data-testid="error-reason">
                      {status.lastCycle.error.message} <span class="muted small">({status.lastCycle.error.code})</span>
                    </dd>
                  </>
                ) : null}
                {q ? (
                  <>
                    <dt>Reason</dt>
                    <dd data-testid="reason">{reasonLabel(q.reason)}</dd>
                    <dt>Deletes</dt>
                    <dd>
                      <span data-testid="delete-count">
                        <strong>{q.deleteCount.toLocaleString('en-US')}</strong> staged, threshold{' '}
                        {q.threshold.toLocaleString('en-US')}
                      </span>
                      <Gauge value={q.deleteCount} max={q.threshold} />
                    </dd>
                    <dt>Since</dt>
                    <dd>
                      <span data-testid="since">{formatTime(q.since)}</span> <span class="muted">({formatAgo(q.since)})</span>
                    </dd>
                    <dt>Notification</dt>
                    <dd data-testid="notification">
                      {notificationLabel(q.notification?.status, c.notificationEmail)}
                      {q.notification?.status === 'failed' && q.notification.lastError ? (
                        <div class="small text-danger">
                          {q.notification.lastError} ({plural(q.notification.attempts, 'attempt')})
                        </div>
                      ) : null}
                    </dd>
                  </>
                ) : null}
                <dt>Notification address</dt>
                <dd data-testid="notification-email">{c.notificationEmail ?? <span class="muted">none</span>}</dd>
                <dt>Prevention</dt>
                <dd>
                  {c.accidentalDeletes.enabled
                    ? `On: quarantine at ${c.accidentalDeletes.threshold.toLocaleString('en-US')} deletes or more`
                    : 'Off: deletes are applied whatever their number'}
                </dd>
                <dt>Last cycle</dt>
                <dd>
                  {status.lastCycle ? (
                    <>
                      {cycleStateLabel(status.lastCycle.state)}, started {formatAgo(status.lastCycle.startedAt)}
                    </>
                  ) : (
                    <span class="muted">never ran</span>
                  )}
                </dd>
              </dl>
            </div>
            <div class="card">
              <h2>Source</h2>
              <dl class="facts">
                <dt>Base DN</dt>
                <dd class="mono">{c.source.baseDn}</dd>
                <dt>Filter</dt>
                <dd class="mono">{c.source.filter || <span class="muted">none</span>}</dd>
                <dt>Object types</dt>
                <dd>{c.source.objectTypes.join(', ')}</dd>
                <dt>Interval</dt>
                <dd>every {c.syncIntervalSeconds} s</dd>
                <dt>Agents</dt>
                <dd>
                  {c.agentIds.length === 0 ? <span class="muted">none</span> : null}
                  {c.agentIds.map((a, i) => (
                    <Fragment key={a}>
                      {i > 0 ? ', ' : null}
                      <a href={href({ page: 'agents', id: a })} title={a} data-testid="agent-link">
                        {data.agentNames.get(a) ?? a}
                      </a>
                    </Fragment>
                  ))}
                </dd>
              </dl>
            </div>
          </div>
          {quarantined ? (
            <HeldDeletes
              byCause={data.held.byCause}
              byParent={data.held.byParent}
              onAllowGroup={
                canWrite && q?.reason === 'TooManyDeletes'
                  ? (parentDn, count) => openDialog({ kind: 'allowGroup', parentDn, count })
                  : undefined
              }
            />
          ) : null}
          <KeptObjects items={data.kept} onDelete={canWrite ? (kept) => openDialog({ kind: 'deleteKept', kept }) : undefined} />
          <NotificationsCard id={id} events={status.notifications ?? []} canWrite={canWrite} />
          <DeleteApprovalsCard id={id} canWrite={canWrite} />
          <CyclesTable id={id} cycles={data.cycles} />
        </>
      ) : null}
      {dialog === 'allow' && c && q ? (
        <ConfirmDialog
          title="Allow deletes?"
          danger
          busy={busy}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={() => setDialog(null)}
          testId="allow-dialog"
        >
          <p data-testid="allow-dialog-count">
            <strong>{plural(q.deleteCount, 'object')}</strong> will be deleted from the cloud directory for{' '}
            <strong>{c.name}</strong>.
          </p>
          <p class="muted">
            These are the staged deletes of the quarantined cycle (threshold {q.threshold.toLocaleString('en-US')}). This cannot
            be undone from syncguard. Do you want to allow them?
          </p>
        </ConfirmDialog>
      ) : null}
      {dialog === 'reject' && c && q ? (
        <ConfirmDialog
          title="Reject these deletes?"
          busy={busy}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={() => setDialog(null)}
          testId="reject-dialog"
        >
          <p>
            The {plural(q.deleteCount, 'staged delete')} of <strong>{c.name}</strong> {q.deleteCount === 1 ? 'is' : 'are'}{' '}
            <strong>not</strong> applied: the objects stay in the cloud directory as kept objects, and the rest of the cycle
            (creates, updates) is applied.
          </p>
          <p class="muted">Kept objects trip nothing while they stay out of scope, and can be deleted later one by one.</p>
        </ConfirmDialog>
      ) : null}
      {typeof dialog === 'object' && dialog?.kind === 'allowGroup' && c && q ? (
        <ConfirmDialog
          title="Allow the deletes of this OU?"
          danger
          busy={busy}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={() => setDialog(null)}
          testId="allow-group-dialog"
        >
          <p data-testid="allow-group-count">
            <strong>{plural(dialog.count, 'object')}</strong> under <code>{dialog.parentDn}</code> (its sub-OUs included) will be
            deleted from the cloud directory for <strong>{c.name}</strong>.
          </p>
          <p class="muted">
            The other {plural(Math.max(q.deleteCount - dialog.count, 0), 'staged delete')} become kept objects: they stay. This
            cannot be undone from syncguard.
          </p>
        </ConfirmDialog>
      ) : null}
      {typeof dialog === 'object' && dialog?.kind === 'deleteKept' && c ? (
        <ConfirmDialog
          title="Delete this kept object?"
          danger
          busy={busy}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={() => setDialog(null)}
          testId="delete-kept-dialog"
        >
          <p>
            <code>{dialog.kept.dn}</code> will be deleted from the cloud directory for <strong>{c.name}</strong>. The delete is
            recorded in the audit log.
          </p>
        </ConfirmDialog>
      ) : null}
      {dialog === 'restart' && c && q ? (
        <ConfirmDialog
          title="Restart synchronisation?"
          busy={busy}
          error={dialogError}
          onConfirm={() => void confirm()}
          onCancel={() => setDialog(null)}
          testId="restart-dialog"
        >
          <p>
            The quarantined cycle of <strong>{c.name}</strong> is discarded: its {plural(q.deleteCount, 'staged delete')}{' '}
            {q.deleteCount === 1 ? 'is' : 'are'} <strong>not</strong> applied, and a new cycle runs.
          </p>
          <p class="muted">
            If the source has been fixed, the deletes are gone; if not, the configuration is quarantined again. Restart now?
          </p>
        </ConfirmDialog>
      ) : null}
    </section>
  );
}

function Gauge({ value, max }: { value: number; max: number }) {
  const ratio = thresholdRatio(value, max);
  return (
    <div
      class={`gauge ${ratio >= 1 ? 'gauge-over' : ''}`}
      role="img"
      aria-label={`${value} deletes, ${Math.round(ratio * 100)}% of the threshold`}
    >
      <div class="gauge-fill" style={{ width: `${Math.min(100, ratio * 100)}%` }} />
    </div>
  );
}

function CyclesTable({ id, cycles }: { id: string; cycles: Cycle[] }) {
  return (
    <div class="card">
      <h2>Last cycles</h2>
      {cycles.length === 0 ? (
        <p class="muted">No cycle yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="table" data-testid="cycles">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">State</th>
                <th scope="col">Trigger</th>
                <th scope="col" class="num">
                  Creates
                </th>
                <th scope="col" class="num">
                  Updates
                </th>
                <th scope="col" class="num">
                  Deletes
                </th>
                <th scope="col">Completed</th>
                <th scope="col">
                  <span class="sr-only">Log</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {cycles.map((cy) => (
                <tr key={cy.id} data-testid="cycle-row" data-state={cy.state}>
                  <td title={cy.id}>{formatTime(cy.startedAt)}</td>
                  <td>
                    <StateBadge state={cy.state} cycle />
                    {cy.error ? <div class="small text-danger">{cy.error.message}</div> : null}
                  </td>
                  <td>
                    {cy.trigger ?? '—'}
                    {cy.mode ? <span class="muted small"> · {cy.mode}</span> : null}
                  </td>
                  <td class="num">{cy.counts.create}</td>
                  <td class="num">{cy.counts.update}</td>
                  <td class={`num ${cy.state === 'quarantined' ? 'text-danger strong' : ''}`}>{cy.counts.delete}</td>
                  <td>{formatTime(cy.completedAt)}</td>
                  <td>
                    <a
                      href={href({
                        page: 'logs',
                        id,
                        cycleId: cy.id,
                        action: cy.state === 'quarantined' ? 'StagedDelete' : undefined,
                      })}
                      aria-label={`Provisioning log of the cycle started ${formatTime(cy.startedAt)}`}
                    >
                      Log
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

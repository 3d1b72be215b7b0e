import { useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { DeleteApproval } from '../api/model';
import { useSession } from '../app-context';
import { approvalStateLabel, formatTime, plural } from '../format';
import { href } from '../routes';
import { useLoad } from '../use-load';
import { ConfirmDialog, ErrorNotice, Loading } from './ui';

type Field = 'maxDeletes' | 'expiresInHours' | 'reason';

const EMPTY_FORM = { maxDeletes: '', expiresInHours: '24', reason: '' };

/** Reads a number input: the number, or the text itself (the API then names the field) when it is not one. */
function numberOf(text: string): number | string {
  const t = text.trim();
  return t !== '' && Number.isFinite(Number(t)) ? Number(t) : t;
}

/**
 * Pre-approvals of a configuration (the contract's `delete-approvals`): a planned change
 * approved ahead with a ceiling and an expiry, used once by the first cycle within it. Lists
 * them (ceiling, expiry, reason, the cycle that used one); admins create and revoke them.
 */
export function DeleteApprovalsCard({ id, canWrite }: { id: string; canWrite: boolean }) {
  const { client } = useSession();
  const { data, error, reload } = useLoad<DeleteApproval[]>(() => client.listDeleteApprovals(id), [client, id], 10_000);
  const [form, setForm] = useState(EMPTY_FORM);
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [formError, setFormError] = useState<Error | null>(null);
  const [saving, setSaving] = useState(false);
  const [created, setCreated] = useState<DeleteApproval | null>(null);
  const [revoking, setRevoking] = useState<DeleteApproval | null>(null);
  const [revokeError, setRevokeError] = useState<string | null>(null);
  const [revokeBusy, setRevokeBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFormError(null);
    setCreated(null);
    setSaving(true);
    try {
      const approval = await client.createDeleteApproval(id, {
        maxDeletes: numberOf(form.maxDeletes) as number,
        expiresInHours: numberOf(form.expiresInHours) as number,
        reason: form.reason,
      });
      setCreated(approval);
      setForm(EMPTY_FORM);
      await reload();
    } catch (err) {
      const field = err instanceof ApiError ? err.field : null;
      if (err instanceof ApiError && (field === 'maxDeletes' || field === 'expiresInHours' || field === 'reason'))
        setErrors({ [field]: err.detail });
      else setFormError(err as Error);
    } finally {
      setSaving(false);
    }
  };

  const revoke = async () => {
    if (!revoking) return;
    setRevokeBusy(true);
    setRevokeError(null);
    try {
      await client.revokeDeleteApproval(id, revoking.id);
      setRevoking(null);
      await reload();
    } catch (err) {
      setRevokeError((err as Error).message);
    } finally {
      setRevokeBusy(false);
    }
  };

  const input = (field: Field, label: string, help: string, type: 'number' | 'text') => (
    <div class="field">
      <label for={`approval-${field}`}>{label}</label>
      <input
        id={`approval-${field}`}
        type="text"
        inputMode={type === 'number' ? 'decimal' : undefined}
        maxLength={type === 'text' ? 500 : undefined}
        value={form[field]}
        onInput={(e) => setForm({ ...form, [field]: (e.target as HTMLInputElement).value })}
        aria-invalid={errors[field] ? 'true' : undefined}
        aria-describedby={[errors[field] ? `approval-${field}-error` : '', `approval-${field}-help`].filter(Boolean).join(' ')}
        data-testid={`approval-${field}-input`}
      />
      <p id={`approval-${field}-help`} class="help">
        {help}
      </p>
      {errors[field] ? (
        <p id={`approval-${field}-error`} class="field-error" role="alert" data-testid={`approval-error-${field}`}>
          {errors[field]}
        </p>
      ) : null}
    </div>
  );

  return (
    <div class="card" data-testid="delete-approvals">
      <h2>Pre-approved deletes</h2>
      <p class="muted small">
        A planned change (an OU retired, a filter narrowed) approved ahead: the first cycle the guard would stop with at most that
        many deletes, before the approval expires, is applied instead, once. Protected objects are never let through.
      </p>
      <ErrorNotice error={error} />
      {!data && !error ? <Loading what="Loading the pre-approvals" /> : null}
      {data && data.length === 0 ? (
        <p class="muted" data-testid="no-approvals">
          No pre-approval.
        </p>
      ) : null}
      {data && data.length > 0 ? (
        <div class="table-wrap">
          <table class="table" data-testid="approvals">
            <thead>
              <tr>
                <th scope="col" class="num">
                  Up to
                </th>
                <th scope="col">Expires</th>
                <th scope="col">Reason</th>
                <th scope="col">State</th>
                <th scope="col">Used by</th>
                {canWrite ? (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {data.map((a) => (
                <tr key={a.id} data-testid="approval-row" data-state={a.state} data-approval-id={a.id}>
                  <td class="num" data-testid="approval-max">
                    {plural(a.maxDeletes, 'delete')}
                  </td>
                  <td data-testid="approval-expires">{formatTime(a.expiresAt)}</td>
                  <td data-testid="approval-reason">
                    {a.reason}
                    <div class="muted small">by {a.createdBy}</div>
                  </td>
                  <td data-testid="approval-state">{approvalStateLabel(a.state)}</td>
                  <td data-testid="approval-used-by">
                    {a.cycleId ? (
                      <>
                        <a href={href({ page: 'logs', id, cycleId: a.cycleId })} title={a.cycleId}>
                          cycle {a.cycleId.slice(0, 8)}
                        </a>
                        {a.usedDeletes !== null ? `, ${plural(a.usedDeletes, 'delete')}` : ''}
                        {a.usedAt ? <div class="muted small">{formatTime(a.usedAt)}</div> : null}
                      </>
                    ) : (
                      <span class="muted">—</span>
                    )}
                  </td>
                  {canWrite ? (
                    <td>
                      {a.state === 'active' ? (
                        <button
                          type="button"
                          class="btn"
                          onClick={() => {
                            setRevokeError(null);
                            setRevoking(a);
                          }}
                          data-testid="approval-revoke"
                        >
                          Revoke
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {canWrite ? (
        <form onSubmit={(e) => void submit(e)} noValidate data-testid="approval-form">
          <h3>Approve a planned change</h3>
          <fieldset disabled={saving}>
            {input('maxDeletes', 'Most deletes', 'The cycle is let through only with at most this many deletes.', 'number')}
            {input('expiresInHours', 'Expires in (hours)', 'Up to 720 hours (30 days); unused, it then expires.', 'number')}
            {input('reason', 'Reason', 'Recorded with the approval, on the cycle that uses it and in the audit log.', 'text')}
            <button type="submit" class="btn" data-testid="approval-create">
              Approve ahead
            </button>
          </fieldset>
          <ErrorNotice error={formError} />
          {created ? (
            <p class="small" role="status" data-testid="approval-created">
              Approved: the next cycle with at most {plural(created.maxDeletes, 'delete')} before {formatTime(created.expiresAt)}{' '}
              is applied without quarantine.
            </p>
          ) : null}
        </form>
      ) : null}
      {revoking ? (
        <ConfirmDialog
          title="Revoke the pre-approval?"
          busy={revokeBusy}
          error={revokeError}
          onConfirm={() => void revoke()}
          onCancel={() => setRevoking(null)}
          testId="revoke-dialog"
        >
          <p>
            The approval of up to <strong>{plural(revoking.maxDeletes, 'delete')}</strong> ({revoking.reason}) is revoked: a cycle
            over the threshold is quarantined as usual.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api/client';
import type { Configuration, ConfigurationPatch, ConfigurationStatus, Preview } from '../api/model';
import { useSession } from '../app-context';
import { ConfigHeader } from '../components/config-header';
import { PreviewResult } from '../components/preview-result';
import { ErrorNotice, Loading, Notice } from '../components/ui';
import {
  notificationsPatchOf,
  policyFormOf,
  policyPatchOf,
  settingsFieldOf,
  sourcePatchOf,
  thresholdValue,
  type PolicyField,
  type PolicyForm,
  type SettingsField,
} from '../settings-form';
import { useLoad } from '../use-load';

interface Form extends PolicyForm {
  /** The scope: search base, extra filter, object types. */
  baseDn: string;
  filter: string;
  users: boolean;
  groups: boolean;
  notificationEmail: string;
  /** One address a line. */
  notifyEmails: string;
  /** One URL a line. */
  webhooks: string;
  /** Write-only: empty unless typed. */
  webhookSecret: string;
  enabled: boolean;
  threshold: string;
  countDisables: boolean;
  /** `hold: "deletes"`, the delete lane. */
  holdDeletes: boolean;
}

function formOf(c: Configuration): Form {
  return {
    baseDn: c.source.baseDn,
    filter: c.source.filter,
    users: c.source.objectTypes.includes('user'),
    groups: c.source.objectTypes.includes('group'),
    notificationEmail: c.notificationEmail ?? '',
    notifyEmails: (c.notifications?.emails ?? []).join('\n'),
    webhooks: (c.notifications?.webhooks ?? []).map((w) => w.url).join('\n'),
    webhookSecret: '',
    enabled: c.accidentalDeletes.enabled,
    threshold: String(c.accidentalDeletes.threshold),
    countDisables: c.accidentalDeletes.countDisables ?? false,
    holdDeletes: c.accidentalDeletes.hold === 'deletes',
    ...policyFormOf(c.accidentalDeletes),
  };
}

/** One input of a delete policy rule: its label, help and the API's message for it. */
interface RuleInput {
  field: PolicyField;
  label: string;
  help: string;
  /** A list, one item a line (a textarea). */
  list?: boolean;
}

const RULE_GROUPS: { legend: string; inputs: RuleInput[] }[] = [
  {
    legend: 'Share of the directory',
    inputs: [
      {
        field: 'percentage',
        label: 'Percentage of the objects held',
        help: 'Quarantine when the deletes reach this share (percent) of the objects the target holds. Empty: off.',
      },
      {
        field: 'minimumObjects',
        label: 'Minimum objects for percentages',
        help: 'The percentages apply only while the target holds at least this many objects (of the type). Empty: 100.',
      },
    ],
  },
  {
    legend: 'Per object type',
    inputs: [
      { field: 'userThreshold', label: 'User deletes threshold', help: 'Empty: off.' },
      { field: 'userPercentage', label: 'User deletes percentage', help: 'Percent of the users held. Empty: off.' },
      { field: 'groupThreshold', label: 'Group deletes threshold', help: 'Empty: off.' },
      { field: 'groupPercentage', label: 'Group deletes percentage', help: 'Percent of the groups held. Empty: off.' },
    ],
  },
  {
    legend: 'Rolling window',
    inputs: [
      { field: 'windowHours', label: 'Window hours', help: 'From 1 to 720. Both empty: off.' },
      {
        field: 'windowThreshold',
        label: 'Window deletes threshold',
        help: 'Quarantine when the deletes applied in the window plus this cycle’s reach this number.',
      },
    ],
  },
  {
    legend: 'Group memberships',
    inputs: [
      {
        field: 'memberRemovals',
        label: 'Member removals threshold',
        help: 'Quarantine when a cycle removes this many memberships from groups that stay. Empty: off. Not with “hold only the deletes”.',
      },
    ],
  },
  {
    legend: 'Protected objects',
    inputs: [
      {
        field: 'dnSuffixes',
        label: 'Protected DN suffixes',
        help: 'One DN a line: deleting (or, counted, disabling) an object at or under one always quarantines.',
        list: true,
      },
      { field: 'objectIds', label: 'Protected object ids', help: 'One id a line (entryUUID, objectGUID).', list: true },
    ],
  },
];

/** The PATCH the form stands for (its scope only when changed). */
function patchOf(form: Form, c: Configuration): ConfigurationPatch {
  const source = sourcePatchOf(form, c.source);
  return {
    ...(source ? { source } : {}),
    notificationEmail: form.notificationEmail.trim() === '' ? null : form.notificationEmail.trim(),
    notifications: notificationsPatchOf(form.notifyEmails, form.webhooks, form.webhookSecret),
    accidentalDeletes: {
      enabled: form.enabled,
      threshold: thresholdValue(form.threshold) as number,
      countDisables: form.countDisables,
      hold: form.holdDeletes ? 'deletes' : 'cycle',
      ...policyPatchOf(form),
    },
  };
}

/**
 * The scope, notification email, "Prevent accidental deletions", the threshold and the
 * other delete policy rules, saved with PATCH. "Preview" (before "Save") asks the agent to
 * read the source with the form's settings and shows what the change would do, applying nothing.
 */
export function SettingsPage({ id }: { id: string }) {
  const { client, canWrite } = useSession();
  const loaded = useLoad<{ configuration: Configuration; status: ConfigurationStatus }>(async () => {
    const [configuration, status] = await Promise.all([client.getConfiguration(id), client.getStatus(id)]);
    return { configuration, status };
  }, [client, id]);
  const c = loaded.data?.configuration;
  const [form, setForm] = useState<Form | null>(null);
  const [errors, setErrors] = useState<Partial<Record<SettingsField, string>>>({});
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [previewing, setPreviewing] = useState(false);

  useEffect(() => {
    if (c && !form) setForm(formOf(c));
  }, [c]);

  const set = (patch: Partial<Form>) => {
    setForm({ ...form!, ...patch });
    setSaved(false);
  };

  /** Shows an API error at the field it names (a 400), else above the buttons. */
  const showError = (err: unknown) => {
    const field = err instanceof ApiError ? settingsFieldOf(err.field) : null;
    if (err instanceof ApiError && err.status === 400) setErrors({ [field ?? 'form']: field ? err.detail : err.message });
    else setErrors({ form: (err as Error).message });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!form || !c) return;
    setSaving(true);
    setErrors({});
    setSaved(false);
    try {
      const updated = await client.updateConfiguration(id, patchOf(form, c));
      setForm(formOf(updated));
      setSaved(true);
      setPreview(null);
      await loaded.reload();
    } catch (err) {
      showError(err);
    } finally {
      setSaving(false);
    }
  };

  const runPreview = async () => {
    if (!form || !c) return;
    setPreviewing(true);
    setErrors({});
    setSaved(false);
    setPreview(null);
    try {
      const { previewId } = await client.startPreview(id, patchOf(form, c));
      let p = await client.getPreview(id, previewId);
      setPreview(p);
      while (p.state === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 500));
        p = await client.getPreview(id, previewId);
        setPreview(p);
      }
    } catch (err) {
      showError(err);
    } finally {
      setPreviewing(false);
    }
  };

  const describedBy = (field: SettingsField, help?: string) =>
    [errors[field] ? `${field}-error` : '', help ?? ''].filter(Boolean).join(' ') || undefined;
  const fieldError = (field: SettingsField) =>
    errors[field] ? (
      <p id={`${field}-error`} class="field-error" role="alert" data-testid={`error-${field}`}>
        {errors[field]}
      </p>
    ) : null;

  return (
    <section>
      <ConfigHeader id={id} configuration={c} state={loaded.data?.status.state} tab="settings" />
      <ErrorNotice error={loaded.error} />
      {!form && !loaded.error ? <Loading /> : null}
      {form ? (
        <form class="card settings" onSubmit={submit} noValidate data-testid="settings-form">
          <h2>Settings</h2>
          {!canWrite ? (
            <Notice tone="info" testId="read-only">
              You are signed in with a reader token: settings are shown read-only.
            </Notice>
          ) : null}
          <fieldset disabled={!canWrite || saving}>
            <fieldset class="rule-group">
              <legend>Scope</legend>
              <div class="field">
                <label for="baseDn">Base DN</label>
                <input
                  id="baseDn"
                  type="text"
                  spellcheck={false}
                  value={form.baseDn}
                  onInput={(e) => set({ baseDn: (e.target as HTMLInputElement).value })}
                  aria-invalid={errors.baseDn ? 'true' : undefined}
                  aria-describedby={describedBy('baseDn', 'baseDn-help')}
                  data-testid="base-dn-input"
                />
                <p id="baseDn-help" class="help">
                  The entries below it are in scope. A change of the scope can delete many objects: preview it first.
                </p>
                {fieldError('baseDn')}
              </div>
              <div class="field">
                <label for="filter">LDAP filter</label>
                <input
                  id="filter"
                  type="text"
                  spellcheck={false}
                  value={form.filter}
                  onInput={(e) => set({ filter: (e.target as HTMLInputElement).value })}
                  aria-invalid={errors.filter ? 'true' : undefined}
                  aria-describedby={describedBy('filter', 'filter-help')}
                  data-testid="filter-input"
                />
                <p id="filter-help" class="help">
                  An extra condition entries must match, e.g. (departmentNumber=7). Empty: none.
                </p>
                {fieldError('filter')}
              </div>
              <div class="field field-check">
                <input
                  id="scopeUsers"
                  type="checkbox"
                  checked={form.users}
                  onChange={(e) => set({ users: (e.target as HTMLInputElement).checked })}
                  data-testid="scope-users-checkbox"
                />
                <label for="scopeUsers">Users</label>
              </div>
              <div class="field field-check">
                <input
                  id="scopeGroups"
                  type="checkbox"
                  checked={form.groups}
                  onChange={(e) => set({ groups: (e.target as HTMLInputElement).checked })}
                  aria-describedby={describedBy('objectTypes')}
                  data-testid="scope-groups-checkbox"
                />
                <label for="scopeGroups">Groups</label>
                {fieldError('objectTypes')}
              </div>
            </fieldset>
            <div class="field">
              <label for="notificationEmail">Notification email</label>
              <input
                id="notificationEmail"
                type="email"
                autocomplete="email"
                value={form.notificationEmail}
                onInput={(e) => set({ notificationEmail: (e.target as HTMLInputElement).value })}
                aria-invalid={errors.notificationEmail ? 'true' : undefined}
                aria-describedby={describedBy('notificationEmail', 'notificationEmail-help')}
                data-testid="notification-email-input"
              />
              <p id="notificationEmail-help" class="help">
                Receives one email when a cycle is quarantined. Leave empty for nobody.
              </p>
              {fieldError('notificationEmail')}
            </div>
            <div class="field">
              <label for="notifyEmails">More recipients</label>
              <textarea
                id="notifyEmails"
                rows={3}
                value={form.notifyEmails}
                onInput={(e) => set({ notifyEmails: (e.target as HTMLTextAreaElement).value })}
                aria-invalid={errors.notifyEmails ? 'true' : undefined}
                aria-describedby={describedBy('notifyEmails', 'notifyEmails-help')}
                data-testid="notify-emails-input"
              />
              <p id="notifyEmails-help" class="help">
                One address a line (at most 20 with the one above): every event goes to each, once.
              </p>
              {fieldError('notifyEmails')}
            </div>
            <div class="field">
              <label for="webhooks">Webhooks</label>
              <textarea
                id="webhooks"
                rows={2}
                value={form.webhooks}
                onInput={(e) => set({ webhooks: (e.target as HTMLTextAreaElement).value })}
                aria-invalid={errors.webhooks ? 'true' : undefined}
                aria-describedby={describedBy('webhooks', 'webhooks-help')}
                data-testid="webhooks-input"
              />
              <p id="webhooks-help" class="help">
                One URL a line (at most 5): each event is POSTed as JSON, signed with HMAC-SHA256 in X-Syncguard-Signature.
              </p>
              {fieldError('webhooks')}
            </div>
            <div class="field">
              <label for="webhookSecret">Webhook secret</label>
              <input
                id="webhookSecret"
                type="password"
                autocomplete="new-password"
                value={form.webhookSecret}
                onInput={(e) => set({ webhookSecret: (e.target as HTMLInputElement).value })}
                aria-invalid={errors.webhookSecret ? 'true' : undefined}
                aria-describedby={describedBy('webhookSecret', 'webhookSecret-help')}
                data-testid="webhook-secret-input"
              />
              <p id="webhookSecret-help" class="help">
                {(c?.notifications?.webhooks ?? []).some((w) => w.secretSet) ? 'Secrets are set and never shown. ' : ''}
                Typed here (16 characters or more), it is set for every URL above; left empty, each URL keeps its secret (a new
                URL needs one).
              </p>
              {fieldError('webhookSecret')}
            </div>
            <div class="field field-check">
              <input
                id="enabled"
                type="checkbox"
                checked={form.enabled}
                onChange={(e) => set({ enabled: (e.target as HTMLInputElement).checked })}
                aria-describedby={describedBy('enabled', 'enabled-help')}
                data-testid="prevent-checkbox"
              />
              <label for="enabled">Prevent accidental deletions</label>
              <p id="enabled-help" class="help">
                Stop a cycle whose deletes reach the threshold, and wait for an admin to allow them.
              </p>
              {fieldError('enabled')}
            </div>
            <div class="field">
              <label for="threshold">Accidental deletion threshold</label>
              <input
                id="threshold"
                type="number"
                inputMode="numeric"
                min={1}
                step={1}
                value={form.threshold}
                onInput={(e) => set({ threshold: (e.target as HTMLInputElement).value })}
                aria-invalid={errors.threshold ? 'true' : undefined}
                aria-describedby={describedBy('threshold', 'threshold-help')}
                data-testid="threshold-input"
              />
              <p id="threshold-help" class="help">
                A cycle is quarantined when its deletes are greater than or equal to this number.
              </p>
              {fieldError('threshold')}
            </div>
            <div class="field field-check">
              <input
                id="countDisables"
                type="checkbox"
                checked={form.countDisables}
                onChange={(e) => set({ countDisables: (e.target as HTMLInputElement).checked })}
                aria-describedby="countDisables-help"
              />
              <label for="countDisables">Count accounts disabled at the source as deletes</label>
              <p id="countDisables-help" class="help">
                Off by default.
              </p>
              {fieldError('countDisables')}
            </div>
            <div class="field field-check">
              <input
                id="hold"
                type="checkbox"
                checked={form.holdDeletes}
                onChange={(e) => set({ holdDeletes: (e.target as HTMLInputElement).checked })}
                aria-invalid={errors.hold ? 'true' : undefined}
                aria-describedby={describedBy('hold', 'hold-help')}
                data-testid="hold-deletes-checkbox"
              />
              <label for="hold">Hold only the deletes (the delete lane)</label>
              <p id="hold-help" class="help">
                A quarantine applies creates and updates at once and holds the deletes; later cycles keep running and add their
                deletes until an admin decides. Off: nothing of the quarantined cycle is applied.
              </p>
              {fieldError('hold')}
            </div>
            {RULE_GROUPS.map((group) => (
              <fieldset class="rule-group" key={group.legend}>
                <legend>{group.legend}</legend>
                {group.inputs.map(({ field, label, help, list }) => {
                  const props = {
                    id: field,
                    value: form[field],
                    onInput: (e: Event) => set({ [field]: (e.target as HTMLInputElement).value }),
                    'aria-invalid': errors[field] ? ('true' as const) : undefined,
                    'aria-describedby': describedBy(field, `${field}-help`),
                    'data-testid': `${field}-input`,
                  };
                  return (
                    <div class="field" key={field}>
                      <label for={field}>{label}</label>
                      {list ? (
                        <textarea rows={3} spellcheck={false} {...props} />
                      ) : (
                        <input type="text" inputMode="decimal" {...props} />
                      )}
                      <p id={`${field}-help`} class="help">
                        {help}
                      </p>
                      {fieldError(field)}
                    </div>
                  );
                })}
              </fieldset>
            ))}
          </fieldset>
          {fieldError('form')}
          {preview ? <PreviewResult preview={preview} /> : null}
          {saved ? (
            <Notice tone="ok" testId="saved">
              Settings saved.
            </Notice>
          ) : null}
          {canWrite ? (
            <div class="form-actions">
              <button
                type="button"
                class="btn"
                disabled={saving || previewing}
                onClick={() => void runPreview()}
                data-testid="preview-settings"
              >
                {previewing ? 'Previewing…' : 'Preview'}
              </button>
              <button type="submit" class="btn btn-primary" disabled={saving || previewing} data-testid="save-settings">
                {saving ? 'Saving…' : 'Save'}
              </button>
              <button
                type="button"
                class="btn"
                disabled={saving}
                onClick={() => {
                  if (c) setForm(formOf(c));
                  setErrors({});
                  setSaved(false);
                  setPreview(null);
                }}
              >
                Reset
              </button>
            </div>
          ) : null}
        </form>
      ) : null}
    </section>
  );
}

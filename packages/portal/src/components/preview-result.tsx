import type { Preview } from '../api/model';
import { causeLabel, plural, trippedRuleText } from '../format';
import { Notice } from './ui';

/** A preview's result under the settings form: the counts, the guard's verdict and its rules, a sample of the deletes. */
export function PreviewResult({ preview }: { preview: Preview }) {
  if (preview.state === 'running') {
    return (
      <Notice tone="info" testId="preview-running">
        Previewing: the agent is reading the source ({plural(preview.objects, 'object')} so far)…
      </Notice>
    );
  }
  if (preview.state === 'failed') {
    return (
      <Notice tone="danger" testId="preview-failed">
        The preview failed: {preview.error?.message ?? 'unknown error'} ({preview.error?.code ?? 'ERROR'}). Nothing was changed.
      </Notice>
    );
  }
  const c = preview.counts!;
  const sample = preview.deletes?.sample ?? [];
  return (
    <div class="card preview-result" data-testid="preview-result">
      <h3>Preview: what this change would do</h3>
      <p data-testid="preview-counts">
        {plural(c.create, 'create')}, {plural(c.update, 'update')}, {plural(c.delete, 'delete')} (
        {plural(preview.objects, 'object')} in the proposed scope). Nothing was applied.
      </p>
      {preview.wouldQuarantine ? (
        <Notice tone="warn" testId="preview-would-quarantine">
          The first cycle after saving would be quarantined: {preview.trippedBy.map(trippedRuleText).join('; ')}.
        </Notice>
      ) : (
        <Notice tone="ok" testId="preview-no-quarantine">
          {preview.approvalId
            ? `Would not be quarantined: pre-approval ${preview.approvalId} covers ${preview.trippedBy.map(trippedRuleText).join('; ')}.`
            : 'Would not be quarantined.'}
        </Notice>
      )}
      {preview.notPreviewed.length > 0 ? (
        <p class="help">Not previewed: {preview.notPreviewed.join(', ')} (the real cycle weighs it).</p>
      ) : null}
      {sample.length > 0 ? (
        <>
          <p>
            {sample.length < (preview.deletes?.total ?? 0)
              ? `The first ${sample.length} of ${preview.deletes!.total} deletes:`
              : `The ${plural(sample.length, 'delete')}:`}
          </p>
          <ul class="preview-deletes" data-testid="preview-deletes">
            {sample.map((d) => (
              <li key={d.objectId}>
                <code>{d.dn}</code>{' '}
                <span class="muted">
                  ({d.objectType}, {causeLabel(d.cause)})
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}

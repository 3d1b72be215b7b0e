import type { StagedDeleteGroup } from '../api/model';
import { causeLabel, subtreeCount } from '../format';

/**
 * A quarantine's held deletes in the sync status info: by cause and by parent OU, each
 * group with its count and an example ("412 moved out of scope", "150 in ou=sales").
 */
export function HeldDeletes({
  byCause,
  byParent,
  onAllowGroup,
}: {
  byCause: StagedDeleteGroup[];
  byParent: StagedDeleteGroup[];
  /** Admins: release one parent OU's deletes (its sub-OUs included); the others become kept objects. */
  onAllowGroup?: (parentDn: string, count: number) => void;
}) {
  if (byCause.length === 0 && byParent.length === 0) return null;
  return (
    <div class="card" data-testid="held-deletes">
      <h2>What the quarantine holds</h2>
      <div class="grid">
        <GroupList title="By cause" groups={byCause} label={(g) => causeLabel(g.key)} testId="held-by-cause" />
        <GroupList
          title="By parent OU"
          groups={byParent.slice(0, 10)}
          label={(g) => g.key || '(root)'}
          testId="held-by-parent"
          mono
          action={
            onAllowGroup
              ? (g) => {
                  const count = subtreeCount(byParent, g.key);
                  return (
                    <button
                      type="button"
                      class="btn btn-small btn-danger"
                      onClick={() => onAllowGroup(g.key, count)}
                      data-testid="allow-group"
                    >
                      Allow these {count.toLocaleString('en-US')}
                    </button>
                  );
                }
              : undefined
          }
        />
      </div>
      {byParent.length > 10 ? <p class="muted small">and {byParent.length - 10} more parent OUs</p> : null}
    </div>
  );
}

function GroupList({
  title,
  groups,
  label,
  testId,
  mono = false,
  action,
}: {
  title: string;
  groups: StagedDeleteGroup[];
  label: (g: StagedDeleteGroup) => string;
  testId: string;
  mono?: boolean;
  action?: (g: StagedDeleteGroup) => preact.ComponentChildren;
}) {
  return (
    <div>
      <h3 class="small">{title}</h3>
      <ul class="group-list" data-testid={testId}>
        {groups.map((g) => (
          <li key={g.key} data-testid="held-group" data-key={g.key}>
            <strong data-testid="held-count">{g.count.toLocaleString('en-US')}</strong>{' '}
            <span class={mono ? 'mono' : ''}>{label(g)}</span>
            {action ? <> {action(g)}</> : null}
            {g.sample[0] ? <div class="muted small mono">e.g. {g.sample[0].dn}</div> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

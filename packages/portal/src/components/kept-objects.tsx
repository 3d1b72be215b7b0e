import type { KeptObject } from '../api/model';
import { causeLabel, formatTime, plural } from '../format';

/**
 * Kept objects: staged deletes an admin kept. They stay in the cloud directory and trip
 * nothing while out of scope; they leave the list when they come back in scope. An admin
 * can delete one explicitly (audited).
 */
export function KeptObjects({ items, onDelete }: { items: KeptObject[]; onDelete?: (k: KeptObject) => void }) {
  if (items.length === 0) return null;
  return (
    <div class="card" data-testid="kept-objects">
      <h2>Kept objects</h2>
      <p class="muted small">
        {plural(items.length, 'object')} kept from earlier quarantines: they stay in the cloud directory and trip nothing while
        they stay out of scope.
      </p>
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">DN</th>
              <th scope="col">Cause</th>
              <th scope="col">Kept</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((k) => (
              <tr key={k.objectId} data-testid="kept-row" data-id={k.objectId}>
                <td class="mono">{k.dn}</td>
                <td>{causeLabel(k.cause)}</td>
                <td>{formatTime(k.keptAt)}</td>
                <td>
                  {onDelete ? (
                    <button type="button" class="btn btn-small btn-danger" onClick={() => onDelete(k)} data-testid="delete-kept">
                      Delete
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

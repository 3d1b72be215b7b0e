import { useState } from 'preact/hooks';
import type { NotificationEventView } from '../api/model';
import { useSession } from '../app-context';
import { deliveriesLabel, formatTime } from '../format';

/** The newest notification events of a configuration and how each delivery went; admins can send a test. */
export function NotificationsCard({ id, events, canWrite }: { id: string; events: NotificationEventView[]; canWrite: boolean }) {
  const { client } = useSession();
  const [note, setNote] = useState<string | null>(null);
  const test = async () => {
    try {
      const sent = await client.testNotifications(id);
      setNote(
        `Test event sent to ${sent.deliveries} recipient${sent.deliveries === 1 ? '' : 's'}; it shows here in a few seconds.`,
      );
    } catch (e) {
      setNote((e as Error).message);
    }
  };
  return (
    <div class="card" data-testid="notifications">
      <h2>Notifications</h2>
      {events.length === 0 ? <p class="muted">No event yet.</p> : null}
      <ul class="group-list">
        {events.map((e) => (
          <li key={e.id} data-testid="notification-event" data-event={e.event}>
            <strong>{e.event}</strong> <span class="muted small">{formatTime(e.at)}</span>:{' '}
            <span data-testid="notification-deliveries">{deliveriesLabel(e.deliveries)}</span>
            {e.deliveries
              .filter((d) => d.status !== 'delivered' && d.lastError)
              .map((d) => (
                <div key={d.to} class="small text-danger">
                  {d.channel} {d.to}: {d.lastError}
                </div>
              ))}
          </li>
        ))}
      </ul>
      {canWrite ? (
        <button type="button" class="btn" onClick={() => void test()} data-testid="notifications-test">
          Send a test notification
        </button>
      ) : null}
      {note ? (
        <p class="small" data-testid="notifications-note">
          {note}
        </p>
      ) : null}
    </div>
  );
}

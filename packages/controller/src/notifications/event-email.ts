import type { NotificationEventName } from '../model';

/** What an event's email says; quarantine.started is the quarantine email (mail/quarantine-email.ts) while its quarantine is known. */
export interface EventEmailInput {
  event: NotificationEventName;
  configuration: { id: string; name: string };
  at: string;
  cycleId: string | null;
  quarantine: { deleteCount: number } | null;
  cycle: { error: { code: string; message: string } | null } | null;
  /** Who did it, for the admins' answers (released, rejected, restarted). */
  actor: string | null;
  publicUrl: string;
}

/** Subject and plain-text body of an event's email. */
export function eventEmail(input: EventEmailInput): { subject: string; text: string } {
  const { configuration: cfg } = input;
  const base = input.publicUrl.replace(/\/+$/, '');
  const name = `"${cfg.name}"`;
  const by = input.actor ? ` by ${input.actor}` : '';
  const deletes = input.quarantine ? `${input.quarantine.deleteCount} staged deletes` : 'the staged deletes';
  let subject: string;
  let summary: string;
  switch (input.event) {
    case 'quarantine.started':
      subject = `syncguard: Delete threshold exceeded for configuration ${name}`;
      summary = `The configuration ${name} was quarantined: nothing of the cycle is applied until an admin decides.`;
      break;
    case 'quarantine.released':
      subject = `syncguard: deletes released for configuration ${name}`;
      summary = `The quarantine of the configuration ${name} was released${by}: ${deletes} are applied.`;
      break;
    case 'quarantine.rejected':
      subject = `syncguard: deletes rejected for configuration ${name}`;
      summary = `The deletes of the quarantine of the configuration ${name} were rejected${by}: the objects stay in the target as kept objects.`;
      break;
    case 'quarantine.restarted':
      subject = `syncguard: quarantine restarted for configuration ${name}`;
      summary = `The quarantined cycle of the configuration ${name} was discarded${by} without applying ${deletes}; a new cycle reads the source again.`;
      break;
    case 'cycle.failed':
      subject = `syncguard: a cycle failed for configuration ${name}`;
      summary = `A cycle of the configuration ${name} failed; nothing of it was applied${
        input.cycle?.error ? `: ${input.cycle.error.code}: ${input.cycle.error.message}` : '.'
      }`;
      break;
    case 'notification.test':
      subject = `syncguard: test notification for configuration ${name}`;
      summary = `This is a test of the notifications of the configuration ${name}${by}.`;
      break;
  }
  const lines = [
    summary,
    '',
    `Configuration: ${cfg.name} (${cfg.id})`,
    ...(input.cycleId ? [`Cycle: ${input.cycleId}`] : []),
    `At: ${input.at}`,
    '',
    `Status: syncguardctl status ${cfg.id}`,
    `  GET ${base}/api/v1/configurations/${cfg.id}/status`,
    '',
  ];
  return { subject, text: lines.join('\n') };
}

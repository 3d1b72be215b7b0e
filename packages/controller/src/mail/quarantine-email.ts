import { describeRule } from '../guard/decide';
import type { Configuration, ObjectTypeName, TrippedRule } from '../model';

export interface QuarantineEmailInput {
  configuration: Pick<Configuration, 'id' | 'name'>;
  cycleId: string;
  /** Default TooManyDeletes. With TargetFailures, `deleteCount` is the failed operations and `threshold` their limit. */
  reason?: 'TooManyDeletes' | 'TargetFailures';
  deleteCount: number;
  threshold: number;
  /** Every rule of the delete policy that tripped (each is named in the email). */
  trippedBy: readonly TrippedRule[];
  since: string;
  /** `deletes`: the delete lane (creates and updates applied, deletes held). Default `cycle`. */
  hold?: 'cycle' | 'deletes';
  /** The first staged deletes (at most 20 are shown). */
  staged: { dn: string; objectType: ObjectTypeName }[];
  /** Base URL of the controller's API, e.g. `https://sync.example.com`. */
  publicUrl: string;
  /** The staged deletes by cause and parent DN, said as `412 moved out of scope from ou=eng` (at most 10 shown). */
  groups?: readonly string[];
}

/** Subject and plain-text body of the one email sent per quarantine. */
export function quarantineEmail(input: QuarantineEmailInput): { subject: string; text: string } {
  const { configuration: cfg, publicUrl } = input;
  const base = publicUrl.replace(/\/+$/, '');
  if (input.reason === 'TargetFailures') return targetFailuresEmail(input, base);
  const shown = input.staged.slice(0, 20);
  const lines = [
    `Synchronization of the configuration "${cfg.name}" (${cfg.id}) is quarantined: Delete threshold exceeded.`,
    '',
    `Delete count: ${input.deleteCount}`,
    `Threshold: ${input.threshold}`,
    'Tripped by:',
    ...input.trippedBy.map((t) => `  ${describeRule(t)}`),
    `Cycle: ${input.cycleId}`,
    `Since: ${input.since}`,
    '',
    input.hold === 'deletes'
      ? 'The creates and updates of this cycle were applied; its deletes are held. Later cycles keep applying creates and updates, and their deletes join the held set until you decide.'
      : 'Nothing of this cycle was applied, and no further cycle runs until you decide.',
    '',
    ...(input.groups && input.groups.length > 0
      ? [
          'The staged deletes by cause and parent:',
          ...input.groups.slice(0, 10).map((g) => `  ${g}`),
          ...(input.groups.length > 10 ? [`  and ${input.groups.length - 10} more groups`] : []),
          `  (all: syncguardctl staged ${cfg.id} --group-by cause)`,
          '',
        ]
      : []),
    `First ${shown.length} of ${input.deleteCount} staged deletes (DN and type):`,
    ...shown.map((s) => `  ${s.dn}  (${s.objectType})`),
    '',
    'To apply the deletes:',
    `  syncguardctl allow-deletes ${cfg.id}`,
    `  POST ${base}/api/v1/configurations/${cfg.id}/allow-deletes`,
    '',
    input.hold === 'deletes'
      ? 'To discard the held deletes without deleting anything and read the whole source again (after you fixed it):'
      : 'To discard this cycle without deleting anything and run a new one (after you fixed the source):',
    `  syncguardctl restart ${cfg.id}`,
    `  POST ${base}/api/v1/configurations/${cfg.id}/restart`,
    '',
    `The staged deletes are in the provisioning log: syncguardctl logs ${cfg.id} --action StagedDelete`,
    '',
  ];
  return { subject: `syncguard: Delete threshold exceeded for configuration "${cfg.name}"`, text: lines.join('\n') };
}

/** The email of a `TargetFailures` quarantine: the target refused too many of a cycle's operations. */
function targetFailuresEmail(input: QuarantineEmailInput, base: string): { subject: string; text: string } {
  const cfg = input.configuration;
  const lines = [
    `Synchronization of the configuration "${cfg.name}" (${cfg.id}) is quarantined: its target refused too many operations.`,
    '',
    `Failed operations: ${input.deleteCount}`,
    `Limit: ${input.threshold}`,
    `Cycle: ${input.cycleId}`,
    `Since: ${input.since}`,
    '',
    'What was applied before the limit stays applied; nothing more is sent to the target until you restart.',
    `Why each object failed is in the provisioning log: syncguardctl logs ${cfg.id} --cycle ${input.cycleId}`,
    '',
    'Once the target is fixed, discard this cycle and run a new one:',
    `  syncguardctl restart ${cfg.id}`,
    `  POST ${base}/api/v1/configurations/${cfg.id}/restart`,
    '',
  ];
  return { subject: `syncguard: target failures for configuration "${cfg.name}"`, text: lines.join('\n') };
}

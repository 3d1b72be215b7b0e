import type { AccidentalDeleteSettings } from './api/model';

/** The delete policy rules' fields of the settings form (each an input's text). */
export type PolicyField =
  | 'percentage'
  | 'minimumObjects'
  | 'userThreshold'
  | 'userPercentage'
  | 'groupThreshold'
  | 'groupPercentage'
  | 'windowHours'
  | 'windowThreshold'
  | 'memberRemovals'
  | 'dnSuffixes'
  | 'objectIds';

/** The settings form's fields, and `form` for messages that name no field of it. */
export type SettingsField =
  | 'notificationEmail'
  | 'notifyEmails'
  | 'webhooks'
  | 'webhookSecret'
  | 'enabled'
  | 'threshold'
  | 'countDisables'
  | 'hold'
  | 'baseDn'
  | 'filter'
  | 'objectTypes'
  | PolicyField
  | 'form';

/** The delete policy rules as typed: numbers as text, '' for a rule that is off; the lists one item a line. */
export type PolicyForm = Record<PolicyField, string>;

/** minimumObjects when its input is left empty: the API's default. */
export const DEFAULT_MINIMUM_OBJECTS = 100;

/** The API field (below `accidentalDeletes.`) each policy input edits. */
const POLICY_FIELDS: Record<string, PolicyField> = {
  percentage: 'percentage',
  minimumObjects: 'minimumObjects',
  perType: 'userThreshold',
  'perType.user': 'userThreshold',
  'perType.user.threshold': 'userThreshold',
  'perType.user.percentage': 'userPercentage',
  'perType.group': 'groupThreshold',
  'perType.group.threshold': 'groupThreshold',
  'perType.group.percentage': 'groupPercentage',
  window: 'windowHours',
  'window.hours': 'windowHours',
  'window.threshold': 'windowThreshold',
  memberRemovals: 'memberRemovals',
  'memberRemovals.threshold': 'memberRemovals',
  protected: 'dnSuffixes',
  'protected.dnSuffixes': 'dnSuffixes',
  'protected.objectIds': 'objectIds',
};

/** Maps the field an API 400 message names to the form field showing it, or null. */
export function settingsFieldOf(apiField: string | null): SettingsField | null {
  const policy = /^accidentalDeletes\.(.+?)(?:\.\d+)?$/.exec(apiField ?? '');
  if (policy && POLICY_FIELDS[policy[1]!]) return POLICY_FIELDS[policy[1]!]!;
  if (/^notifications\.emails(\.\d+)?$/.test(apiField ?? '')) return 'notifyEmails';
  if (/^notifications\.webhooks\.\d+\.secret$/.test(apiField ?? '')) return 'webhookSecret';
  if (/^notifications\.webhooks(\.\d+(\.url)?)?$/.test(apiField ?? '')) return 'webhooks';
  switch (apiField) {
    case 'notificationEmail':
      return 'notificationEmail';
    case 'accidentalDeletes.enabled':
      return 'enabled';
    case 'accidentalDeletes.threshold':
      return 'threshold';
    case 'accidentalDeletes.countDisables':
      return 'countDisables';
    case 'accidentalDeletes.hold':
      return 'hold';
    case 'source.baseDn':
      return 'baseDn';
    case 'source.filter':
      return 'filter';
    case 'source.objectTypes':
      return 'objectTypes';
    default:
      return null;
  }
}

/**
 * The threshold as typed: a number when it reads as one, otherwise the text itself, so
 * that the API (not the browser) judges it and its message names the field.
 */
export function thresholdValue(text: string): number | string {
  const t = text.trim();
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** A rule's number as typed: null (the rule off) when empty, otherwise as {@link thresholdValue} reads it. */
export function ruleValue(text: string): number | string | null {
  return text.trim() === '' ? null : thresholdValue(text);
}

/** The lines of a list input, trimmed, empty ones dropped. */
export function listValue(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

const text = (v: number | null | undefined): string => (v == null ? '' : String(v));

/** The policy inputs of a configuration's `accidentalDeletes`. */
export function policyFormOf(a: Partial<AccidentalDeleteSettings>): PolicyForm {
  return {
    percentage: text(a.percentage),
    minimumObjects: text(a.minimumObjects ?? DEFAULT_MINIMUM_OBJECTS),
    userThreshold: text(a.perType?.user?.threshold),
    userPercentage: text(a.perType?.user?.percentage),
    groupThreshold: text(a.perType?.group?.threshold),
    groupPercentage: text(a.perType?.group?.percentage),
    windowHours: text(a.window?.hours),
    windowThreshold: text(a.window?.threshold),
    memberRemovals: text(a.memberRemovals?.threshold),
    dnSuffixes: (a.protected?.dnSuffixes ?? []).join('\n'),
    objectIds: (a.protected?.objectIds ?? []).join('\n'),
  };
}

/**
 * The `accidentalDeletes` settings the policy inputs stand for, every rule given in full
 * (so that the PATCH replaces it rather than merging into it): an empty input is null
 * (that rule off), a type or the window with every input empty is null, and so is
 * `protected` with both lists empty. An empty minimumObjects is the default, 100. Text
 * that is not a number is sent as typed, for the API to refuse with a message naming the
 * field.
 */
export function policyPatchOf(form: PolicyForm): Partial<AccidentalDeleteSettings> {
  const limits = (threshold: string, percentage: string) =>
    threshold.trim() === '' && percentage.trim() === ''
      ? null
      : { threshold: ruleValue(threshold) as number | null, percentage: ruleValue(percentage) as number | null };
  const windowOff = form.windowHours.trim() === '' && form.windowThreshold.trim() === '';
  const dnSuffixes = listValue(form.dnSuffixes);
  const objectIds = listValue(form.objectIds);
  const user = limits(form.userThreshold, form.userPercentage);
  const group = limits(form.groupThreshold, form.groupPercentage);
  return {
    percentage: ruleValue(form.percentage) as number | null,
    minimumObjects: (ruleValue(form.minimumObjects) ?? DEFAULT_MINIMUM_OBJECTS) as number,
    perType: user || group ? { user, group } : null,
    // An empty hours or threshold beside a filled one goes as null: the API names the missing one.
    window: windowOff
      ? null
      : { hours: ruleValue(form.windowHours) as number, threshold: ruleValue(form.windowThreshold) as number },
    memberRemovals: form.memberRemovals.trim() === '' ? null : { threshold: ruleValue(form.memberRemovals) as number },
    protected: dnSuffixes.length === 0 && objectIds.length === 0 ? null : { dnSuffixes, objectIds },
  };
}

/**
 * `notifications` of the settings form: the recipients and webhook URLs one a line. A
 * secret typed in the form is set for every URL listed; left empty, each URL keeps the
 * secret stored for it (a new URL then needs one: the API names the field).
 */
export function notificationsPatchOf(emails: string, webhooks: string, secret: string) {
  return {
    emails: listValue(emails),
    webhooks: listValue(webhooks).map((url) => ({ url, secret: secret.trim() === '' ? null : secret.trim() })),
  };
}

/** The scope inputs of the settings form. */
export interface ScopeForm {
  baseDn: string;
  filter: string;
  users: boolean;
  groups: boolean;
}

/**
 * `source` of a patch from the scope inputs, or undefined when they hold what the
 * configuration has (so that saving other settings never looks like a scope change).
 */
export function sourcePatchOf(
  form: ScopeForm,
  current: { baseDn: string; filter: string; objectTypes: readonly string[] },
): { baseDn: string; filter: string; objectTypes: ('user' | 'group')[] } | undefined {
  const objectTypes: ('user' | 'group')[] = [
    ...(form.users ? ['user' as const] : []),
    ...(form.groups ? ['group' as const] : []),
  ];
  const same =
    form.baseDn.trim() === current.baseDn &&
    form.filter.trim() === current.filter &&
    objectTypes.join(',') === [...current.objectTypes].sort((a, b) => (a === 'user' ? -1 : b === 'user' ? 1 : 0)).join(',');
  return same ? undefined : { baseDn: form.baseDn.trim(), filter: form.filter.trim(), objectTypes };
}

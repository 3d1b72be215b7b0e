import { ValidationError } from '../errors';
import { DEFAULT_MINIMUM_OBJECTS } from '../guard/decide';
import type {
  AccidentalDeleteSettings,
  DeleteWindow,
  MemberRemovalLimit,
  HoldMode,
  PerTypeDeleteLimits,
  ProtectedObjectSettings,
  TypeDeleteLimits,
  ConfigurationInput,
  ConfigurationPatch,
  ObjectTypeName,
  SourceSettings,
  StoredConfiguration,
} from '../model';

export type { StoredConfiguration };
import { sourceFilterProblem } from './source-filter';
import { DEFAULT_TARGET, validateTarget } from '../targets/target-settings';
import type { SecretBox } from '../secrets/secret-box';
import { notificationsOf, validateNotifications } from './notification-settings';

/** A configuration as stored (the `state` lives in the state hash). */

export const DEFAULT_ACCIDENTAL_DELETES: AccidentalDeleteSettings = Object.freeze({
  enabled: true,
  threshold: 500,
  countDisables: false,
  percentage: null,
  minimumObjects: DEFAULT_MINIMUM_OBJECTS,
  perType: null,
  window: null,
  protected: null,
  memberRemovals: null,
  hold: 'cycle',
  approvals: 1,
});
/** The longest `accidentalDeletes.window.hours`: 30 days. */
export const MAX_WINDOW_HOURS = 720;
const MAX_PROTECTED_DNS = 100;
const MAX_PROTECTED_IDS = 1000;
export const DEFAULT_SYNC_INTERVAL_SECONDS = 120;

const OBJECT_TYPES: readonly ObjectTypeName[] = ['user', 'group'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function string(field: string, v: unknown, nonEmpty = false): string {
  if (typeof v !== 'string') throw new ValidationError(field, 'must be a string');
  if (nonEmpty && v.trim().length === 0) throw new ValidationError(field, 'must not be empty');
  return v;
}

function strings(field: string, v: unknown): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new ValidationError(field, 'must be a list of non-empty strings');
  }
  return [...new Set(v as string[])];
}

function wholeNumber(field: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new ValidationError(field, `must be a whole number >= ${min}`);
  }
  return v;
}

function boolean(field: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new ValidationError(field, 'must be true or false');
  return v;
}

function dn(field: string, v: unknown): string {
  const s = string(field, v, true).trim();
  if (!/^[A-Za-z][A-Za-z0-9-]*=[^,]+(,\s*[A-Za-z][A-Za-z0-9-]*=[^,]+)*$/.test(s)) {
    throw new ValidationError(field, `is not an LDAP DN: ${JSON.stringify(s)}`);
  }
  return s;
}

function filter(field: string, v: unknown): string {
  const s = string(field, v).trim();
  if (s === '') return s;
  const problem = sourceFilterProblem(s);
  if (problem) throw new ValidationError(field, problem);
  return s;
}

function email(field: string, v: unknown): string | null {
  if (v === null) return null;
  const s = string(field, v).trim();
  if (s === '') return null;
  if (!/^[^\s@]+@[^\s@]+\.?[^\s@]*$/.test(s)) throw new ValidationError(field, `is not an email address: ${JSON.stringify(s)}`);
  return s;
}

function source(v: unknown, base: SourceSettings | null): SourceSettings {
  if (!isObject(v)) throw new ValidationError('source', 'must be an object');
  const known = ['baseDn', 'filter', 'objectTypes', 'attributes', 'disabledAttribute'];
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new ValidationError(`source.${k}`, 'is not a known setting');
  const out: SourceSettings = base
    ? { ...base }
    : { baseDn: '', filter: '', objectTypes: ['user', 'group'], attributes: [], disabledAttribute: '' };
  if (v.baseDn !== undefined || !base) out.baseDn = dn('source.baseDn', v.baseDn);
  if (v.filter !== undefined) out.filter = filter('source.filter', v.filter);
  if (v.objectTypes !== undefined) {
    const types = strings('source.objectTypes', v.objectTypes);
    if (types.length === 0) throw new ValidationError('source.objectTypes', 'must name at least one of user, group');
    for (const t of types) {
      if (!OBJECT_TYPES.includes(t as ObjectTypeName))
        throw new ValidationError('source.objectTypes', `unknown type ${JSON.stringify(t)}`);
    }
    out.objectTypes = types as ObjectTypeName[];
  }
  if (v.attributes !== undefined) out.attributes = strings('source.attributes', v.attributes);
  if (v.disabledAttribute !== undefined) out.disabledAttribute = string('source.disabledAttribute', v.disabledAttribute).trim();
  return out;
}

/** Refuses keys other than `known` (naming the field). */
function knownKeys(field: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new ValidationError(`${field}.${k}`, 'is not a known setting');
}

function object(field: string, v: unknown): Record<string, unknown> {
  if (!isObject(v)) throw new ValidationError(field, 'must be an object or null');
  return v;
}

/** A share in percent: > 0 and <= 100 (decimals allowed); null is off. */
function percentage(field: string, v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > 100) {
    throw new ValidationError(field, 'must be a number > 0 and <= 100 (percent), or null');
  }
  return v;
}

function nullableWholeNumber(field: string, v: unknown, min: number): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new ValidationError(field, `must be a whole number >= ${min}, or null`);
  }
  return v;
}

function typeLimits(field: string, v: unknown, base: TypeDeleteLimits | null | undefined): TypeDeleteLimits | null {
  if (v === null) return null;
  const o = object(field, v);
  knownKeys(field, o, ['threshold', 'percentage']);
  const from = base ?? { threshold: null, percentage: null };
  return {
    threshold: o.threshold === undefined ? from.threshold : nullableWholeNumber(`${field}.threshold`, o.threshold, 1),
    percentage: o.percentage === undefined ? from.percentage : percentage(`${field}.percentage`, o.percentage),
  };
}

function perType(v: unknown, base: PerTypeDeleteLimits | null): PerTypeDeleteLimits | null {
  const field = 'accidentalDeletes.perType';
  if (v === null) return null;
  const o = object(field, v);
  knownKeys(field, o, OBJECT_TYPES);
  const out: PerTypeDeleteLimits = { ...base };
  for (const t of OBJECT_TYPES) if (o[t] !== undefined) out[t] = typeLimits(`${field}.${t}`, o[t], base?.[t]);
  return out;
}

function deleteWindow(v: unknown, base: DeleteWindow | null): DeleteWindow | null {
  const field = 'accidentalDeletes.window';
  if (v === null) return null;
  const o = object(field, v);
  knownKeys(field, o, ['hours', 'threshold']);
  if (!base && (o.hours === undefined || o.threshold === undefined)) {
    throw new ValidationError(o.hours === undefined ? `${field}.hours` : `${field}.threshold`, 'is required');
  }
  const hours = o.hours === undefined ? base!.hours : wholeNumber(`${field}.hours`, o.hours, 1);
  if (hours > MAX_WINDOW_HOURS)
    throw new ValidationError(`${field}.hours`, `must be a whole number from 1 to ${MAX_WINDOW_HOURS}`);
  return { hours, threshold: o.threshold === undefined ? base!.threshold : wholeNumber(`${field}.threshold`, o.threshold, 1) };
}

function protectedObjects(v: unknown, base: ProtectedObjectSettings | null): ProtectedObjectSettings | null {
  const field = 'accidentalDeletes.protected';
  if (v === null) return null;
  const o = object(field, v);
  knownKeys(field, o, ['dnSuffixes', 'objectIds']);
  const out = base ? { ...base } : { dnSuffixes: [], objectIds: [] };
  if (o.dnSuffixes !== undefined) {
    if (!Array.isArray(o.dnSuffixes)) throw new ValidationError(`${field}.dnSuffixes`, 'must be a list of LDAP DNs');
    if (o.dnSuffixes.length > MAX_PROTECTED_DNS)
      throw new ValidationError(`${field}.dnSuffixes`, `must hold at most ${MAX_PROTECTED_DNS} DNs`);
    out.dnSuffixes = [...new Set(o.dnSuffixes.map((d, i) => dn(`${field}.dnSuffixes.${i}`, d)))];
  }
  if (o.objectIds !== undefined) {
    out.objectIds = strings(`${field}.objectIds`, o.objectIds);
    if (out.objectIds.length > MAX_PROTECTED_IDS)
      throw new ValidationError(`${field}.objectIds`, `must hold at most ${MAX_PROTECTED_IDS} ids`);
  }
  return out;
}

function memberRemovals(v: unknown): MemberRemovalLimit | null {
  const field = 'accidentalDeletes.memberRemovals';
  if (v === null) return null;
  const o = object(field, v);
  knownKeys(field, o, ['threshold']);
  if (o.threshold === undefined) throw new ValidationError(`${field}.threshold`, 'is required');
  return { threshold: wholeNumber(`${field}.threshold`, o.threshold, 1) };
}

function hold(field: string, v: unknown): HoldMode {
  if (v !== 'cycle' && v !== 'deletes') throw new ValidationError(field, 'must be "cycle" or "deletes"');
  return v;
}

function approvals(field: string, v: unknown): 1 | 2 {
  if (v !== 1 && v !== 2) throw new ValidationError(field, 'must be 1 or 2');
  return v;
}

/**
 * Checks `accidentalDeletes` and merges it into `base` (nested objects merge, as PATCH does;
 * null turns a rule off).
 */
function accidentalDeletes(v: unknown, current: AccidentalDeleteSettings): AccidentalDeleteSettings {
  if (!isObject(v)) throw new ValidationError('accidentalDeletes', 'must be an object');
  // A configuration stored by an earlier version has only the first three settings.
  const base: AccidentalDeleteSettings = { ...DEFAULT_ACCIDENTAL_DELETES, ...current };
  knownKeys('accidentalDeletes', v, [
    'enabled',
    'threshold',
    'countDisables',
    'percentage',
    'minimumObjects',
    'perType',
    'window',
    'protected',
    'memberRemovals',
    'hold',
    'approvals',
  ]);
  const out: AccidentalDeleteSettings = {
    enabled: v.enabled === undefined ? base.enabled : boolean('accidentalDeletes.enabled', v.enabled),
    threshold: v.threshold === undefined ? base.threshold : wholeNumber('accidentalDeletes.threshold', v.threshold, 1),
    countDisables:
      v.countDisables === undefined ? base.countDisables : boolean('accidentalDeletes.countDisables', v.countDisables),
    percentage: v.percentage === undefined ? base.percentage : percentage('accidentalDeletes.percentage', v.percentage),
    minimumObjects:
      v.minimumObjects === undefined ? base.minimumObjects : wholeNumber('accidentalDeletes.minimumObjects', v.minimumObjects, 0),
    perType: v.perType === undefined ? base.perType : perType(v.perType, base.perType),
    window: v.window === undefined ? base.window : deleteWindow(v.window, base.window),
    protected: v.protected === undefined ? base.protected : protectedObjects(v.protected, base.protected),
    memberRemovals: v.memberRemovals === undefined ? base.memberRemovals : memberRemovals(v.memberRemovals),
    hold: v.hold === undefined ? base.hold : hold('accidentalDeletes.hold', v.hold),
    approvals: v.approvals === undefined ? base.approvals : approvals('accidentalDeletes.approvals', v.approvals),
  };
  if (out.hold === 'deletes' && out.memberRemovals) {
    // Named after what the request changed, so that the 400 points at the input to fix.
    const field = v.hold !== undefined ? 'accidentalDeletes.hold' : 'accidentalDeletes.memberRemovals';
    throw new ValidationError(
      field,
      'hold "deletes" cannot be combined with memberRemovals: the delete lane applies updates at once, and member removals are updates (use hold "cycle", or turn memberRemovals off)',
    );
  }
  return out;
}

const TOP_LEVEL = [
  'name',
  'agentIds',
  'source',
  'syncIntervalSeconds',
  'accidentalDeletes',
  'notificationEmail',
  'notifications',
  'target',
];

/**
 * Checks a POST body and fills defaults. Throws ValidationError naming the field. `secrets`
 * seals a SCIM target's secrets and webhook secrets (null when SYNCGUARD_SECRET_KEY is not
 * set: a SCIM target and a new webhook secret are refused).
 */
export function validateConfigurationInput(
  input: unknown,
  id: string,
  now: string,
  secrets: SecretBox | null = null,
): StoredConfiguration {
  if (!isObject(input)) throw new ValidationError('body', 'must be a JSON object');
  for (const k of Object.keys(input)) if (!TOP_LEVEL.includes(k)) throw new ValidationError(k, 'is not a known setting');
  const body = input as unknown as ConfigurationInput;
  if (body.source === undefined) throw new ValidationError('source', 'is required');
  const notificationEmail = body.notificationEmail === undefined ? null : email('notificationEmail', body.notificationEmail);
  return {
    id,
    name: string('name', body.name, true).trim(),
    agentIds: body.agentIds === undefined ? [] : strings('agentIds', body.agentIds),
    source: source(body.source, null),
    syncIntervalSeconds:
      body.syncIntervalSeconds === undefined
        ? DEFAULT_SYNC_INTERVAL_SECONDS
        : wholeNumber('syncIntervalSeconds', body.syncIntervalSeconds, 10),
    accidentalDeletes:
      body.accidentalDeletes === undefined
        ? { ...DEFAULT_ACCIDENTAL_DELETES }
        : accidentalDeletes(body.accidentalDeletes, DEFAULT_ACCIDENTAL_DELETES),
    notificationEmail,
    notifications: validateNotifications(body.notifications, { emails: [], webhooks: [] }, notificationEmail, {
      box: secrets,
      configurationId: id,
    }),
    target:
      body.target === undefined ? DEFAULT_TARGET : validateTarget(body.target, undefined, { box: secrets, configurationId: id }),
    createdAt: now,
    updatedAt: now,
  };
}

/** Applies a PATCH (nested objects merge) to a stored configuration. */
export function applyConfigurationPatch(
  current: StoredConfiguration,
  patch: unknown,
  now: string,
  secrets: SecretBox | null = null,
): StoredConfiguration {
  if (!isObject(patch)) throw new ValidationError('body', 'must be a JSON object');
  for (const k of Object.keys(patch)) if (!TOP_LEVEL.includes(k)) throw new ValidationError(k, 'is not a known setting');
  const p = patch as ConfigurationPatch;
  const notificationEmail =
    p.notificationEmail === undefined ? current.notificationEmail : email('notificationEmail', p.notificationEmail);
  return {
    ...current,
    name: p.name === undefined ? current.name : string('name', p.name, true).trim(),
    agentIds: p.agentIds === undefined ? current.agentIds : strings('agentIds', p.agentIds),
    source: p.source === undefined ? current.source : source(p.source, current.source),
    syncIntervalSeconds:
      p.syncIntervalSeconds === undefined
        ? current.syncIntervalSeconds
        : wholeNumber('syncIntervalSeconds', p.syncIntervalSeconds, 10),
    accidentalDeletes:
      p.accidentalDeletes === undefined
        ? current.accidentalDeletes
        : accidentalDeletes(p.accidentalDeletes, current.accidentalDeletes),
    notificationEmail,
    notifications: validateNotifications(p.notifications, notificationsOf(current), notificationEmail, {
      box: secrets,
      configurationId: current.id,
    }),
    target:
      p.target === undefined
        ? (current.target ?? DEFAULT_TARGET)
        : validateTarget(p.target, current.target, { box: secrets, configurationId: current.id }),
    updatedAt: now,
  };
}

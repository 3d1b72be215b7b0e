import { ValidationError } from '../errors';
import type {
  AccidentalDeleteSettings,
  ConfigurationInput,
  ConfigurationPatch,
  ObjectTypeName,
  SourceSettings,
  StoredConfiguration,
} from '../model';

export type { StoredConfiguration };
import { sourceFilterProblem } from './source-filter';

/** A configuration as stored (the `state` lives in the state hash). */

export const DEFAULT_ACCIDENTAL_DELETES: AccidentalDeleteSettings = Object.freeze({
  enabled: true,
  threshold: 500,
  countDisables: false,
});
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

function accidentalDeletes(v: unknown, base: AccidentalDeleteSettings): AccidentalDeleteSettings {
  if (!isObject(v)) throw new ValidationError('accidentalDeletes', 'must be an object');
  const known = ['enabled', 'threshold', 'countDisables'];
  for (const k of Object.keys(v)) {
    if (!known.includes(k)) throw new ValidationError(`accidentalDeletes.${k}`, 'is not a known setting');
  }
  return {
    enabled: v.enabled === undefined ? base.enabled : boolean('accidentalDeletes.enabled', v.enabled),
    threshold: v.threshold === undefined ? base.threshold : wholeNumber('accidentalDeletes.threshold', v.threshold, 1),
    countDisables:
      v.countDisables === undefined ? base.countDisables : boolean('accidentalDeletes.countDisables', v.countDisables),
  };
}

const TOP_LEVEL = ['name', 'agentIds', 'source', 'syncIntervalSeconds', 'accidentalDeletes', 'notificationEmail'];

/** Checks a POST body and fills defaults. Throws ValidationError naming the field. */
export function validateConfigurationInput(input: unknown, id: string, now: string): StoredConfiguration {
  if (!isObject(input)) throw new ValidationError('body', 'must be a JSON object');
  for (const k of Object.keys(input)) if (!TOP_LEVEL.includes(k)) throw new ValidationError(k, 'is not a known setting');
  const body = input as unknown as ConfigurationInput;
  if (body.source === undefined) throw new ValidationError('source', 'is required');
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
    notificationEmail: body.notificationEmail === undefined ? null : email('notificationEmail', body.notificationEmail),
    createdAt: now,
    updatedAt: now,
  };
}

/** Applies a PATCH (nested objects merge) to a stored configuration. */
export function applyConfigurationPatch(current: StoredConfiguration, patch: unknown, now: string): StoredConfiguration {
  if (!isObject(patch)) throw new ValidationError('body', 'must be a JSON object');
  for (const k of Object.keys(patch)) if (!TOP_LEVEL.includes(k)) throw new ValidationError(k, 'is not a known setting');
  const p = patch as ConfigurationPatch;
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
    notificationEmail:
      p.notificationEmail === undefined ? current.notificationEmail : email('notificationEmail', p.notificationEmail),
    updatedAt: now,
  };
}

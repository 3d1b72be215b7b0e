import { ValidationError } from '../errors';
import type {
  ScimMappingSettings,
  StoredScimAuth,
  StoredScimTargetSettings,
  StoredTargetSettings,
  TargetSettings,
} from '../model';
import type { SecretBox } from '../secrets/secret-box';

export const DEFAULT_TARGET: StoredTargetSettings = Object.freeze({ type: 'cloudDirectory' });

/** The defaults of a SCIM target (contract: "Targets"). */
export const SCIM_DEFAULTS = Object.freeze({
  deleteMode: 'delete' as const,
  updateMethod: 'patch' as const,
  concurrency: 4,
  maxRequestsPerSecond: null,
  failureQuarantinePercent: 40,
  requestTimeoutSeconds: 30,
});

/** Where a sealed secret belongs: bound into its seal, so that it opens only there. */
export function secretContext(configurationId: string, field: 'token' | 'clientSecret'): string {
  return `configuration:${configurationId}:target.auth.${field}`;
}

/** What validation needs to seal secrets; `box` is null when SYNCGUARD_SECRET_KEY is not set. */
export interface SecretSealing {
  box: SecretBox | null;
  configurationId: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function knownKeys(field: string, v: Record<string, unknown>, known: readonly string[]): void {
  for (const k of Object.keys(v)) if (!known.includes(k)) throw new ValidationError(`${field}.${k}`, 'is not a known setting');
}

function text(field: string, v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw new ValidationError(field, 'must be a non-empty string');
  return v.trim();
}

function httpUrl(field: string, v: unknown): string {
  const s = text(field, v);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ValidationError(field, `is not a URL: ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ValidationError(field, 'must be an http:// or https:// URL');
  if (u.username || u.password) throw new ValidationError(field, 'must not hold credentials (put them in auth)');
  if (u.search || u.hash) throw new ValidationError(field, 'must not have a query or fragment');
  return s.replace(/\/+$/, '');
}

function whole(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw new ValidationError(field, `must be a whole number from ${min} to ${max}`);
  return v;
}

function sealer(sealing: SecretSealing): SecretBox {
  if (!sealing.box)
    throw new ValidationError(
      'target',
      'a SCIM target needs SYNCGUARD_SECRET_KEY set on the controller, to store its secrets encrypted',
    );
  return sealing.box;
}

function auth(v: unknown, current: StoredScimAuth | undefined, sealing: SecretSealing): StoredScimAuth {
  const field = 'target.auth';
  if (!isObject(v)) throw new ValidationError(field, 'must be an object');
  const type = v.type === undefined ? current?.type : v.type;
  if (type !== 'bearer' && type !== 'oauth2') throw new ValidationError(`${field}.type`, 'must be bearer or oauth2');
  const same = current?.type === type ? current : undefined;
  const box = sealer(sealing);
  if (type === 'bearer') {
    knownKeys(field, v, ['type', 'token', 'tokenSet']);
    if (v.token === undefined || v.token === null) {
      if (same?.type === 'bearer')
        return { type, tokenSealed: box.reseal(same.tokenSealed, secretContext(sealing.configurationId, 'token')) };
      throw new ValidationError(`${field}.token`, 'is required');
    }
    return { type, tokenSealed: box.seal(text(`${field}.token`, v.token), secretContext(sealing.configurationId, 'token')) };
  }
  knownKeys(field, v, ['type', 'tokenUrl', 'clientId', 'clientSecret', 'clientSecretSet', 'scope']);
  const base = same?.type === 'oauth2' ? same : undefined;
  if (!base && v.tokenUrl === undefined) throw new ValidationError(`${field}.tokenUrl`, 'is required');
  if (!base && v.clientId === undefined) throw new ValidationError(`${field}.clientId`, 'is required');
  let clientSecretSealed: string;
  if (v.clientSecret === undefined || v.clientSecret === null) {
    if (!base) throw new ValidationError(`${field}.clientSecret`, 'is required');
    clientSecretSealed = box.reseal(base.clientSecretSealed, secretContext(sealing.configurationId, 'clientSecret'));
  } else {
    clientSecretSealed = box.seal(
      text(`${field}.clientSecret`, v.clientSecret),
      secretContext(sealing.configurationId, 'clientSecret'),
    );
  }
  return {
    type,
    tokenUrl: v.tokenUrl === undefined ? base!.tokenUrl : httpUrl(`${field}.tokenUrl`, v.tokenUrl),
    clientId: v.clientId === undefined ? base!.clientId : text(`${field}.clientId`, v.clientId),
    clientSecretSealed,
    scope: v.scope === undefined ? (base?.scope ?? null) : v.scope === null ? null : text(`${field}.scope`, v.scope),
  };
}

/** SCIM attributes the mapping can set (docs/scim.md). */
export const SCIM_USER_ATTRIBUTES: readonly string[] = [
  'userName',
  'displayName',
  'name.givenName',
  'name.familyName',
  'emails',
  'phoneNumbers',
  'title',
  'employeeNumber',
  'department',
  'manager',
];
export const SCIM_GROUP_ATTRIBUTES: readonly string[] = ['displayName'];

function mappingSide(field: string, v: unknown, allowed: readonly string[]): Record<string, string | null> {
  if (!isObject(v)) throw new ValidationError(field, 'must be an object of SCIM attribute -> source attribute');
  const out: Record<string, string | null> = {};
  for (const [k, value] of Object.entries(v)) {
    if (!allowed.includes(k))
      throw new ValidationError(`${field}.${k}`, `is not a mapped SCIM attribute (one of ${allowed.join(', ')})`);
    if (value === null) {
      if (k === 'userName' || (allowed === SCIM_GROUP_ATTRIBUTES && k === 'displayName'))
        throw new ValidationError(`${field}.${k}`, 'is required by SCIM and cannot be left out');
      out[k] = null;
    } else out[k] = text(`${field}.${k}`, value);
  }
  return out;
}

function mapping(v: unknown, current: ScimMappingSettings | null): ScimMappingSettings | null {
  const field = 'target.mapping';
  if (v === null) return null;
  if (!isObject(v)) throw new ValidationError(field, 'must be an object or null');
  knownKeys(field, v, ['directory', 'user', 'group']);
  const base = current ?? { directory: 'auto', user: {}, group: {} };
  const directory = v.directory === undefined ? base.directory : v.directory;
  if (directory !== 'auto' && directory !== 'openldap' && directory !== 'ad')
    throw new ValidationError(`${field}.directory`, 'must be auto, openldap or ad');
  return {
    directory,
    user: v.user === undefined ? base.user : mappingSide(`${field}.user`, v.user, SCIM_USER_ATTRIBUTES),
    group: v.group === undefined ? base.group : mappingSide(`${field}.group`, v.group, SCIM_GROUP_ATTRIBUTES),
  };
}

function scim(
  v: Record<string, unknown>,
  current: StoredScimTargetSettings | undefined,
  sealing: SecretSealing,
): StoredScimTargetSettings {
  knownKeys('target', v, [
    'type',
    'baseUrl',
    'auth',
    'deleteMode',
    'updateMethod',
    'concurrency',
    'maxRequestsPerSecond',
    'failureQuarantinePercent',
    'requestTimeoutSeconds',
    'mapping',
  ]);
  if (!current && v.baseUrl === undefined) throw new ValidationError('target.baseUrl', 'is required');
  if (!current && v.auth === undefined) throw new ValidationError('target.auth', 'is required');
  sealer(sealing);
  const deleteMode = v.deleteMode === undefined ? (current?.deleteMode ?? SCIM_DEFAULTS.deleteMode) : v.deleteMode;
  if (deleteMode !== 'delete' && deleteMode !== 'deactivate')
    throw new ValidationError('target.deleteMode', 'must be delete or deactivate');
  const updateMethod = v.updateMethod === undefined ? (current?.updateMethod ?? SCIM_DEFAULTS.updateMethod) : v.updateMethod;
  if (updateMethod !== 'patch' && updateMethod !== 'put')
    throw new ValidationError('target.updateMethod', 'must be patch or put');
  let maxRequestsPerSecond = current?.maxRequestsPerSecond ?? SCIM_DEFAULTS.maxRequestsPerSecond;
  if (v.maxRequestsPerSecond !== undefined) {
    if (v.maxRequestsPerSecond === null) maxRequestsPerSecond = null;
    else if (
      typeof v.maxRequestsPerSecond !== 'number' ||
      !Number.isFinite(v.maxRequestsPerSecond) ||
      v.maxRequestsPerSecond <= 0 ||
      v.maxRequestsPerSecond > 100_000
    )
      throw new ValidationError('target.maxRequestsPerSecond', 'must be a number > 0 and <= 100000, or null (no limit)');
    else maxRequestsPerSecond = v.maxRequestsPerSecond;
  }
  let failureQuarantinePercent = current?.failureQuarantinePercent ?? SCIM_DEFAULTS.failureQuarantinePercent;
  if (v.failureQuarantinePercent !== undefined) {
    const p = v.failureQuarantinePercent;
    if (typeof p !== 'number' || !Number.isFinite(p) || p <= 0 || p > 100)
      throw new ValidationError('target.failureQuarantinePercent', 'must be a number > 0 and <= 100 (percent)');
    failureQuarantinePercent = p;
  }
  return {
    type: 'scim',
    baseUrl: v.baseUrl === undefined ? current!.baseUrl : httpUrl('target.baseUrl', v.baseUrl),
    auth: v.auth === undefined ? reseal(current!.auth, sealing) : auth(v.auth, current?.auth, sealing),
    deleteMode,
    updateMethod,
    concurrency:
      v.concurrency === undefined
        ? (current?.concurrency ?? SCIM_DEFAULTS.concurrency)
        : whole('target.concurrency', v.concurrency, 1, 64),
    maxRequestsPerSecond,
    failureQuarantinePercent,
    requestTimeoutSeconds:
      v.requestTimeoutSeconds === undefined
        ? (current?.requestTimeoutSeconds ?? SCIM_DEFAULTS.requestTimeoutSeconds)
        : whole('target.requestTimeoutSeconds', v.requestTimeoutSeconds, 1, 600),
    mapping: v.mapping === undefined ? (current?.mapping ?? null) : mapping(v.mapping, current?.mapping ?? null),
  };
}

/** Secrets of an unchanged auth moved to the current key (key rotation: any change of the configuration re-seals). */
function reseal(a: StoredScimAuth, sealing: SecretSealing): StoredScimAuth {
  const box = sealer(sealing);
  if (a.type === 'bearer')
    return { ...a, tokenSealed: box.reseal(a.tokenSealed, secretContext(sealing.configurationId, 'token')) };
  return { ...a, clientSecretSealed: box.reseal(a.clientSecretSealed, secretContext(sealing.configurationId, 'clientSecret')) };
}

/**
 * Checks a `target` setting and merges it into the current one (PATCH: fields left out
 * keep their value, secrets too; another `type` starts afresh). Secrets are sealed here.
 */
export function validateTarget(
  v: unknown,
  current: StoredTargetSettings | undefined,
  sealing: SecretSealing,
): StoredTargetSettings {
  if (!isObject(v)) throw new ValidationError('target', 'must be an object');
  const type = v.type === undefined ? (current?.type ?? undefined) : v.type;
  if (type === 'cloudDirectory') {
    knownKeys('target', v, ['type']);
    return DEFAULT_TARGET;
  }
  if (type !== 'scim') throw new ValidationError('target.type', 'must be cloudDirectory or scim');
  return scim(v, current?.type === 'scim' ? current : undefined, sealing);
}

/** A stored target as the API shows it: secrets replaced by whether they are set. */
export function targetView(stored: StoredTargetSettings | undefined): TargetSettings {
  if (!stored || stored.type === 'cloudDirectory') return { type: 'cloudDirectory' };
  const { auth: a, ...rest } = stored;
  return {
    ...rest,
    auth:
      a.type === 'bearer'
        ? { type: 'bearer', token: null, tokenSet: a.tokenSealed.length > 0 }
        : {
            type: 'oauth2',
            tokenUrl: a.tokenUrl,
            clientId: a.clientId,
            clientSecret: null,
            clientSecretSet: a.clientSecretSealed.length > 0,
            scope: a.scope,
          },
  };
}

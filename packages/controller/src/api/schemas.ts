/**
 * JSON schemas of the HTTP API: Fastify validates requests and serialises responses with
 * them, and @fastify/swagger turns the same objects into /api/v1/openapi.json. Shapes
 * follow ../model.ts. Shared shapes are added with app.addSchema and referenced as
 * `{ $ref: 'Name#' }`; they become `components.schemas.Name` in the OpenAPI document.
 */

import { RULE_NAMES } from '../guard/decide';

const str = { type: 'string' } as const;
const nullableStr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const objectType = { type: 'string', enum: ['user', 'group'] } as const;
const count = { type: 'integer', minimum: 0 } as const;

export const ErrorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error answer.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable code, listed in docs/errors.md (e.g. SG_ERR_INVALID_INPUT).' },
        message: { type: 'string' },
        field: { type: 'string', description: 'For 400: the invalid field as a dot path (e.g. accidentalDeletes.threshold).' },
      },
    },
  },
} as const;

const sourceProperties = {
  baseDn: { type: 'string', minLength: 1, maxLength: 2048, description: 'Search base, an LDAP DN.' },
  filter: { type: 'string', maxLength: 4096, description: "Additional LDAP filter; '' for none." },
  objectTypes: { type: 'array', items: objectType, minItems: 1, uniqueItems: true, description: 'Object types in scope.' },
  attributes: {
    type: 'array',
    items: { type: 'string', minLength: 1 },
    description: "Extra attributes; [] for the agent's default set.",
  },
  disabledAttribute: { type: 'string', description: "OpenLDAP: attribute marking an account disabled; '' for none." },
} as const;

const typeLimits = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    threshold: { type: ['integer', 'null'], minimum: 1, description: "Reached when the type's deletes >= threshold." },
    percentage: {
      type: ['number', 'null'],
      exclusiveMinimum: 0,
      maximum: 100,
      description: "Percent of the type's objects held (from minimumObjects of the type on).",
    },
  },
} as const;

const accidentalDeleteProperties = {
  enabled: { type: 'boolean', description: 'Default true.' },
  threshold: { type: 'integer', minimum: 1, description: "Default 500. Reached when a cycle's deletes >= threshold." },
  countDisables: { type: 'boolean', description: 'Count accounts disabled at the source as deletes. Default false.' },
  approvals: {
    type: 'integer',
    enum: [1, 2],
    description: 'Admin tokens that must allow the deletes of a quarantine: 1 (default) or 2 different ones.',
  },
  percentage: {
    type: ['number', 'null'],
    exclusiveMinimum: 0,
    maximum: 100,
    description:
      'Percent: reached when deletes >= this share of the objects the target holds before the cycle (from minimumObjects on). null (default): off.',
  },
  minimumObjects: {
    type: 'integer',
    minimum: 0,
    description: 'The percentages apply only while the target holds at least this many objects (of the type). Default 100.',
  },
  perType: {
    type: ['object', 'null'],
    additionalProperties: false,
    description: 'Limits per object type (rules type:user, type:group). null (default): none.',
    properties: { user: typeLimits, group: typeLimits },
  },
  window: {
    type: ['object', 'null'],
    additionalProperties: false,
    description: "Reached when the deletes applied in the last `hours` plus this cycle's >= threshold. null (default): off.",
    properties: {
      hours: { type: 'integer', minimum: 1, maximum: 720, description: 'Whole hours, at most 720 (30 days).' },
      threshold: { type: 'integer', minimum: 1 },
    },
  },
  hold: {
    type: 'string',
    enum: ['cycle', 'deletes'],
    description:
      'What a quarantine holds back: cycle (default: nothing of the cycle is applied) or deletes (the delete lane: creates and updates are applied at once, deletes are held, later cycles keep running and add theirs). deletes cannot be combined with memberRemovals.',
  },
  memberRemovals: {
    type: ['object', 'null'],
    additionalProperties: false,
    required: ['threshold'],
    description:
      'Reached when the memberships a cycle removes from groups that stay (updated, not deleted) >= threshold. null (default): off.',
    properties: { threshold: { type: 'integer', minimum: 1 } },
  },
  protected: {
    type: ['object', 'null'],
    additionalProperties: false,
    description: 'Objects whose delete (or counted disable) always quarantines. null (default): none.',
    properties: {
      dnSuffixes: {
        type: 'array',
        maxItems: 100,
        items: { type: 'string', minLength: 1 },
        description: 'LDAP DNs: the object and everything under it (case-insensitive, on RDN boundaries).',
      },
      objectIds: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1 } },
    },
  },
} as const;

/** `target`: checked in full by the configuration service (targets/target-settings.ts), which names the bad field. */
const targetInput = {
  type: 'object',
  description:
    'Where cycles are applied: {"type": "cloudDirectory"} (default) or a SCIM 2.0 service provider {"type": "scim", baseUrl, auth, deleteMode, updateMethod, concurrency, maxRequestsPerSecond, failureQuarantinePercent, requestTimeoutSeconds, mapping}. auth: {"type": "bearer", token} or {"type": "oauth2", tokenUrl, clientId, clientSecret, scope}; secrets are write-only and stored encrypted (needs SYNCGUARD_SECRET_KEY).',
  required: [],
  properties: {
    type: { type: 'string', enum: ['cloudDirectory', 'scim'] },
    baseUrl: { type: 'string' },
    auth: { type: 'object' },
    deleteMode: { type: 'string', enum: ['delete', 'deactivate'] },
    updateMethod: {
      type: 'string',
      enum: ['patch', 'put'],
      description:
        'patch (default): PATCH with only what changed. put: for providers without PATCH, a PUT of the whole resource (RFC 7644 3.5.1), group members replaced whole; deactivate mode PUTs the user with active false.',
    },
    concurrency: { type: 'integer', minimum: 1, maximum: 64 },
    maxRequestsPerSecond: { type: ['number', 'null'] },
    failureQuarantinePercent: { type: 'number' },
    requestTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 600 },
    mapping: { type: ['object', 'null'] },
  },
} as const;

/** A target as read: secrets never shown (`token: null, tokenSet: true`). */
const targetOutput = {
  type: 'object',
  additionalProperties: true,
  properties: {
    type: { type: 'string', enum: ['cloudDirectory', 'scim'] },
    baseUrl: { type: 'string' },
    auth: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['bearer', 'oauth2'] },
        token: { type: 'null' },
        tokenSet: { type: 'boolean' },
        tokenUrl: { type: 'string' },
        clientId: { type: 'string' },
        clientSecret: { type: 'null' },
        clientSecretSet: { type: 'boolean' },
        scope: { type: ['string', 'null'] },
      },
    },
    deleteMode: { type: 'string' },
    updateMethod: { type: 'string', enum: ['patch', 'put'] },
    concurrency: { type: 'integer' },
    maxRequestsPerSecond: { type: ['number', 'null'] },
    failureQuarantinePercent: { type: 'number' },
    requestTimeoutSeconds: { type: 'integer' },
    mapping: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

const notificationInputProperties = {
  type: 'object',
  additionalProperties: false,
  description:
    'Email recipients (at most 20, notificationEmail counted with them) and signed webhooks (at most 5) of the events quarantine.started, quarantine.released, quarantine.rejected, quarantine.restarted and cycle.failed. A list given replaces the stored one.',
  properties: {
    emails: { type: 'array', maxItems: 20, items: { type: 'string', minLength: 3, maxLength: 320 } },
    webhooks: {
      type: 'array',
      maxItems: 5,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', minLength: 1, maxLength: 2048, description: 'http:// or https://; unique in the list' },
          secret: {
            type: ['string', 'null'],
            minLength: 16,
            maxLength: 256,
            description:
              'Signs every body (X-Syncguard-Signature: sha256=<hex HMAC-SHA256>). Write-only, stored encrypted (needs SYNCGUARD_SECRET_KEY: without it a new secret is a 400); left out or null keeps the secret stored for the same URL (a new URL needs one).',
          },
          secretSet: { type: 'boolean', description: 'Ignored (as read back).' },
        },
      },
    },
  },
} as const;

const configurationInputProperties = {
  target: targetInput,
  name: { type: 'string', minLength: 1, maxLength: 200 },
  agentIds: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
  syncIntervalSeconds: { type: 'integer', minimum: 10, description: 'Seconds between scheduled cycles, >= 10. Default 120.' },
  notificationEmail: {
    type: ['string', 'null'],
    format: 'email',
    description: 'Where quarantine notifications go; null for nobody. Counts as one of notifications.emails.',
  },
  notifications: notificationInputProperties,
} as const;

export const ConfigurationInputSchema = {
  $id: 'ConfigurationInput',
  type: 'object',
  description: 'Body of POST /configurations.',
  additionalProperties: false,
  required: ['name', 'source'],
  properties: {
    ...configurationInputProperties,
    source: { type: 'object', additionalProperties: false, required: ['baseDn'], properties: sourceProperties },
    accidentalDeletes: { type: 'object', additionalProperties: false, properties: accidentalDeleteProperties },
  },
} as const;

export const ConfigurationPatchSchema = {
  $id: 'ConfigurationPatch',
  type: 'object',
  description: 'Body of PATCH /configurations/{id}: any subset; nested objects merge.',
  additionalProperties: false,
  properties: {
    ...configurationInputProperties,
    source: { type: 'object', additionalProperties: false, properties: sourceProperties },
    accidentalDeletes: { type: 'object', additionalProperties: false, properties: accidentalDeleteProperties },
  },
} as const;

export const ConfigurationSchema = {
  $id: 'Configuration',
  type: 'object',
  required: ['id', 'name', 'state'],
  properties: {
    id: str,
    name: str,
    agentIds: { type: 'array', items: str },
    source: { type: 'object', properties: sourceProperties },
    syncIntervalSeconds: { type: 'integer' },
    accidentalDeletes: { type: 'object', properties: accidentalDeleteProperties },
    notificationEmail: nullableStr,
    target: targetOutput,
    notifications: {
      type: 'object',
      properties: {
        emails: { type: 'array', items: str },
        webhooks: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              url: str,
              secret: { type: 'null', description: 'Write-only: always null here.' },
              secretSet: { type: 'boolean' },
            },
          },
        },
      },
    },
    state: { type: 'string', enum: ['pending', 'healthy', 'quarantined', 'error'] },
    createdAt: time,
    updatedAt: time,
  },
} as const;

export const CycleSchema = {
  $id: 'Cycle',
  type: 'object',
  required: ['id', 'state'],
  properties: {
    id: str,
    configurationId: str,
    state: { type: 'string', enum: ['running', 'applied', 'quarantined', 'failed', 'discarded'] },
    mode: { type: 'string', enum: ['delta', 'full'] },
    changeTracking: {
      type: ['string', 'null'],
      enum: ['scan', 'accesslog', 'usn', 'dirsync', null],
      description:
        "How the agent found what changed: scan (a read of the whole scope), accesslog (OpenLDAP's change log) usn (Active Directory's update sequence numbers with tombstones) or dirsync (Active Directory's DirSync control); null until the agent completed its read, or from agents that do not say.",
    },
    drift: {
      type: ['integer', 'null'],
      minimum: 0,
      description:
        "A full consistency read (the agent's LDAP_FULL_SCAN_INTERVAL: the change log, then a scan of the whole scope): the changes the scan found that the log did not show; null when the cycle made none.",
    },
    trigger: {
      type: 'string',
      enum: ['schedule', 'manual', 'restart', 'agent-connected', 'release', 'retry'],
      description:
        'release: the cycle (without an agent) that applies the held set of a delete lane (hold "deletes"). retry: a cycle brought forward because operations of the cycle before were still transient after the target client\'s own retries (see retryAt).',
    },
    transient: {
      ...count,
      description:
        'Of counts.failed, the operations whose last error was transient (429, 503, 5xx, timeouts) after every attempt of the target client; present only when some were.',
    },
    retryAt: {
      ...time,
      description:
        'Present when the cycle ended with transient failures: when the next cycle (trigger retry) was brought forward to, after the longest Retry-After the target sent (or 10 s without one), at least 1 s and at most 5 minutes; not set when the schedule comes sooner.',
    },
    heldDeletes: {
      ...count,
      description: 'With the delete lane open: the deletes this cycle added to the held set (not applied; counts.delete is 0).',
    },
    agentId: nullableStr,
    baseCycleId: nullableStr,
    startedAt: time,
    completedAt: nullableTime,
    counts: {
      type: 'object',
      properties: {
        create: count,
        update: count,
        delete: count,
        failed: {
          ...count,
          description: 'Operations the target did not apply; logged as failures and tried again by the next cycles.',
        },
      },
    },
    approvalId: {
      type: ['string', 'null'],
      description: 'The pre-approval (POST .../delete-approvals) that let its deletes through without quarantine.',
    },
    error: {
      type: ['object', 'null'],
      description:
        "Why the cycle failed or was discarded: code ABANDONED, CONTROLLER_ERROR, LIMIT_EXCEEDED, DISCARDED or the agent's CYCLE_ERROR_* (docs/errors.md, Cycle errors).",
      properties: { code: str, message: str },
    },
  },
} as const;

export const QuarantineSchema = {
  $id: 'Quarantine',
  type: 'object',
  required: ['reason', 'deleteCount', 'threshold', 'trippedBy', 'cycleId'],
  properties: {
    reason: { type: 'string', enum: ['TooManyDeletes', 'TargetFailures'] },
    deleteCount: count,
    threshold: { type: 'integer' },
    trippedBy: {
      type: 'array',
      description: 'Every rule of the delete policy that tripped: the value the cycle reached and the limit.',
      items: {
        type: 'object',
        required: ['rule', 'value', 'limit'],
        properties: {
          rule: { type: 'string', enum: [...RULE_NAMES] },
          value: { type: 'number', description: 'A count, or for a percentage the percent (one decimal).' },
          limit: { type: 'number' },
          of: { type: 'integer', description: 'Percentages only: the number of objects (of the type) the value is a share of.' },
        },
      },
    },
    seriesCount: {
      type: 'integer',
      minimum: 1,
      description:
        'How many cycles found this quarantine so far: with hold deletes, the cycle that opened the lane and every cycle run since; with hold cycle, the quarantined cycle and those restart discarded just before it.',
    },
    hold: {
      type: 'string',
      enum: ['cycle', 'deletes'],
      description: 'cycle: nothing of the quarantined cycle is applied; deletes: the delete lane, deleteCount is the held set.',
    },
    cycleId: str,
    since: time,
    notification: {
      type: 'object',
      properties: {
        status: { type: 'string', enum: ['none', 'pending', 'sent', 'failed'] },
        attempts: count,
        lastError: nullableStr,
        sentAt: nullableTime,
      },
    },
  },
} as const;

export const NotificationEventSchema = {
  $id: 'NotificationEvent',
  type: 'object',
  required: ['id', 'event', 'at', 'deliveries'],
  properties: {
    id: { type: 'string', description: "The event id: the webhook body's id and X-Syncguard-Delivery." },
    event: {
      type: 'string',
      enum: [
        'quarantine.started',
        'quarantine.released',
        'quarantine.rejected',
        'quarantine.restarted',
        'cycle.failed',
        'notification.test',
      ],
    },
    at: time,
    cycleId: nullableStr,
    deliveries: {
      type: 'array',
      description: 'One per endpoint (email address or webhook URL) the event went to.',
      items: {
        type: 'object',
        required: ['channel', 'to', 'status', 'attempts'],
        properties: {
          channel: { type: 'string', enum: ['email', 'webhook'] },
          to: { type: 'string', description: 'The email address or the webhook URL.' },
          status: {
            type: 'string',
            enum: ['pending', 'delivered', 'failed', 'cancelled'],
            description:
              'pending: being tried or waiting for a retry; failed: every attempt failed; cancelled: the endpoint (or the configuration) was removed meanwhile.',
          },
          attempts: count,
          lastError: nullableStr,
          responseStatus: { type: ['integer', 'null'], description: 'Webhooks: the HTTP status of the last answer.' },
          deliveredAt: nullableTime,
        },
      },
    },
  },
} as const;

export const StagedDeleteSchema = {
  $id: 'StagedDelete',
  type: 'object',
  required: ['objectId', 'objectType', 'dn', 'parentDn', 'cause'],
  properties: {
    objectId: str,
    objectType: objectType,
    dn: { type: 'string', description: 'As the target holds the object (before the change)' },
    parentDn: { type: 'string', description: "dn without its first RDN ('' for a one-RDN DN)" },
    cause: { type: 'string', enum: ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'] },
    newDn: { type: 'string', description: 'movedOutOfScope: where the agent found the object, when it knows' },
  },
} as const;

export const ConfigurationStatusSchema = {
  $id: 'ConfigurationStatus',
  type: 'object',
  required: ['state', 'quarantine', 'lastCycle'],
  properties: {
    state: { type: 'string', enum: ['pending', 'healthy', 'quarantined', 'error'] },
    quarantine: { anyOf: [{ type: 'null' }, { $ref: 'Quarantine#' }] },
    lastCycle: { anyOf: [{ type: 'null' }, { $ref: 'Cycle#' }] },
    notifications: {
      type: 'array',
      description: 'The newest notification events (at most 5), newest first, with the state of their deliveries.',
      items: { $ref: 'NotificationEvent#' },
    },
  },
} as const;

export const PROVISIONING_ACTIONS = ['Create', 'Update', 'Delete', 'StagedDelete'] as const;

export const DELETE_CAUSES = ['deleted', 'movedOutOfScope', 'filteredOut', 'disabled', 'scopeChanged', 'unknown'] as const;

export const ProvisioningLogEntrySchema = {
  $id: 'ProvisioningLogEntry',
  type: 'object',
  required: ['id', 'cycleId', 'action', 'status'],
  properties: {
    id: str,
    cycleId: str,
    at: time,
    action: { type: 'string', enum: PROVISIONING_ACTIONS },
    status: { type: 'string', enum: ['success', 'failure', 'skipped', 'staged'] },
    objectType: objectType,
    objectId: str,
    dn: str,
    details: nullableStr,
    cause: {
      type: 'string',
      enum: DELETE_CAUSES,
      description:
        'Delete and StagedDelete entries: why the object is deleted (deleted, moved out of the base DN, no longer matching the filter or object types, a counted disable, the scope changed, or unknown)',
    },
    newDn: { type: 'string', description: 'A delete moved out of scope: the DN the agent found the object at' },
  },
} as const;

export const AgentSchema = {
  $id: 'Agent',
  type: 'object',
  required: ['id', 'name', 'status'],
  properties: {
    id: str,
    name: str,
    status: { type: 'string', enum: ['connected', 'disconnected'] },
    lastSeenAt: nullableTime,
    version: nullableStr,
    hostname: nullableStr,
    configurationIds: { type: 'array', items: str },
    createdAt: time,
  },
} as const;

export const CloudObjectSchema = {
  $id: 'CloudObject',
  type: 'object',
  required: ['id', 'type', 'dn'],
  properties: {
    id: str,
    type: objectType,
    dn: str,
    attributes: { type: 'object', additionalProperties: { type: 'array', items: str } },
    disabled: { type: 'boolean' },
    memberDns: { type: 'array', items: str },
    memberIds: { type: 'array', items: str },
    updatedAt: time,
  },
} as const;

export const AuditEntrySchema = {
  $id: 'AuditEntry',
  type: 'object',
  required: ['id', 'at', 'actor', 'action'],
  properties: {
    id: str,
    at: time,
    actor: { type: 'object', properties: { tokenId: str, name: str } },
    action: { type: 'string', description: "e.g. 'allow-deletes', 'restart', 'configuration.update', 'token.create'" },
    target: { type: 'object', properties: { type: str, id: str } },
    details: { type: 'object', additionalProperties: true },
  },
} as const;

export const ApiTokenSchema = {
  $id: 'ApiToken',
  type: 'object',
  required: ['id', 'name', 'role'],
  properties: {
    id: str,
    name: str,
    role: { type: 'string', enum: ['admin', 'reader'] },
    createdAt: time,
    lastUsedAt: nullableTime,
  },
} as const;

/** Every shared schema, in an order where each $ref points back. */
export const sharedSchemas = [
  ErrorSchema,
  ConfigurationInputSchema,
  ConfigurationPatchSchema,
  ConfigurationSchema,
  CycleSchema,
  QuarantineSchema,
  NotificationEventSchema,
  StagedDeleteSchema,
  ConfigurationStatusSchema,
  ProvisioningLogEntrySchema,
  AgentSchema,
  CloudObjectSchema,
  AuditEntrySchema,
  ApiTokenSchema,
] as const;

export const MAX_PAGE_SIZE = 1000;

/** `limit` and `cursor` of every list. */
export const pageQueryProperties = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, description: `Page size, 1 to ${MAX_PAGE_SIZE}; default 50.` },
  cursor: { type: 'string', minLength: 1, description: 'The nextCursor of the previous page.' },
} as const;

export function pageOf(ref: string, description: string) {
  return {
    type: 'object',
    description,
    required: ['items', 'nextCursor'],
    properties: {
      items: { type: 'array', items: { $ref: `${ref}#` } },
      nextCursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page; null on the last page.' },
    },
  } as const;
}

/**
 * What an id of an agent, a configuration or a cycle is: the controller makes them with
 * crypto.randomUUID(). Anything else is refused (400) before Redis is asked, so that an
 * id can never reach into another key (`<id>:state`).
 */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const uuid = { type: 'string', pattern: UUID_PATTERN, description: 'An id the controller made (a lower-case UUID).' } as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: uuid },
} as const;

/** API token ids: 16 lower-case hex digits (the `<id>` of `sgt_<id>_<secret>`). */
export const tokenIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f]{16}$', description: 'An API token id (16 hex digits).' } },
} as const;

/** A cycle id in a query string. */
export const cycleIdQuery = uuid;

/** The error answers a route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, { $ref: string; description: string }> {
  const descriptions: Record<number, string> = {
    400: 'Invalid input; error.field names the field',
    401: 'No or bad token',
    403: 'The token role may not do this',
    404: 'Unknown id',
    409: 'Wrong state',
    429: 'Too many failed authentications from this address; see Retry-After',
    503: "SG_ERR_UNAVAILABLE: the controller's Redis did not answer in time; retry later",
  };
  const out: Record<number, { $ref: string; description: string }> = {};
  for (const status of [401, 429, 503, ...statuses])
    out[status] = { $ref: 'Error#', description: descriptions[status] ?? 'Error' };
  return out;
}

import { isSecretAttribute, type Change } from '@syncguard/protocol';
import type { CloudObject, ObjectTypeName, Page } from '../model';

/** One object operation of an evaluated cycle. */
export type TargetOperation =
  | {
      kind: 'create' | 'update';
      objectId: string;
      objectType: ObjectTypeName;
      dn: string;
      /** null when the source sent no attributes (a FULL-mode PRESENT): keep what the target has. */
      attributes: Record<string, string[]> | null;
      disabled: boolean;
      memberDns: string[];
      /**
       * The change as the agent encoded it (protobuf `Change` of `protocolVersion`), when the
       * pipeline holds it so (never with null attributes). A target that can keep it as it is
       * (the cloud directory) copies it instead of reading `attributes`.
       */
      encoded?: { protocolVersion: number; change: Uint8Array };
    }
  | { kind: 'delete'; objectId: string; objectType: ObjectTypeName; dn: string };

/**
 * What became of one operation:
 * - `applied`: the target holds what the operation says (`details`: a note for the log);
 * - `failed`: a permanent error (the target refused it: `reason` says why);
 * - `retry`: a transient error (unreachable, throttled); `retryAfterMs` when the target said.
 * A failed or retried object is not counted as synced: the pipeline keeps what it owes the
 * target and applies it again in later cycles, without a change at the source.
 */
export type TargetOutcome =
  | { readonly status: 'applied'; readonly details: string | null }
  | { readonly status: 'failed'; readonly reason: string }
  | { readonly status: 'retry'; readonly reason: string; readonly retryAfterMs?: number };

/**
 * The commit a chunk belongs to, opaque to targets. A transactional target (one that lives
 * in the controller's own store, like the built-in cloud directory) hands it back to the
 * store to add its writes to the commit of the pipeline's bookkeeping, so that a chunk is
 * applied exactly once even when the controller dies mid-apply. Other targets ignore it.
 */
export interface UnitOfWork {
  readonly __unitOfWork: unique symbol;
}

/**
 * Where cycles are applied. The pipeline calls `apply` with chunks of operations in plan
 * order and records each outcome in the provisioning log in the same commit as its
 * progress marker. A remote target (SCIM) performs its calls before that commit and must
 * make them idempotent (upsert by object id, delete of a missing object succeeds), because
 * a crash can repeat the last chunk. The pipeline never asks a target what it holds: it
 * keeps its own index of what was applied.
 */
export interface Target {
  readonly kind: string;
  /**
   * True when `apply` only reads and adds its writes to `unit` (nothing happens outside
   * the commit): the pipeline may then work out the next chunk while the current one
   * commits. Remote targets leave it unset.
   */
  readonly transactional?: boolean;
  /**
   * A remote target's failure limit: once at least `percent` of a cycle's operations (and
   * at least `minimum`) failed, the cycle is quarantined with `TargetFailures` and nothing
   * more of it is sent. Unset: never.
   */
  readonly failureQuarantine?: { readonly percent: number; readonly minimum: number };
  /** One outcome per operation, in their order. */
  apply(configurationId: string, operations: readonly TargetOperation[], unit: UnitOfWork): Promise<TargetOutcome[]>;
  listObjects(
    configurationId: string,
    query: { type?: ObjectTypeName; limit: number; cursor?: string },
  ): Promise<{ total: number } & Page<CloudObject>>;
  /** Removes everything held for the configuration (configuration deleted). */
  removeAll(configurationId: string): Promise<void>;
}

/**
 * A change's attributes as targets see them: `{name: values}`, binary values as `base64:<value>`.
 * Password-equivalent attributes (SECRET_ATTRIBUTES) are dropped: an agent never sends them,
 * and one that does (an old or hostile one) gets them neither served nor provisioned.
 */
export function attributesObject(attributes: Change['attributes']): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of attributes) {
    if (isSecretAttribute(a.name)) continue;
    const values = a.binary ? a.values.map((v) => `base64:${v}`) : a.values;
    // An attribute named __proto__ must stay an attribute, not become the object's prototype.
    if (a.name === '__proto__')
      Object.defineProperty(out, a.name, { value: values, enumerable: true, writable: true, configurable: true });
    else out[a.name] = values;
  }
  return out;
}

/** Attributes in the JSON form (as earlier versions stored them), without the secret ones. */
export function withoutSecretAttributes(attributes: Record<string, string[]>): Record<string, string[]> {
  for (const name of Object.keys(attributes)) if (isSecretAttribute(name)) delete attributes[name];
  return attributes;
}

/**
 * Protocol versions of the encoded changes that this build reads where it stores them (staged
 * batches, cloud directory objects). Kept apart from the versions spoken on the wire: a build
 * that stops speaking version 1 to agents must still read the objects stored as version 1.
 */
export const STORED_CHANGE_VERSIONS: readonly number[] = [1];

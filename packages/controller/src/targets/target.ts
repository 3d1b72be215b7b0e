import { isSecretAttribute, type Change } from '@syncguard/protocol';
import type { ChainableCommander } from 'ioredis';
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
       * `attributes` and `memberDns` as JSON text, when the pipeline holds them so (never
       * with null attributes). A target that stores JSON copies them instead of reading
       * `attributes`, which the pipeline then never has to parse.
       */
      json?: { attributes: string; memberDns: string };
      /**
       * The change as the agent encoded it (protobuf `Change` of `protocolVersion`), when the
       * pipeline holds it so (never with null attributes). A target that can keep it as it is
       * (the cloud directory) copies it instead of reading `attributes`.
       */
      encoded?: { protocolVersion: number; change: Uint8Array };
    }
  | { kind: 'delete'; objectId: string; objectType: ObjectTypeName; dn: string };

export interface TargetResult {
  ok: boolean;
  /** Why an operation failed, or a note for the provisioning log. */
  details: string | null;
}

/**
 * Where cycles are applied. The pipeline calls `apply` with chunks of operations in
 * plan order and records each result in the provisioning log in the same Redis
 * transaction as its progress marker. A target that lives in the controller's Redis (the
 * built-in cloud directory) queues its writes on `tx` so that they commit atomically
 * with that marker: a chunk is applied exactly once even when the controller dies
 * mid-apply. A remote target (SCIM) ignores `tx`, performs its calls before the
 * transaction and must make them idempotent (upsert by object id, delete of a missing
 * object succeeds), because a crash can repeat the last chunk.
 */
export interface Target {
  readonly kind: string;
  /**
   * True when `apply` only reads and queues its writes on `tx` (nothing happens outside
   * the transaction): the pipeline may then run it for the next chunk while the current
   * chunk commits. Remote targets leave it unset.
   */
  readonly deferredWrites?: boolean;
  apply(configurationId: string, operations: readonly TargetOperation[], tx: ChainableCommander): Promise<TargetResult[]>;
  /** The type and DN the target holds for each id (null for unknown ids). */
  describe(configurationId: string, objectIds: readonly string[]): Promise<({ type: ObjectTypeName; dn: string } | null)[]>;
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

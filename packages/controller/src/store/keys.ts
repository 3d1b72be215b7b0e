/**
 * The controller's Redis key layout. Every key starts with the configured prefix
 * (default `syncguard`), so several controllers (or tests) can share one Redis.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `P:agents` | zset | agent ids by creation time |
 * | `P:agent:{id}` | hash | name, tokenHash, createdAt, lastSeenAt, version, hostname |
 * | `P:agent-token:{sha256}` | string | agent id of a token hash |
 * | `P:agent-names` | hash | agent name -> agent id: names are unique (claimed with HSETNX on registration) |
 * | `P:agent:{id}:session` | string (TTL) | `{controllerId}/{sessionId}/2` while connected (`/2`: its controller keeps a liveness key) |
 * | `P:controller:{id}` | string (TTL) | present while that controller process runs (refreshed every few seconds) |
 * | `P:agent:{id}:cursors` | hash | configuration id -> the agent's committed cycle id |
 * | `P:configs` | zset | configuration ids by creation time |
 * | `P:config:{id}` | string | the configuration's settings (JSON) |
 * | `P:config:{id}:state` | hash | state, currentCycleId, lastCycleId, committedCycleId, committedScope, quarantine, notification, lane (`1` while a delete lane is open), restartedSeries (the seriesCount of a quarantine restart discarded, until a cycle is applied) |
 * | `P:config:{id}:active` | string | the active agent's id |
 * | `P:config:{id}:cycles` | zset | cycle ids by start time |
 * | `P:config:{id}:index` | hash | synced index: object id -> `<content hash (hex)>\t<u\|g>\t<dn>` as applied (store/index-entry.ts) |
 * | `P:config:{id}:held` | hash | `user`, `group` -> objects of the type the index holds (kept by apply chunks, set exactly by FULL cycles; for the delete guard's per-type percentages) |
 * | `P:config:{id}:applied-deletes` | zset | `<cycleId>:<deletes applied>` by commit time (ms), cycles with deletes only, pruned to 30 days (the delete guard's `window`) |
 * | `P:config:{id}:lane` | hash | the delete lane's held set: object id -> its delete plan entry (cycles/plan-entry.ts), while `hold: "deletes"` holds deletes (cycles/delete-lane.ts) |
 * | `P:config:{id}:members` | hash | group id -> its member keys (JSON) as applied (store/member-record.ts), for the delete guard's `memberRemovals` |
 * | `P:config:{id}:retry` | hash | object id -> what the pipeline still owes the target for it, JSON (store/retry-record.ts): operations that failed, put into later cycles' plans |
 * | `P:config:{id}:scim` | hash | SCIM target: object id -> what it keeps of the resource, JSON `{id, type, dn, sent, members?}` (store/scim-record-store.ts) |
 * | `P:config:{id}:scim-dn` | hash | SCIM target: lower-cased DN -> the service provider's id (members and managers resolve through it) |
 * | `P:config:{id}:plog` | stream | provisioning log: an entry (field `d`, JSON) or a bundle of entries (field `b`, JSON `{cycleId, at, e: [[action, status, type, id, dn, details]...]}`) |
 * | `P:cycle:{id}` | hash | the cycle's record: phase, configurationId, agentId, mode, trigger, baseCycleId, scope, startedAt, lastFrameAt, acked, seenThrough, duplicates, bytes, lastSequence, totals, agentMode, changeTracking, drift, evaluatedMode, planSize, deleteCount, counts, stagedPreview, retries, retryRecords, mootRetries, applied, failed, released, releasedBy, releasedAt, completedAt, error (cycles/cycle-record.ts) |
 * | `P:cycle:{id}:batches` | hash | `<seq>` -> the batch's changes as the agent encoded them (binary), `s<seq>` -> their summaries (JSON); see pipeline/stored-batch.ts |
 * | `P:cycle:{id}:seen` | hash | object id -> `seq:idx` of its last change in the cycle (written with each batch) |
 * | `P:cycle:{id}:approvals` | set | token ids of the admins who allowed the quarantined cycle's deletes, while `approvals: 2` waits for the second |
 * | `P:cycle:{id}:plan` | list | the evaluated operations, applied in order (cycles/plan-entry.ts) |
 * | `P:cycle:{id}:plan:{run}:{part}` | list/set (TTL) | parts of a plan while an evaluation writes it (renamed into the plan) |
 * | `P:dir:{cfg}:o:{oid}` | string | a cloud directory object: binary (0x00, protocol version, updated-at ms varint, the encoded `Change`) or, as earlier versions wrote it, JSON; see targets/cloud-directory.ts |
 * | `P:dir:{cfg}:t:{type}` | zset (lex) | object ids of the type (each object in one) |
 * | `P:dir:{cfg}:dn` | hash | lower-cased DN -> object id |
 * | `P:audit` | stream | audit entries (field `d`, JSON) |
 * | `P:agent-commands` | pub/sub | frames for agents connected to another replica |
 * | `P:authfail:{address}` | string (TTL) | failed authentications of a client address in the current window (store/auth-failure-store.ts, for auth/auth-failure-limiter.ts) |
 * | `P:dashboard-session:{sha256}` | string (TTL) | the Actor (JSON) of an /admin/queues browser session (store/dashboard-sessions.ts) |
 * | `P:bull:*` | BullMQ | queues `cycles`, `schedule`, `mail` |
 */
export class Keys {
  constructor(readonly prefix: string) {}

  get agents(): string {
    return `${this.prefix}:agents`;
  }
  agent(id: string): string {
    return `${this.prefix}:agent:${id}`;
  }
  get agentNames(): string {
    return `${this.prefix}:agent-names`;
  }
  agentToken(hash: string): string {
    return `${this.prefix}:agent-token:${hash}`;
  }
  agentSession(id: string): string {
    return `${this.prefix}:agent:${id}:session`;
  }
  controller(id: string): string {
    return `${this.prefix}:controller:${id}`;
  }
  agentCursors(id: string): string {
    return `${this.prefix}:agent:${id}:cursors`;
  }
  get configs(): string {
    return `${this.prefix}:configs`;
  }
  config(id: string): string {
    return `${this.prefix}:config:${id}`;
  }
  state(id: string): string {
    return `${this.prefix}:config:${id}:state`;
  }
  active(id: string): string {
    return `${this.prefix}:config:${id}:active`;
  }
  cycles(id: string): string {
    return `${this.prefix}:config:${id}:cycles`;
  }
  index(id: string): string {
    return `${this.prefix}:config:${id}:index`;
  }
  /** Objects the synced index holds per type (for the delete guard). */
  heldCounts(id: string): string {
    return `${this.prefix}:config:${id}:held`;
  }
  /** Deletes applied by the configuration's cycles, by commit time (the delete guard's window). */
  appliedDeletes(id: string): string {
    return `${this.prefix}:config:${id}:applied-deletes`;
  }
  /** The delete lane's held set (cycles/delete-lane.ts). */
  lane(id: string): string {
    return `${this.prefix}:config:${id}:lane`;
  }
  /** Groups' members as applied (the delete guard's `memberRemovals`). */
  members(id: string): string {
    return `${this.prefix}:config:${id}:members`;
  }
  retry(id: string): string {
    return `${this.prefix}:config:${id}:retry`;
  }
  /** The SCIM target's records: object id -> JSON. */
  scimRecords(id: string): string {
    return `${this.prefix}:config:${id}:scim`;
  }
  /** The SCIM target's DN map: lower-cased DN -> the service provider's id. */
  scimDns(id: string): string {
    return `${this.prefix}:config:${id}:scim-dn`;
  }
  plog(id: string): string {
    return `${this.prefix}:config:${id}:plog`;
  }
  cycle(id: string): string {
    return `${this.prefix}:cycle:${id}`;
  }
  batches(cycleId: string): string {
    return `${this.prefix}:cycle:${cycleId}:batches`;
  }
  plan(cycleId: string): string {
    return `${this.prefix}:cycle:${cycleId}:plan`;
  }
  seen(cycleId: string): string {
    return `${this.prefix}:cycle:${cycleId}:seen`;
  }
  /**
   * A part of a plan being written by evaluation run `run` (u: users, g: groups, d: deletes,
   * ds: delete ids, sd: StagedDelete log bundles of a quarantine).
   */
  planPart(cycleId: string, run: string, part: 'u' | 'g' | 'd' | 'ds' | 'sd'): string {
    return `${this.prefix}:cycle:${cycleId}:plan:${run}:${part}`;
  }
  /** Everything staged for a cycle that goes once the cycle is applied or discarded. */
  staged(cycleId: string): string[] {
    return [this.batches(cycleId), this.seen(cycleId), this.plan(cycleId), this.approvals(cycleId)];
  }
  /** Admin tokens that allowed a quarantined cycle's deletes (with `approvals: 2`). */
  approvals(cycleId: string): string {
    return `${this.prefix}:cycle:${cycleId}:approvals`;
  }
  dirObject(cfg: string, oid: string): string {
    return `${this.prefix}:dir:${cfg}:o:${oid}`;
  }
  dirType(cfg: string, type: string): string {
    return `${this.prefix}:dir:${cfg}:t:${type}`;
  }
  dirDn(cfg: string): string {
    return `${this.prefix}:dir:${cfg}:dn`;
  }
  get audit(): string {
    return `${this.prefix}:audit`;
  }
  get commands(): string {
    return `${this.prefix}:agent-commands`;
  }
  get bullPrefix(): string {
    return `${this.prefix}:bull`;
  }
  apiToken(id: string): string {
    return `${this.prefix}:apitoken:${id}`;
  }
  get apiTokens(): string {
    return `${this.prefix}:apitokens`;
  }
  /** An /admin/queues browser session, by the hex SHA-256 of its id. */
  dashboardSession(idHash: string): string {
    return `${this.prefix}:dashboard-session:${idHash}`;
  }
  /** Failed authentications of a client address in the current window. */
  authFailures(address: string): string {
    return `${this.prefix}:authfail:${address}`;
  }
}

/**
 * The controller's Redis key layout. Every key starts with the configured prefix
 * (default `syncguard`), so several controllers (or tests) can share one Redis.
 *
 * **Hash tags (Redis Cluster).** A Cluster keeps a key in the slot of the text between its
 * first `{` and the next `}`, and refuses a Lua script, a MULTI or a pipeline whose keys lie
 * in different slots (CROSSSLOT). So every key that one script or MULTI touches carries the
 * same tag; on one server or Sentinel the braces are only characters. The rule, for every
 * key added here:
 * - **`{C}`, a configuration's tag**, is `{` + the first 8 hex digits of the configuration id
 *   + `}` (`configTag`). Everything of a configuration carries it: its settings, state, index,
 *   logs, cloud directory objects, and its cycles. **A cycle id begins with the 8 hex digits of
 *   its configuration's id** (`newCycleId`, still a UUID), so a cycle's keys are built from the
 *   cycle id alone and live in its configuration's slot: the scripts that move a cycle and
 *   its configuration's state together never cross slots. Configurations spread over the
 *   cluster; one configuration lives on one master.
 * - **`{agents}`**: the agent registry (ids, records, token index, names, cursors), which the
 *   register, rotate and delete scripts touch together. It is small (one hash per agent).
 * - **`{g}`**: the global indexes a configuration change writes beside its own keys (the
 *   configuration list, the audit stream). Such a change is two transactions, one per slot,
 *   in an order that a crash between them cannot turn into a lie (configuration-store.ts).
 * - **No tag** for a key only ever touched alone (a session, a controller's liveness, a
 *   failure counter, a dashboard session).
 * - **BullMQ** queues each carry a tag in their prefix (BullMQ's scripts touch all of a
 *   queue's keys); the cycle jobs are sharded over `CYCLE_QUEUE_SHARDS` queues by the
 *   configuration's tag, so that their load spreads and one configuration's jobs stay in order.
 *
 * `P` is the prefix, `<id>` an id; `{...}` is a literal hash tag.
 *
 * | key | type | holds |
 * |---|---|---|
 * | `P:{agents}:agents` | zset | agent ids by creation time |
 * | `P:{agents}:agent:<id>` | hash | name, tokenHash, createdAt, lastSeenAt, version, hostname |
 * | `P:{agents}:agent-token:<sha256>` | string | agent id of a token hash |
 * | `P:{agents}:agent-names` | hash | agent name -> agent id: names are unique (claimed with HSETNX on registration) |
 * | `P:agent:<id>:session` | string (TTL) | `{controllerId}/{sessionId}/2` while connected (`/2`: its controller keeps a liveness key) |
 * | `P:controller:<id>` | string (TTL) | present while that controller process runs (refreshed every few seconds) |
 * | `P:{agents}:agent:<id>:cursors` | hash | configuration id -> the agent's committed cycle id |
 * | `P:{agents}:agent:<id>:configs` | set | ids of the configurations that name the agent in `agentIds` (a superset: added before a configuration names the agent, removed after it no longer does; readers check `agentIds`), so that a session's hello and a failover read the agent's configurations, not all of them |
 * | `P:{g}:configs` | zset | configuration ids by creation time |
 * | `P:{C}:config:<id>` | string | the configuration's settings (JSON) |
 * | `P:{C}:config:<id>:state` | hash | state, currentCycleId, lastCycleId, committedCycleId, committedScope, quarantine, notification, lane (`1` while a delete lane is open), restartedSeries (the seriesCount of a quarantine restart discarded, until a cycle is applied) |
 * | `P:{C}:config:<id>:active` | string | the active agent's id |
 * | `P:{C}:config:<id>:cycles` | zset | cycle ids by start time |
 * | `P:{C}:config:<id>:index` | hash | synced index: object id -> `<content hash (hex)>\t<u\|g>\t<dn>` as applied (store/index-entry.ts) |
 * | `P:{C}:config:<id>:held` | hash | `user`, `group` -> objects of the type the index holds (kept by apply chunks, set exactly by FULL cycles; for the delete guard's per-type percentages) |
 * | `P:{C}:config:<id>:applied-deletes` | zset | `<cycleId>:<deletes applied>` by commit time (ms), cycles with deletes only, pruned to 30 days (the delete guard's `window`) |
 * | `P:{C}:config:<id>:lane` | hash | the delete lane's held set: object id -> its delete plan entry (cycles/plan-entry.ts), while `hold: "deletes"` holds deletes (cycles/delete-lane.ts) |
 * | `P:{C}:config:<id>:kept` | hash | kept objects (issue 18's triage): object id -> `<keptAt ISO>\t<cycle id>\t<its delete plan entry>` (store/kept-record.ts): deletes an admin kept, which stay in the target and trip nothing while out of scope (cycles/triage.ts) |
 * | `P:{C}:config:<id>:kept-approvals` | set | `<selection SHA-256>:<token id>` of admins who asked to delete kept objects, while `approvals: 2` waits for the second |
 * | `P:{C}:config:<id>:members` | hash | group id -> its member keys (JSON) as applied (store/member-record.ts), for the delete guard's `memberRemovals` |
 * | `P:{C}:config:<id>:retry` | hash | object id -> what the pipeline still owes the target for it, JSON (store/retry-record.ts): operations that failed, put into later cycles' plans |
 * | `P:{C}:config:<id>:scim` | hash | SCIM target: object id -> what it keeps of the resource, JSON `{id, type, dn, sent, members?, memberDns?}` (store/scim-record-store.ts) |
 * | `P:{C}:config:<id>:scim-dn` | hash | SCIM target: lower-cased DN -> the service provider's id (members and managers resolve through it) |
 * | `P:{C}:config:<id>:scim-listed` | zset (lex) | SCIM target: `<member DN, lower-cased>\0<group object id>` for every member DN a provisioned group lists, resolved or not (a member provisioned later, deleted or renamed finds its groups here) |
 * | `P:{C}:config:<id>:scim-unsettled` | set | SCIM target: group object ids whose members a failed request left unlike their record (reconciled by the next apply chunk) |
 * | `P:{C}:config:<id>:plog` | stream | provisioning log: an entry (field `d`, JSON) or a bundle of entries (field `b`, JSON `{cycleId, at, e: [[action, status, type, id, dn, details]...]}`) |
 * | `P:{C}:cycle:<id>` | hash | the cycle's record: phase, configurationId, agentId, mode, trigger, baseCycleId, scope, startedAt, lastFrameAt, acked, seenThrough, duplicates, bytes, lastSequence, totals, agentMode, changeTracking, drift, evaluatedMode, planSize, deleteCount, counts, stagedPreview, retries, retryRecords, mootRetries, applied, failed, released, releasedBy, releasedAt, completedAt, error, approvalId (cycles/cycle-record.ts) |
 * | `P:{C}:cycle:<id>:batches` | hash | `<seq>` -> the batch's changes as the agent encoded them (binary), `s<seq>` -> their summaries (JSON); see pipeline/stored-batch.ts |
 * | `P:{C}:cycle:<id>:seen` | hash | object id -> `seq:idx` of its last change in the cycle (written with each batch) |
 * | `P:{C}:cycle:<id>:approvals` | set | token ids of the admins who allowed the quarantined cycle's deletes (all of them), or `<selection SHA-256>:<token id>` for a partial release, while `approvals: 2` waits for the second |
 * | `P:{C}:cycle:<id>:plan` | list | the evaluated operations, applied in order (cycles/plan-entry.ts) |
 * | `P:{C}:cycle:<id>:plan:<run>:<part>` | list/set (TTL) | parts of a plan while an evaluation writes it (renamed into the plan) |
 * | `P:{C}:dir:<cfg>:o:<oid>` | string | a cloud directory object: binary (0x00, protocol version, updated-at ms varint, the encoded `Change`) or, as earlier versions wrote it, JSON; see targets/cloud-directory.ts |
 * | `P:{C}:dir:<cfg>:t:<type>` | zset (lex) | object ids of the type (each object in one) |
 * | `P:{C}:dir:<cfg>:dn` | hash | lower-cased DN -> object id |
 * | `P:{C}:dir:<cfg>:n:<type>` | zset (lex) | `<SCIM name, lower-cased>\0<object id>` per object of the type (a user's userName, a group's displayName, as the read-only SCIM view renders them; store/scim-name.ts), kept by the apply chunks: the view's `eq` filters |
 * | `P:{C}:config:<id>:delete-approvals` | hash | approval id -> a pre-approval, JSON (store/delete-approval-store.ts) |
 * | `P:{C}:config:<id>:notifications` | zset | event ids by time (ms), the newest 100 kept (store/notification-store.ts) |
 * | `P:{C}:config:<id>:outbox` | hash | event id -> outbox entry JSON `{id, event, configurationId, cycleId, at, quarantine, actor}` (cycles/cycle-events.ts): written in the script or MULTI of the transition the event reports, removed once the event's delivery jobs are in the `notify` queue (notifications/outbox-dispatcher.ts) |
 * | `P:{C}:notification:<eventId>` | hash (TTL 30 days) | `event` (JSON header: id, event, at, configurationId, cycleId), `body` (the webhook body exactly as sent), `d:<endpoint key>` (JSON: one delivery's state); an event id begins with its configuration id's 8 hex digits, as a cycle id does |
 * | `P:{C}:preview:<id>` | hash (TTL 1 hour) | a preview (previews/preview-records.ts): configurationId, agentId, session (the agent's session key value at the start), state, startedAt, lastFrameAt, acked, objects, the counts so far, scope, policy, laneHeld, readComplete, result, completedAt, error; a preview id begins with its configuration id's 8 hex digits, as a cycle id does |
 * | `P:{C}:preview:<id>:seen` | set (TTL 1 hour) | object ids the preview's agent reported (and, while evaluating, the index ids counted as deletes); removed when it ends |
 * | `P:{C}:preview:<id>:sample` | list (TTL 1 hour) | the first 20 deletes it found, JSON `{objectId, objectType, dn, cause}` |
 * | `P:{g}:audit` | stream | audit entries (field `d`, JSON) |
 * | `P:agent-commands` | pub/sub | frames for agents connected to another replica |
 * | `P:authfail:<address>` | string (TTL) | failed authentications of a client address in the current window (store/auth-failure-store.ts, for auth/auth-failure-limiter.ts) |
 * | `P:dashboard-session:<sha256>` | string (TTL) | the Actor (JSON) of an /admin/queues browser session (store/dashboard-sessions.ts) |
 * | `P:{tokens}:apitoken:<id>` | hash | an API token: name, role, its secret's SHA-256, createdAt, lastUsedAt (store/token-store.ts) |
 * | `P:{tokens}:apitokens` | zset | API token ids by creation time (written in one MULTI with the token) |
 * | `P:bull:{cycles-<n>}:*`, `P:bull:{schedule}:*`, `P:bull:{mail}:*`, `P:bull:{notify}:*` | BullMQ | queues `cycles-0` to `cycles-3` (a configuration's cycle jobs always in the same one: `cycleQueueShard`), `schedule`, `mail` (drained only), `notify` (the notifications' outbox) |
 */
export class Keys {
  constructor(readonly prefix: string) {}

  /** The hash tag of a configuration's keys and its cycles' keys: `{` + the id's first 8 characters + `}`. */
  static configTag(id: string): string {
    return `{${id.slice(0, 8)}}`;
  }

  /** The configuration's (or, from a cycle id, its configuration's) key prefix `P:{C}`. */
  private c(id: string): string {
    return `${this.prefix}:${Keys.configTag(id)}`;
  }

  /** The agent registry's prefix `P:{agents}`. */
  private get a(): string {
    return `${this.prefix}:{agents}`;
  }

  get agents(): string {
    return `${this.a}:agents`;
  }
  agent(id: string): string {
    return `${this.a}:agent:${id}`;
  }
  get agentNames(): string {
    return `${this.a}:agent-names`;
  }
  agentToken(hash: string): string {
    return `${this.a}:agent-token:${hash}`;
  }
  agentSession(id: string): string {
    return `${this.prefix}:agent:${id}:session`;
  }
  controller(id: string): string {
    return `${this.prefix}:controller:${id}`;
  }
  agentCursors(id: string): string {
    return `${this.a}:agent:${id}:cursors`;
  }
  /** The configurations that name the agent (a superset; see the key map). */
  agentConfigs(id: string): string {
    return `${this.a}:agent:${id}:configs`;
  }
  get configs(): string {
    return `${this.prefix}:{g}:configs`;
  }
  config(id: string): string {
    return `${this.c(id)}:config:${id}`;
  }
  state(id: string): string {
    return `${this.c(id)}:config:${id}:state`;
  }
  active(id: string): string {
    return `${this.c(id)}:config:${id}:active`;
  }
  cycles(id: string): string {
    return `${this.c(id)}:config:${id}:cycles`;
  }
  index(id: string): string {
    return `${this.c(id)}:config:${id}:index`;
  }
  /** Objects the synced index holds per type (for the delete guard). */
  heldCounts(id: string): string {
    return `${this.c(id)}:config:${id}:held`;
  }
  /** Deletes applied by the configuration's cycles, by commit time (the delete guard's window). */
  appliedDeletes(id: string): string {
    return `${this.c(id)}:config:${id}:applied-deletes`;
  }
  /** The delete lane's held set (cycles/delete-lane.ts). */
  lane(id: string): string {
    return `${this.c(id)}:config:${id}:lane`;
  }
  /** Kept objects: deletes an admin kept (cycles/triage.ts). */
  kept(id: string): string {
    return `${this.c(id)}:config:${id}:kept`;
  }
  /** Approvals of a delete of kept objects (with `approvals: 2`). */
  keptApprovals(id: string): string {
    return `${this.c(id)}:config:${id}:kept-approvals`;
  }
  /** Groups' members as applied (the delete guard's `memberRemovals`). */
  members(id: string): string {
    return `${this.c(id)}:config:${id}:members`;
  }
  retry(id: string): string {
    return `${this.c(id)}:config:${id}:retry`;
  }
  /** The SCIM target's records: object id -> JSON. */
  scimRecords(id: string): string {
    return `${this.c(id)}:config:${id}:scim`;
  }
  /** The SCIM target's DN map: lower-cased DN -> the service provider's id. */
  scimDns(id: string): string {
    return `${this.c(id)}:config:${id}:scim-dn`;
  }
  /** The SCIM target's member listing: `<member DN>\0<group id>` (lex). */
  scimListed(id: string): string {
    return `${this.c(id)}:config:${id}:scim-listed`;
  }
  /** The SCIM target's groups whose members are to be reconciled. */
  scimUnsettled(id: string): string {
    return `${this.c(id)}:config:${id}:scim-unsettled`;
  }
  plog(id: string): string {
    return `${this.c(id)}:config:${id}:plog`;
  }
  cycle(id: string): string {
    return `${this.c(id)}:cycle:${id}`;
  }
  batches(cycleId: string): string {
    return `${this.c(cycleId)}:cycle:${cycleId}:batches`;
  }
  plan(cycleId: string): string {
    return `${this.c(cycleId)}:cycle:${cycleId}:plan`;
  }
  seen(cycleId: string): string {
    return `${this.c(cycleId)}:cycle:${cycleId}:seen`;
  }
  /**
   * A part of a plan being written by evaluation run `run` (u: users, g: groups, d: deletes,
   * ds: delete ids, sd: StagedDelete log bundles of a quarantine).
   */
  planPart(cycleId: string, run: string, part: 'u' | 'g' | 'd' | 'ds' | 'sd'): string {
    return `${this.c(cycleId)}:cycle:${cycleId}:plan:${run}:${part}`;
  }
  /** Everything staged for a cycle that goes once the cycle is applied or discarded. */
  staged(cycleId: string): string[] {
    return [this.batches(cycleId), this.seen(cycleId), this.plan(cycleId), this.approvals(cycleId)];
  }
  /** Admin tokens that allowed a quarantined cycle's deletes (with `approvals: 2`). */
  approvals(cycleId: string): string {
    return `${this.c(cycleId)}:cycle:${cycleId}:approvals`;
  }
  dirObject(cfg: string, oid: string): string {
    return `${this.c(cfg)}:dir:${cfg}:o:${oid}`;
  }
  dirType(cfg: string, type: string): string {
    return `${this.c(cfg)}:dir:${cfg}:t:${type}`;
  }
  dirDn(cfg: string): string {
    return `${this.c(cfg)}:dir:${cfg}:dn`;
  }
  /** The cloud directory's SCIM name index of one type: `<name>\0<id>` (lex). */
  dirName(cfg: string, type: string): string {
    return `${this.c(cfg)}:dir:${cfg}:n:${type}`;
  }
  /** The configuration's pre-approvals of deletes. */
  deleteApprovals(cfgId: string): string {
    return `${this.c(cfgId)}:config:${cfgId}:delete-approvals`;
  }
  /** The configuration's notification events, by time. */
  notificationEvents(cfgId: string): string {
    return `${this.c(cfgId)}:config:${cfgId}:notifications`;
  }
  /** The configuration's notification outbox: events written with their transitions, not yet in the `notify` queue. */
  outbox(cfgId: string): string {
    return `${this.c(cfgId)}:config:${cfgId}:outbox`;
  }
  /** One notification event: its header, body and deliveries (in its configuration's slot: the id begins with its 8 hex digits). */
  notificationEvent(eventId: string): string {
    return `${this.c(eventId)}:notification:${eventId}`;
  }
  /** A preview's record (its id begins with its configuration id's 8 hex digits). */
  preview(previewId: string): string {
    return `${this.c(previewId)}:preview:${previewId}`;
  }
  /** The object ids a preview saw. */
  previewSeen(previewId: string): string {
    return `${this.c(previewId)}:preview:${previewId}:seen`;
  }
  /** The first deletes a preview found. */
  previewSample(previewId: string): string {
    return `${this.c(previewId)}:preview:${previewId}:sample`;
  }
  get audit(): string {
    return `${this.prefix}:{g}:audit`;
  }
  get commands(): string {
    return `${this.prefix}:agent-commands`;
  }
  /** The BullMQ prefix of one queue, with its own hash tag: `P:bull:{<queue>}`. */
  bullPrefix(queue: string): string {
    return `${this.prefix}:bull:{${queue}}`;
  }
  apiToken(id: string): string {
    return `${this.prefix}:{tokens}:apitoken:${id}`;
  }
  get apiTokens(): string {
    return `${this.prefix}:{tokens}:apitokens`;
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

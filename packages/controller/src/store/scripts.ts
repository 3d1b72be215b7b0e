import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { assertTransition, type CyclePhase } from '../cycles/cycle-phase';
import { summaryField } from '../pipeline/stored-batch';
import { isCluster } from './redis-connection';
import { encodedCommand } from './resp';

/*
 * Lua scripts: the state transitions that must be atomic. Each runs as one Redis
 * command, so two controllers (or two API calls) racing for the same transition see
 * exactly one winner. Each has a header: its KEYS, its ARGV and what it returns (the
 * results of the ones read as codes are named below, e.g. PersistBatchResult).
 *
 * Called on their own, scripts go by SHA (EVALSHA): the text is sent once per Redis server
 * (SCRIPT LOAD, on every master of a Cluster, after a NOSCRIPT answer, which means the script did not run, so the call is
 * simply made again; a restarted or failed-over Redis has an empty script cache). Inside a
 * MULTI they go as EVAL with their text: a NOSCRIPT there would fail that one command while
 * the transaction's other commands still ran, which is not a risk worth a smaller request.
 */

/** A Lua script and its SHA-1, computed once. */
export class LuaScript {
  readonly sha: string;
  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source, 'utf8').digest('hex');
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * Runs `call` (an EVALSHA of `script`); on NOSCRIPT (the script did not run) loads the script
 * and runs `call` once more.
 */
async function bySha<T>(redis: Redis, script: LuaScript, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (!isNoScript(error)) throw error;
    // A Cluster sends SCRIPT LOAD to any one node: load it on every master, where the call may go.
    const nodes = isCluster(redis) ? (redis as unknown as Cluster).nodes('master') : [redis];
    await Promise.all(nodes.map((node) => node.script('LOAD', script.source)));
    return call();
  }
}

/** Runs a script by SHA, loading it first when the Redis server does not hold it. */
export function callScript(
  redis: Redis,
  script: LuaScript,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  return bySha(redis, script, () => redis.evalsha(script.sha, keys.length, ...keys, ...args));
}

/** Results of PERSIST_BATCH. */
export const PersistBatchResult = Object.freeze({
  /** The batch is held. */
  STORED: 1,
  /** The batch is held and completes the cycle (its CycleComplete came first): the cycle is `complete`. */
  STORED_COMPLETE: 2,
  /** A batch of this sequence is held already (a resend). */
  DUPLICATE: 0,
  /** A batch before it is missing. */
  GAP: -1,
  /** The cycle no longer takes batches. */
  NOT_STREAMING: -2,
  /** No cycle of that configuration and agent. */
  NOT_OWNED: -3,
  /** The batch would take the cycle over maxCycleBatches (nothing stored). */
  TOO_MANY_BATCHES: -4,
  /** The batch would take the cycle over maxCycleBytes (nothing stored). */
  TOO_MANY_BYTES: -5,
});
export type PersistBatchResult = (typeof PersistBatchResult)[keyof typeof PersistBatchResult];

/** Results of COMPLETE_CYCLE. */
export const CompleteCycleResult = Object.freeze({
  /** Every batch is held: the cycle became `complete` now. */
  COMPLETE: 1,
  /** Recorded; batches are still missing (the last of them completes the cycle). */
  WAITING: 0,
  /** The cycle does not take batches any more. */
  NOT_STREAMING: -1,
});
export type CompleteCycleResult = (typeof CompleteCycleResult)[keyof typeof CompleteCycleResult];

/** Results of START_CYCLE. */
export const StartCycleResult = Object.freeze({ STARTED: 1, QUARANTINED: 0, CYCLE_RUNNING: -1 });
export type StartCycleResult = (typeof StartCycleResult)[keyof typeof StartCycleResult];

/**
 * Persists one ChangeBatch. KEYS: cycle hash, batches hash, seen hash. ARGV: sequence,
 * stored changes, now (ms), summaries field, stored summaries (pipeline/stored-batch.ts),
 * the configuration id and the agent id the cycle must have, the most batches and the most
 * bytes of stored changes a cycle may hold (maxCycleBatches, maxCycleBytes; the cycle's
 * `bytes` counts them), then per change of the batch its object id and `seq:idx`.
 * Records in the seen hash, for each object of the batch, `seq:idx` of this change (the
 * last change of an object in a cycle wins), and counts in the cycle's `duplicates` the
 * changes that named an object already seen, so that evaluation knows whether it must
 * look for superseded changes at all.
 * Returns {result, acked}: result 1 stored, 2 stored and the cycle complete now (its
 * CycleComplete came before this, its last batch: the cycle moved to `complete`), 0
 * duplicate, -1 gap, -2 cycle not streaming, -3 no such cycle of that configuration and agent,
 * -4 the batch would take the cycle over maxCycleBatches, -5 over maxCycleBytes (nothing stored).
 */
const PERSIST_BATCH = new LuaScript(
  'persist-batch',
  `
local cycle = redis.call('HMGET', KEYS[1], 'configurationId', 'agentId', 'phase', 'acked', 'lastSequence', 'bytes')
if cycle[1] ~= ARGV[6] or cycle[2] ~= ARGV[7] then return {-3, 0} end
local phase = cycle[3]
local acked = tonumber(cycle[4] or '0')
local seq = tonumber(ARGV[1])
if seq <= acked then return {0, acked} end
if phase ~= 'streaming' then return {-2, acked} end
if seq > acked + 1 then return {-1, acked} end
if seq > tonumber(ARGV[8]) then return {-4, acked} end
local bytes = tonumber(cycle[6] or '0') + #ARGV[2]
if bytes > tonumber(ARGV[9]) then return {-5, acked} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2], ARGV[4], ARGV[5])
-- The seen entries come as ARGV 10.. (object id, seq:idx pairs): no JSON to decode here.
local n = (#ARGV - 9) / 2
local added = 0
local i = 10
while i <= #ARGV do
  local last = math.min(#ARGV, i + 1999)
  added = added + redis.call('HSET', KEYS[3], unpack(ARGV, i, last))
  i = last + 1
end
if added < n then redis.call('HINCRBY', KEYS[1], 'duplicates', n - added) end
-- seenThrough: the batches 1..n all went into the seen hash. A batch stored by an earlier
-- version (none) leaves it behind for good, and evaluation then rebuilds the hash.
if tonumber(redis.call('HGET', KEYS[1], 'seenThrough') or '0') == seq - 1 then
  redis.call('HSET', KEYS[1], 'seenThrough', seq)
end
redis.call('HSET', KEYS[1], 'acked', seq, 'lastFrameAt', ARGV[3], 'bytes', bytes)
if cycle[5] and tonumber(cycle[5]) <= seq then
  redis.call('HSET', KEYS[1], 'phase', 'complete')
  return {2, seq}
end
return {1, seq}
`,
);

/**
 * Records CycleComplete and moves a streaming cycle to `complete` once every batch is
 * held (a batch that comes later completes it in PERSIST_BATCH). KEYS: cycle hash. ARGV:
 * lastSequence, totals JSON, mode, how the agent found the changes (`changeTracking`:
 * `scan`, `accesslog`, `usn`, or '' when the agent did not say), and with a full consistency
 * read the changes it found beyond the change log (`drift`; '' when none was made).
 * Returns 1 when the cycle became complete now, 0 otherwise, -1 when not streaming.
 */
const COMPLETE_CYCLE = new LuaScript(
  'complete-cycle',
  `
local phase = redis.call('HGET', KEYS[1], 'phase')
if phase ~= 'streaming' then return -1 end
redis.call('HSET', KEYS[1], 'lastSequence', ARGV[1], 'totals', ARGV[2], 'agentMode', ARGV[3])
if ARGV[4] and ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'changeTracking', ARGV[4]) end
if ARGV[5] and ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'drift', ARGV[5]) end
local last = ARGV[1]
local acked = tonumber(redis.call('HGET', KEYS[1], 'acked') or '0')
if acked >= tonumber(last) then
  redis.call('HSET', KEYS[1], 'phase', 'complete')
  return 1
end
return 0
`,
);

/**
 * Generic guarded transition. KEYS: cycle hash, state hash, and optionally the
 * configuration's outbox hash. ARGV[1]: allowed current phases (comma-separated); ARGV[2]:
 * JSON {cycle:{f:v}, state:{f:v}, stateDel:[f], requireCurrent:bool, cycleId}; with the
 * outbox, ARGV[3]: the event id, ARGV[4]: the outbox entry (JSON). Writes only when the
 * cycle's phase is allowed (and, with requireCurrent, the configuration's currentCycleId is
 * this cycle); the event is written with the move, never without it. Returns 1 or 0.
 */
const TRANSITION = new LuaScript(
  'transition',
  `
local phase = redis.call('HGET', KEYS[1], 'phase')
local ok = false
for p in string.gmatch(ARGV[1], '[^,]+') do
  if p == phase then ok = true end
end
if not ok then return 0 end
local spec = cjson.decode(ARGV[2])
if spec.requireCurrent and redis.call('HGET', KEYS[2], 'currentCycleId') ~= spec.cycleId then return 0 end
for k, v in pairs(spec.cycle) do redis.call('HSET', KEYS[1], k, v) end
for k, v in pairs(spec.state) do redis.call('HSET', KEYS[2], k, v) end
for _, k in ipairs(spec.stateDel) do redis.call('HDEL', KEYS[2], k) end
if KEYS[3] then redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) end
return 1
`,
);

/**
 * Starts a cycle when the configuration has none current and is not quarantined (a delete
 * lane, state field `lane` = 1, lets cycles run).
 * KEYS: state hash, cycle hash, cycles zset. ARGV: cycleId, startedAtMs, then field/value
 * pairs of the cycle hash. Returns 1, or 0 (quarantined) / -1 (a cycle is current).
 */
const START_CYCLE = new LuaScript(
  'start-cycle',
  `
if redis.call('HGET', KEYS[1], 'state') == 'quarantined' and redis.call('HGET', KEYS[1], 'lane') ~= '1' then return 0 end
local current = redis.call('HGET', KEYS[1], 'currentCycleId')
if current and current ~= '' then return -1 end
redis.call('HSET', KEYS[1], 'currentCycleId', ARGV[1], 'lastCycleId', ARGV[1])
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return 1
`,
);

/** Deletes field ARGV[1] of hash KEYS[1] when its value is ARGV[2] (an outbox entry written again meanwhile stays). Returns 1 or 0. */
export const DELETE_FIELD_IF_EQUAL = new LuaScript(
  'delete-field-if-equal',
  `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`,
);

/** Deletes KEYS[1] when its value is ARGV[1]. */
const DELETE_IF_EQUAL = new LuaScript(
  'delete-if-equal',
  `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
);

/** Sets KEYS[1] to ARGV[1] (for ARGV[3] ms when given) when it is unset or holds ARGV[2] or ARGV[1]. Returns 1 when set. */
const SET_IF_FREE = new LuaScript(
  'set-if-free',
  `
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[2] or v == ARGV[1] then
  if ARGV[3] and ARGV[3] ~= '' then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  else
    redis.call('SET', KEYS[1], ARGV[1])
  end
  return 1
end
return 0
`,
);

/**
 * Registers an agent under a name no other agent has. KEYS: names hash, agent hash, agents
 * zset, token key. ARGV: name, id, token hash, createdAt (ISO), createdAt (ms). Returns 1,
 * or 0 (and writes nothing) when the name is taken.
 */
const REGISTER_AGENT = new LuaScript(
  'register-agent',
  `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'id', ARGV[2], 'name', ARGV[1], 'tokenHash', ARGV[3], 'createdAt', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
redis.call('SET', KEYS[4], ARGV[2])
return 1
`,
);

/**
 * Replaces an agent's token while it is still the one read before. KEYS: agent hash, old
 * token key, new token key. ARGV: old token hash, new token hash, agent id. Returns 1, or 0
 * when the agent is gone or its token changed meanwhile.
 */
const ROTATE_AGENT_TOKEN = new LuaScript(
  'rotate-agent-token',
  `
if redis.call('HGET', KEYS[1], 'tokenHash') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'tokenHash', ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[3])
return 1
`,
);

/**
 * Removes an agent while its token is still the one read before: its hash, its place in
 * the agents zset, its token, its cursors, and its name (only while the name is its own).
 * KEYS: agent hash, agents zset, token key, cursors hash, names hash. ARGV: agent id, token
 * hash, name. Returns 1, or 0 when the agent is gone or its token changed meanwhile.
 */
const DELETE_AGENT = new LuaScript(
  'delete-agent',
  `
if redis.call('HGET', KEYS[1], 'tokenHash') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[5], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[5], ARGV[3]) end
return 1
`,
);

/**
 * Writes fields of an agent's hash while the agent exists and its token is the one a
 * session authenticated with. KEYS: agent hash. ARGV: token hash, then field/value pairs.
 * Returns 1, or 0 (nothing written) when the agent was deleted or its token rotated.
 */
const TOUCH_AGENT = new LuaScript(
  'touch-agent',
  `
if redis.call('HGET', KEYS[1], 'tokenHash') ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`,
);

/** Deletes the currentCycleId of a state hash (KEYS[1]) while it is ARGV[1]. Returns 1. */
const CLEAR_CURRENT_CYCLE = new LuaScript(
  'clear-current-cycle',
  `
if redis.call('HGET', KEYS[1], 'currentCycleId') == ARGV[1] then redis.call('HDEL', KEYS[1], 'currentCycleId') end
return 1
`,
);

/** Sets field ARGV[1] of the hash KEYS[1] to ARGV[2] while the hash exists (a removed record is not recreated). Returns 0. */
export const HSET_IF_EXISTS = new LuaScript(
  'hset-if-exists',
  `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`,
);

/** Counts one more event in KEYS[1], a window of ARGV[1] ms starting with the first. Returns the count in this window. */
export const COUNT_IN_WINDOW = new LuaScript(
  'count-in-window',
  `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`,
);

/**
 * Writes a quarantine's notification progress (KEYS[1]: the state hash, field
 * `notification`: ARGV[2]) while its quarantine is still the one of cycle ARGV[1]. Returns 1.
 */
export const SET_NOTIFICATION = new LuaScript(
  'set-notification',
  `
local q = redis.call('HGET', KEYS[1], 'quarantine')
if q and cjson.decode(q).cycleId == ARGV[1] then redis.call('HSET', KEYS[1], 'notification', ARGV[2]) end
return 1
`,
);

/** Appends each bundle of a list (KEYS[1]) to the log stream (KEYS[2]), ARGV[1]: MINID; then removes the list. */
export const COPY_BUNDLES = new LuaScript(
  'copy-bundles',
  `
local n = redis.call('LLEN', KEYS[1])
for i = 0, n - 1, 100 do
  for _, b in ipairs(redis.call('LRANGE', KEYS[1], i, i + 99)) do
    redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[1], '*', 'b', b)
  end
end
redis.call('DEL', KEYS[1])
return n
`,
);

/**
 * Releases DNs that objects leave (deleted or renamed), each only while it still points at
 * the object leaving it: another object of the same cycle may have taken the DN already
 * (a new user with a deleted one's DN, applied in an earlier chunk). KEYS: the DN hash.
 * ARGV: dn, object id, dn, object id, ... Returns how many were released.
 */
export const RELEASE_DNS = new LuaScript(
  'release-dns',
  `
local released = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    released = released + 1
  end
end
return released
`,
);

/**
 * Puts an evaluated plan together from the parts evaluation wrote (users, then groups,
 * then deletes), replacing any earlier plan, while the cycle is `complete` (else -1 and
 * nothing). KEYS: plan, users part, groups part, deletes part, delete-ids set, cycle hash.
 * Returns the plan's length.
 */
export const ASSEMBLE_PLAN = new LuaScript(
  'assemble-plan',
  `
if redis.call('HGET', KEYS[6], 'phase') ~= 'complete' then return -1 end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[1])
  redis.call('PERSIST', KEYS[1])
end
for k = 3, 4 do
  local n = redis.call('LLEN', KEYS[k])
  for i = 0, n - 1, 1000 do
    redis.call('RPUSH', KEYS[1], unpack(redis.call('LRANGE', KEYS[k], i, i + 999)))
  end
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return redis.call('LLEN', KEYS[1])
`,
);

/**
 * The delete lane (cycles/delete-lane.ts): moves a lane cycle's deletes into the held set
 * instead of its plan, and takes out the held objects the cycle found back in scope, while
 * the cycle is `complete` (else -1 and nothing). KEYS: held set (hash), deletes part (list
 * of delete plan entries `d\t<id>\t...`, or `D\t<id>\t...` with a cause), cycle hash. ARGV: ids leaving the set.
 * Removes the deletes part. Returns the held set's size.
 */
export const HOLD_DELETES = new LuaScript(
  'hold-deletes',
  `
if redis.call('HGET', KEYS[3], 'phase') ~= 'complete' then return -1 end
local n = redis.call('LLEN', KEYS[2])
for i = 0, n - 1, 1000 do
  local kv = {}
  for _, e in ipairs(redis.call('LRANGE', KEYS[2], i, i + 999)) do
    local id = string.match(e, '^[dD]\t([^\t]+)\t')
    if not id then return redis.error_reply('not a delete plan entry: ' .. e) end
    kv[#kv + 1] = id
    kv[#kv + 1] = e
  end
  if #kv > 0 then redis.call('HSET', KEYS[1], unpack(kv)) end
end
for i = 1, #ARGV, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('DEL', KEYS[2])
return redis.call('HLEN', KEYS[1])
`,
);

/**
 * Releases a delete lane (allow-deletes): makes a `release` cycle whose plan is exactly the
 * held set, in phase `applying`, current, and empties the set; the lane closes (field
 * `lane` goes) so that no other cycle starts before the release is applied. KEYS: state
 * hash, held set, the new cycle's hash, its plan, the cycles zset, the configuration's
 * outbox. ARGV: cycle id, startedAt (ms), the event id and outbox entry of its
 * `quarantine.released` (empty: none), then field/value pairs of the cycle hash. Returns the
 * deletes released, 0 when no lane is open (nothing written), -1 when a cycle is current.
 */
export const RELEASE_LANE = new LuaScript(
  'release-lane',
  `
if redis.call('HGET', KEYS[1], 'state') ~= 'quarantined' or redis.call('HGET', KEYS[1], 'lane') ~= '1' then return 0 end
local current = redis.call('HGET', KEYS[1], 'currentCycleId')
if current and current ~= '' then return -1 end
local entries = redis.call('HVALS', KEYS[2])
for i = 1, #entries, 1000 do
  redis.call('RPUSH', KEYS[4], unpack(entries, i, math.min(i + 999, #entries)))
end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[6], ARGV[3], ARGV[4]) end
redis.call('HSET', KEYS[3], 'planSize', #entries, 'deleteCount', #entries, 'applied', 0,
  'counts', '{"create":0,"update":0,"delete":' .. #entries .. '}')
redis.call('HSET', KEYS[1], 'currentCycleId', ARGV[1], 'lastCycleId', ARGV[1])
redis.call('HDEL', KEYS[1], 'lane')
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
redis.call('DEL', KEYS[2])
return #entries
`,
);

/**
 * Discards a delete lane (restart): the held set goes, nothing of it is applied, the
 * configuration is `ARGV[1]` again, and its committed scope is forgotten so that the next
 * cycle is FULL (the agent has let the held objects go; only a full read finds them again).
 * KEYS: state hash, held set, the configuration's outbox. ARGV: next state, the quarantine's
 * seriesCount, the event id and outbox entry of its `quarantine.restarted` (empty: none).
 * Returns 1, 0 when no lane is open, -1 when a cycle is current.
 */
export const DISCARD_LANE = new LuaScript(
  'discard-lane',
  `
if redis.call('HGET', KEYS[1], 'state') ~= 'quarantined' or redis.call('HGET', KEYS[1], 'lane') ~= '1' then return 0 end
local current = redis.call('HGET', KEYS[1], 'currentCycleId')
if current and current ~= '' then return -1 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'committedScope', '', 'restartedSeries', ARGV[2])
redis.call('HDEL', KEYS[1], 'lane', 'quarantine', 'notification')
if ARGV[3] and ARGV[3] ~= '' then redis.call('HSET', KEYS[3], ARGV[3], ARGV[4]) end
return 1
`,
);

/**
 * Triage of a quarantined cycle (`hold: "cycle"`; cycles/triage.ts): splits its staged deletes
 * (the plan's last `deleteCount` entries) into those that stay in the plan and those that
 * become kept objects, in the one step that also releases the cycle, so that a crash leaves
 * either the quarantine as it was or the cycle released with exactly the chosen deletes.
 * KEYS: cycle hash, state hash, plan, kept hash, the configuration's outbox. ARGV: cycle id,
 * the stored quarantine the choice was made on (else nothing is written), mode (`apply`: the
 * listed deletes stay and the others are kept; `keep`: the listed ones are kept), keptAt, the
 * quarantine to store when deletes stay staged (mode keep), releasedBy, releasedAt, the event
 * id and outbox entry written when the cycle is released, then the listed object ids (none in
 * mode keep: every staged delete).
 * Releases (`quarantined` -> `applying`, `released` = 1, deleteCount and planSize of the
 * new plan, `kept`) unless mode keep leaves deletes staged (the quarantine then holds them).
 * Returns {1, released (1|0), kept, deletes left in the plan}; {0} when the cycle is not
 * quarantined and current or the quarantine changed; {-3, id} when a listed id is not staged.
 */
export const TRIAGE_CYCLE = new LuaScript(
  'triage-cycle',
  `
if redis.call('HGET', KEYS[1], 'phase') ~= 'quarantined' then return {0} end
local st = redis.call('HMGET', KEYS[2], 'currentCycleId', 'quarantine')
if st[1] ~= ARGV[1] or st[2] ~= ARGV[2] then return {0} end
local listed = {}
for i = 10, #ARGV do listed[ARGV[i]] = true end
local everything = #ARGV < 10
local c = redis.call('HMGET', KEYS[1], 'planSize', 'deleteCount', 'counts')
local size = tonumber(c[1] or '0')
local deletes = tonumber(c[2] or '0')
local first = size - deletes
local stay, keep = {}, {}
for i = first, size - 1, 1000 do
  for _, e in ipairs(redis.call('LRANGE', KEYS[3], i, math.min(i + 999, size - 1))) do
    local id = string.match(e, '^[dD]\\t([^\\t]+)\\t')
    if not id then return redis.error_reply('not a delete plan entry: ' .. e) end
    local hit = everything or listed[id] == true
    listed[id] = nil
    if (ARGV[3] == 'apply') == hit then stay[#stay + 1] = e else
      keep[#keep + 1] = id
      keep[#keep + 1] = ARGV[4] .. '\\t' .. ARGV[1] .. '\\t' .. e
    end
  end
end
for id, _ in pairs(listed) do return {-3, id} end
if first > 0 then redis.call('LTRIM', KEYS[3], 0, first - 1) else redis.call('DEL', KEYS[3]) end
for i = 1, #stay, 1000 do redis.call('RPUSH', KEYS[3], unpack(stay, i, math.min(i + 999, #stay))) end
for i = 1, #keep, 1000 do redis.call('HSET', KEYS[4], unpack(keep, i, math.min(i + 999, #keep))) end
local counts = cjson.decode(c[3] or '{}')
counts['delete'] = #stay
local kept = #keep / 2 + tonumber(redis.call('HGET', KEYS[1], 'kept') or '0')
redis.call('HSET', KEYS[1], 'planSize', first + #stay, 'deleteCount', #stay, 'counts', cjson.encode(counts), 'kept', kept)
if ARGV[3] == 'keep' and #stay > 0 then
  redis.call('HSET', KEYS[2], 'quarantine', ARGV[5])
  return {1, 0, #keep / 2, #stay}
end
redis.call('HSET', KEYS[1], 'phase', 'applying', 'released', '1', 'releasedBy', ARGV[6], 'releasedAt', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[5], ARGV[8], ARGV[9]) end
return {1, 1, #keep / 2, #stay}
`,
);

/**
 * Triage of an open delete lane (`hold: "deletes"`; cycles/triage.ts), while no cycle is
 * current. Mode `apply`: the listed held objects go into a new `release` cycle (as
 * RELEASE_LANE), the others become kept objects, and the lane closes. Mode `keep`: the
 * listed ones become kept objects; when none is left held the lane closes (the configuration
 * `nextState`, its quarantine gone), else the lane's quarantine becomes the one given.
 * KEYS: state hash, held set, kept hash, the new cycle's hash, its plan, the cycles zset, the
 * configuration's outbox. ARGV: the stored quarantine the choice was made on, mode, keptAt,
 * new cycle id, startedAt (ms), the quarantine to store (keep, some left), nextState, the
 * lane's cycle id (kept records name it), the number N of cycle field/value pairs, the event
 * id and outbox entry written when the lane closes, the N pairs, then the listed object ids
 * (none in mode keep: every held object).
 * Returns {released, kept, left held}; {0} without a lane or when its quarantine changed,
 * {-1} while a cycle is current, {-3, id} when a listed id is not held.
 */
export const TRIAGE_LANE = new LuaScript(
  'triage-lane',
  `
local st = redis.call('HMGET', KEYS[1], 'state', 'lane', 'currentCycleId', 'quarantine')
if st[1] ~= 'quarantined' or st[2] ~= '1' then return {0} end
if st[3] and st[3] ~= '' then return {-1} end
if st[4] ~= ARGV[1] then return {0} end
local pairsAt = 12
local idsAt = pairsAt + 2 * tonumber(ARGV[9])
local listed = {}
for i = idsAt, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 0 then return {-3, ARGV[i]} end
  listed[ARGV[i]] = true
end
local everything = idsAt > #ARGV
local all = redis.call('HGETALL', KEYS[2])
local release, keep = {}, {}
local cycleId = ARGV[4]
for i = 1, #all, 2 do
  local id, e = all[i], all[i + 1]
  local hit = everything or listed[id] == true
  if ARGV[2] == 'apply' and hit then release[#release + 1] = e
  elseif ARGV[2] == 'apply' or hit then
    keep[#keep + 1] = id
    keep[#keep + 1] = ARGV[3] .. '\\t' .. ARGV[8] .. '\\t' .. e
  end
end
for i = 1, #keep, 1000 do redis.call('HSET', KEYS[3], unpack(keep, i, math.min(i + 999, #keep))) end
if ARGV[2] == 'apply' then
  for i = 1, #release, 1000 do redis.call('RPUSH', KEYS[5], unpack(release, i, math.min(i + 999, #release))) end
  for i = pairsAt, idsAt - 1, 2 do redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1]) end
  redis.call('HSET', KEYS[4], 'planSize', #release, 'deleteCount', #release, 'applied', 0, 'kept', #keep / 2,
    'counts', '{"create":0,"update":0,"delete":' .. #release .. '}')
  redis.call('HSET', KEYS[1], 'currentCycleId', cycleId, 'lastCycleId', cycleId)
  redis.call('HDEL', KEYS[1], 'lane')
  redis.call('ZADD', KEYS[6], ARGV[5], cycleId)
  redis.call('DEL', KEYS[2])
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[7], ARGV[10], ARGV[11]) end
  return {#release, #keep / 2, 0}
end
for i = 1, #keep, 2 do redis.call('HDEL', KEYS[2], keep[i]) end
local left = redis.call('HLEN', KEYS[2])
if left == 0 then
  redis.call('HSET', KEYS[1], 'state', ARGV[7])
  redis.call('HDEL', KEYS[1], 'lane', 'quarantine', 'notification', 'restartedSeries')
  if ARGV[10] ~= '' then redis.call('HSET', KEYS[7], ARGV[10], ARGV[11]) end
else
  redis.call('HSET', KEYS[1], 'quarantine', ARGV[6])
end
return {0, #keep / 2, left}
`,
);

/**
 * Deletes kept objects from the target (POST .../kept-objects/delete): a new `release` cycle
 * (no agent, as a delete lane's) whose plan is the listed kept objects' delete entries, in
 * phase `applying` and current; they leave the kept set in the same step. Refused while the
 * configuration is quarantined (its quarantine is decided first) or a cycle is current.
 * KEYS: state hash, kept hash, the new cycle's hash, its plan, the cycles zset, the
 * approvals set (removed). ARGV: cycle id, startedAt (ms), the number N of cycle field/value
 * pairs, the N pairs, then the object ids. Returns {deletes planned}; {-1} while a cycle is
 * current, {-2} while quarantined, {-3, id} when a listed id is not kept.
 */
export const DELETE_KEPT = new LuaScript(
  'delete-kept',
  `
local st = redis.call('HMGET', KEYS[1], 'state', 'currentCycleId')
if st[1] == 'quarantined' then return {-2} end
if st[2] and st[2] ~= '' then return {-1} end
local n = tonumber(ARGV[3])
local idsAt = 4 + 2 * n
local plan = {}
for i = idsAt, #ARGV do
  local v = redis.call('HGET', KEYS[2], ARGV[i])
  if not v then return {-3, ARGV[i]} end
  local e = string.match(v, '^[^\\t]*\\t[^\\t]*\\t(.*)$')
  if not e then return redis.error_reply('not a kept record: ' .. v) end
  plan[#plan + 1] = e
end
for i = 1, #plan, 1000 do redis.call('RPUSH', KEYS[4], unpack(plan, i, math.min(i + 999, #plan))) end
for i = 4, idsAt - 1, 2 do redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[3], 'planSize', #plan, 'deleteCount', #plan, 'applied', 0,
  'counts', '{"create":0,"update":0,"delete":' .. #plan .. '}')
redis.call('HSET', KEYS[1], 'currentCycleId', ARGV[1], 'lastCycleId', ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
for i = idsAt, #ARGV, 1000 do redis.call('HDEL', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('DEL', KEYS[6])
return {#plan}
`,
);

/** A cycle's move between two phases (allowed moves: cycles/cycle-phase.ts). */
export interface PhaseMove {
  /** The phases the cycle may be in; the transition writes nothing from any other. */
  from: readonly CyclePhase[];
  to: CyclePhase;
}

export interface TransitionSpec {
  /** Other fields of the cycle hash to write with the move (the phase is the move's). */
  cycle?: Record<string, string | number> & { phase?: never };
  state?: Record<string, string | number>;
  stateDel?: string[];
  requireCurrent?: boolean;
  cycleId?: string;
  /** The event the move reports, written to this outbox hash in the same script (cycles/cycle-events.ts). */
  outbox?: { key: string; id: string; entry: string } | null;
}

export class Scripts {
  constructor(private readonly redis: Redis) {}

  private call(script: LuaScript, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    return callScript(this.redis, script, keys, args);
  }

  /** Deletes the configuration's currentCycleId while it is `cycleId`. */
  async clearCurrentCycle(stateKey: string, cycleId: string): Promise<void> {
    await this.call(CLEAR_CURRENT_CYCLE, [stateKey], [cycleId]);
  }

  async persistBatch(
    cycleKey: string,
    batchesKey: string,
    seenKey: string,
    sequence: number,
    stored: { changes: Buffer; summaries: string; objectIds: readonly string[] },
    owner: { configurationId: string; agentId: string },
    limits: { maxCycleBatches: number; maxCycleBytes: number },
  ): Promise<{ result: PersistBatchResult; acked: number }> {
    const args: (string | number | Buffer)[] = [
      PERSIST_BATCH.sha,
      3,
      cycleKey,
      batchesKey,
      seenKey,
      sequence,
      stored.changes,
      Date.now(),
      summaryField(sequence),
      stored.summaries,
      owner.configurationId,
      owner.agentId,
      limits.maxCycleBatches,
      limits.maxCycleBytes,
    ];
    stored.objectIds.forEach((id, i) => args.push(id, `${sequence}:${i}`));
    // Encoded in one go (see resp.ts): a batch's call carries hundreds of arguments.
    const [result, acked] = (await bySha(
      this.redis,
      PERSIST_BATCH,
      () => this.redis.sendCommand(encodedCommand('evalsha', args)) as Promise<unknown>,
    )) as [PersistBatchResult, number];
    return { result, acked };
  }

  async completeCycle(
    cycleKey: string,
    lastSequence: number,
    totals: string,
    mode: string,
    changeTracking = '',
    drift: number | null = null,
  ): Promise<CompleteCycleResult> {
    return (await this.call(
      COMPLETE_CYCLE,
      [cycleKey],
      [String(lastSequence), totals, mode, changeTracking, drift === null ? '' : String(drift)],
    )) as CompleteCycleResult;
  }

  async transition(cycleKey: string, stateKey: string, move: PhaseMove, spec: TransitionSpec): Promise<boolean> {
    const [, numKeys, ...keysAndArgs] = Scripts.transitionArgs(cycleKey, stateKey, move, spec);
    return ((await this.call(TRANSITION, keysAndArgs.slice(0, numKeys), keysAndArgs.slice(numKeys))) as number) === 1;
  }

  /** Arguments of EVAL for {@link transition}, to queue it inside a MULTI. */
  static transitionArgs(
    cycleKey: string,
    stateKey: string,
    move: PhaseMove,
    spec: TransitionSpec,
  ): [string, number, ...string[]] {
    assertTransition(move.from, move.to);
    const payload = JSON.stringify({
      cycle: { ...spec.cycle, phase: move.to },
      state: spec.state ?? {},
      stateDel: spec.stateDel ?? [],
      requireCurrent: spec.requireCurrent ?? false,
      cycleId: spec.cycleId ?? '',
    });
    // cjson decodes an empty JSON array or object as an empty table, which pairs/ipairs accept.
    const o = spec.outbox;
    if (o) return [TRANSITION.source, 3, cycleKey, stateKey, o.key, move.from.join(','), payload, o.id, o.entry];
    return [TRANSITION.source, 2, cycleKey, stateKey, move.from.join(','), payload];
  }

  async startCycle(
    stateKey: string,
    cycleKey: string,
    cyclesKey: string,
    cycleId: string,
    startedAtMs: number,
    fields: Record<string, string>,
  ): Promise<StartCycleResult> {
    const args: string[] = [cycleId, String(startedAtMs)];
    for (const [k, v] of Object.entries(fields)) args.push(k, v);
    return (await this.call(START_CYCLE, [stateKey, cycleKey, cyclesKey], args)) as StartCycleResult;
  }

  async deleteIfEqual(key: string, value: string): Promise<boolean> {
    return ((await this.call(DELETE_IF_EQUAL, [key], [value])) as number) === 1;
  }

  async registerAgent(
    keys: { names: string; agent: string; agents: string; token: string },
    agent: { id: string; name: string; tokenHash: string; createdAt: Date },
  ): Promise<boolean> {
    const { names, agent: agentKey, agents, token } = keys;
    const args = [agent.name, agent.id, agent.tokenHash, agent.createdAt.toISOString(), String(agent.createdAt.getTime())];
    return ((await this.call(REGISTER_AGENT, [names, agentKey, agents, token], args)) as number) === 1;
  }

  async rotateAgentToken(
    keys: { agent: string; oldToken: string; newToken: string },
    agent: { id: string; oldHash: string; newHash: string },
  ): Promise<boolean> {
    const { agent: agentKey, oldToken, newToken } = keys;
    return (
      ((await this.call(
        ROTATE_AGENT_TOKEN,
        [agentKey, oldToken, newToken],
        [agent.oldHash, agent.newHash, agent.id],
      )) as number) === 1
    );
  }

  async deleteAgent(
    keys: { agent: string; agents: string; token: string; cursors: string; names: string },
    agent: { id: string; tokenHash: string; name: string },
  ): Promise<boolean> {
    const { agent: agentKey, agents, token, cursors, names } = keys;
    return (
      ((await this.call(
        DELETE_AGENT,
        [agentKey, agents, token, cursors, names],
        [agent.id, agent.tokenHash, agent.name],
      )) as number) === 1
    );
  }

  /** HSET of `fields` on an agent's hash while its token hash is `tokenHash`; false when revoked. */
  async touchAgent(agentKey: string, tokenHash: string, fields: Record<string, string>): Promise<boolean> {
    return ((await this.call(TOUCH_AGENT, [agentKey], [tokenHash, ...Object.entries(fields).flat()])) as number) === 1;
  }

  /** Claims `key` for `value` when free or held by `staleValue`. */
  async setIfFree(key: string, value: string, staleValue: string, ttlMs?: number): Promise<boolean> {
    return ((await this.call(SET_IF_FREE, [key], [value, staleValue, ttlMs === undefined ? '' : String(ttlMs)])) as number) === 1;
  }
}

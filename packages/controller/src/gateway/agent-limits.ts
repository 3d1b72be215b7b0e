/*
 * Bounds on what one agent may send, beyond the frame size and batch length the welcome
 * announces. An agent token is a credential an attacker may hold: nothing it sends may
 * grow the controller's memory or Redis without bound, nor be served back at any size.
 *
 * The rule: strings that identify something (ids, hostname, software version, DNs) are
 * refused over their bound, naming the field (the connection closes with POLICY_VIOLATION,
 * or, inside a cycle, the cycle fails); free text (error messages) is cut to its bound.
 */

/** Longest configuration, cycle or agent id in a frame (ours are 36-character UUIDs). */
export const MAX_ID_CHARS = 128;
/** Longest hostname in AgentHello (a DNS name is at most 253). */
export const MAX_HOSTNAME_CHARS = 255;
/** Longest software version in AgentHello. */
export const MAX_VERSION_CHARS = 64;
/** Most cache cursors in one AgentHello; cursors for configurations the agent does not serve are dropped. */
export const MAX_HELLO_CURSORS = 1000;
/** Longest object id of a change (entryUUID and objectGUID strings are 36). */
export const MAX_OBJECT_ID_CHARS = 1024;
/** Longest DN of a change. */
export const MAX_DN_CHARS = 8192;
/** Error messages from an agent (CycleFailed, Error) are kept and logged up to this length. */
export const MAX_AGENT_MESSAGE_CHARS = 1000;

/** `text` cut to `max` characters, with a mark that it was cut. */
export function boundedText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The first field of `fields` over its bound, as `"<field> is N characters, at most M"`, or null. */
export function overLimit(fields: readonly [field: string, value: string, max: number][]): string | null {
  for (const [field, value, max] of fields) {
    if (value.length > max) return `${field} is ${value.length} characters, at most ${max}`;
  }
  return null;
}

/**
 * Protocol versions. A version is a whole number; this build speaks the versions in
 * {@link SUPPORTED_PROTOCOL_VERSIONS}. The agent offers every version it speaks in
 * `AgentHello.protocolVersions`; the controller picks the highest one both sides speak.
 */

/** The version this build prefers (the highest it speaks). */
export const PROTOCOL_VERSION = 1;

/** Every version this build speaks, highest first. */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([1]);

/** True when this build can read and write frames of `version`. */
export function isSupportedVersion(version: number): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

/**
 * The highest version in both lists, or `undefined` when they share none.
 * @param offered the versions the peer speaks, in any order
 * @param supported the versions we speak (defaults to this build's)
 */
export function negotiateVersion(
  offered: readonly number[],
  supported: readonly number[] = SUPPORTED_PROTOCOL_VERSIONS,
): number | undefined {
  let best: number | undefined;
  for (const v of offered) {
    if (supported.includes(v) && (best === undefined || v > best)) best = v;
  }
  return best;
}

import type { CompiledAgentOptions } from './agent-options';
import { redactUrl } from './redact';

/** The host of a URL, or null when it has none we can read. */
function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname;
  } catch {
    return null;
  }
}

/** Loopback hosts: traffic to them does not cross a network, plain text is acceptable there. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

/**
 * What the agent warns about once at start: a connection in plain text over a network.
 * `ws://` carries the agent token and every directory change readable on the way;
 * `ldap://` without StartTLS carries the bind password and every entry read.
 */
export function transportWarnings(options: Pick<CompiledAgentOptions, 'controllerUrl' | 'ldap'>): string[] {
  const warnings: string[] = [];
  const controllerHost = hostOf(options.controllerUrl);
  if (/^ws:/i.test(options.controllerUrl) && controllerHost !== null && !isLoopback(controllerHost)) {
    warnings.push(
      `SYNCGUARD_CONTROLLER_URL ${redactUrl(options.controllerUrl)} is ws:// (plain text) to a host that is not loopback: the agent token and every change can be read on the way; use wss://`,
    );
  }
  const ldapHost = hostOf(options.ldap.url);
  if (/^ldap:/i.test(options.ldap.url) && !options.ldap.startTls && ldapHost !== null && !isLoopback(ldapHost)) {
    warnings.push(
      `LDAP_URL ${redactUrl(options.ldap.url)} is ldap:// without StartTLS to a host that is not loopback: the bind password and every entry read can be read on the way; use ldaps:// or LDAP_STARTTLS=true`,
    );
  }
  return warnings;
}

import fs from 'node:fs';
import { Command, Option } from 'commander';
import YAML from 'yaml';
import type { AgentOptions } from './agent-options';
import { SettingError, SettingsError } from './errors';

/** One program setting: its environment name (also its key in the config file), its flag and option path. */
interface SettingSpec {
  env: string;
  flag: string;
  option: string;
  description: string;
  kind?: 'string' | 'boolean' | 'integer' | 'list';
}

/**
 * Every setting of `syncguard-agent`. Flags override the environment, which overrides the
 * `--config` file (YAML or JSON, keys as the environment names).
 */
export const SETTINGS: readonly SettingSpec[] = [
  {
    env: 'SYNCGUARD_CONTROLLER_URL',
    flag: 'controller-url',
    option: 'controllerUrl',
    description: 'controller agent endpoint, ws:// or wss://',
  },
  { env: 'SYNCGUARD_AGENT_TOKEN', flag: 'agent-token', option: 'agentToken', description: 'the agent bearer token' },
  {
    env: 'SYNCGUARD_AGENT_ID',
    flag: 'agent-id',
    option: 'agentId',
    description: 'optional: the agent id; the token alone identifies the agent',
  },
  { env: 'SYNCGUARD_STATE_DIR', flag: 'state-dir', option: 'stateDir', description: 'folder for the local cache and outbox' },
  { env: 'SYNCGUARD_CA_FILE', flag: 'ca-file', option: 'controllerCaFile', description: 'PEM CA file for a wss:// controller' },
  {
    env: 'SYNCGUARD_CLIENT_CERT_FILE',
    flag: 'client-cert-file',
    option: 'clientCertFile',
    description: 'PEM client certificate (mutual TLS)',
  },
  {
    env: 'SYNCGUARD_CLIENT_KEY_FILE',
    flag: 'client-key-file',
    option: 'clientKeyFile',
    description: 'PEM client key (mutual TLS)',
  },
  {
    env: 'SYNCGUARD_LOG_LEVEL',
    flag: 'log-level',
    option: 'logLevel',
    description: 'fatal|error|warn|info|debug|trace|silent (default info)',
  },
  { env: 'LDAP_URL', flag: 'ldap-url', option: 'ldap.url', description: 'directory URL, ldap:// or ldaps://' },
  { env: 'LDAP_BIND_DN', flag: 'ldap-bind-dn', option: 'ldap.bindDn', description: 'DN to bind as' },
  { env: 'LDAP_BIND_PASSWORD', flag: 'ldap-bind-password', option: 'ldap.bindPassword', description: 'password of the bind DN' },
  { env: 'LDAP_CA_FILE', flag: 'ldap-ca-file', option: 'ldap.caFile', description: 'PEM CA file for ldaps:// or StartTLS' },
  {
    env: 'LDAP_STARTTLS',
    flag: 'ldap-starttls',
    option: 'ldap.startTls',
    description: 'true to upgrade ldap:// with StartTLS',
    kind: 'boolean',
  },
  {
    env: 'LDAP_PAGE_SIZE',
    flag: 'ldap-page-size',
    option: 'ldap.pageSize',
    description: 'entries per search page (default 300)',
    kind: 'integer',
  },
  {
    env: 'LDAP_TIMEOUT',
    flag: 'ldap-timeout',
    option: 'ldap.operationTimeout',
    description: 'longest wait for one LDAP operation (default 120s)',
  },
  {
    env: 'LDAP_ATTRIBUTES_ALLOW',
    flag: 'ldap-attributes-allow',
    option: 'ldap.attributesAllow',
    description: 'only these attributes go to the controller (comma-separated; default all)',
    kind: 'list',
  },
  {
    env: 'LDAP_ATTRIBUTES_DENY',
    flag: 'ldap-attributes-deny',
    option: 'ldap.attributesDeny',
    description: 'these attributes never go to the controller (comma-separated; secrets never do)',
    kind: 'list',
  },
  {
    env: 'LDAP_DELTA_SKEW',
    flag: 'ldap-delta-skew',
    option: 'ldap.deltaSkew',
    description: 'DELTA look-back margin for clock skew (default 10m)',
  },
  {
    env: 'LDAP_DIRECTORY',
    flag: 'ldap-directory',
    option: 'ldap.directory',
    description: 'auto|openldap|ad: the kind of directory (default auto, from the root DSE)',
  },
  {
    env: 'LDAP_CHANGE_TRACKING',
    flag: 'ldap-change-tracking',
    option: 'ldap.changeTracking',
    description: 'auto|dirsync|usn|accesslog|scan: how DELTA cycles find changes (default auto)',
  },
  {
    env: 'LDAP_ACCESSLOG_BASE',
    flag: 'ldap-accesslog-base',
    option: 'ldap.accesslogBase',
    description: "suffix of OpenLDAP's accesslog database (default cn=accesslog)",
  },
  {
    env: 'LDAP_FULL_SCAN_INTERVAL',
    flag: 'ldap-full-scan-interval',
    option: 'ldap.fullScanInterval',
    description: 'longest time between two scans of the whole scope with a change log (default 24h)',
  },
];

/**
 * Parses argv (without node and script), env and the config file into AgentOptions. Throws
 * SettingError naming the setting, or SettingsError with every problem (each unknown key,
 * each value that does not convert) when there are several.
 */
export function resolveSettings(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): AgentOptions {
  const { options, problems } = collectSettings(argv, env);
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new SettingsError(problems);
  return options;
}

/** As {@link resolveSettings}, but returns the problems with what could be read. */
export function collectSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { options: AgentOptions; problems: SettingError[] } {
  const program = new Command('syncguard-agent')
    .description('syncguard agent: reads your LDAP directory and streams its changes to the syncguard controller')
    .option('--config <file>', 'YAML or JSON file with the settings below (keys as the environment names)')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  for (const s of SETTINGS) program.addOption(new Option(`--${s.flag} <value>`, `${s.description} [${s.env}]`));
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') throw error;
    throw new SettingError('arguments', (e.message ?? String(error)).replace(/^error: /, ''));
  }
  const flags = program.opts<Record<string, string | undefined>>();
  const problems: SettingError[] = [];
  const file = flags['config'] ? readConfigFile(flags['config'], problems) : {};
  const options: Record<string, unknown> = { ldap: {} };
  for (const s of SETTINGS) {
    const flagKey = s.flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
    const raw = flags[flagKey] ?? env[s.env] ?? file[s.env];
    if (raw === undefined || raw === '') continue;
    let value: unknown;
    try {
      value = convert(raw, s);
    } catch (error) {
      if (!(error instanceof SettingError)) throw error;
      problems.push(error);
      continue;
    }
    const [head, tail] = s.option.split('.') as [string, string | undefined];
    if (tail) (options[head] as Record<string, unknown>)[tail] = value;
    else options[head] = value;
  }
  return { options: options as unknown as AgentOptions, problems };
}

/** The environment name and flag of an option path, for messages. */
export function settingName(option: string): string {
  const s = SETTINGS.find((x) => x.option === option);
  return s ? `${s.env} (--${s.flag})` : option;
}

/** The text for `--help`. */
export function helpText(): string {
  return [
    'Usage: syncguard-agent [--config FILE] [--<setting> VALUE ...]',
    '       syncguard-agent --version | --help',
    '',
    'syncguard agent: reads your LDAP directory and streams its changes to the syncguard controller.',
    '',
    'Settings (flag, environment / config file key):',
    ...SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.description}`),
    '',
    'Flags override the environment, which overrides the --config file (YAML or JSON, keys as',
    'the environment names). Exit status: 0 stopped by a signal, 1 failed at start, 2 refused',
    'by the controller for good (token unknown or revoked), 78 a bad setting.',
  ].join('\n');
}

function convert(raw: unknown, s: SettingSpec): unknown {
  if (s.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const v = String(raw).trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new SettingError(s.env, `must be true or false, got ${String(raw)}`);
  }
  if (s.kind === 'integer') {
    const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (!Number.isInteger(n)) throw new SettingError(s.env, `must be a whole number, got ${String(raw)}`);
    return n;
  }
  if (s.kind === 'list') {
    // A config file may hold a YAML/JSON list; flags and the environment a comma-separated string.
    if (Array.isArray(raw) && raw.every((v) => typeof v === 'string')) return raw;
    if (typeof raw !== 'string') throw new SettingError(s.env, 'must be names separated by commas, or a list of names');
    return raw;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new SettingError(s.env, 'must be a string');
  return String(raw);
}

function readConfigFile(file: string, problems: SettingError[]): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingError('--config', `cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : YAML.parse(text);
  } catch (error) {
    throw new SettingError(
      '--config',
      `${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SettingError('--config', `${file} must hold a mapping of settings`);
  const known = new Set(SETTINGS.map((s) => s.env));
  for (const key of Object.keys(parsed)) {
    if (known.has(key)) continue;
    const hint = SETTINGS.find((s) => s.env.toLowerCase() === key.toLowerCase() || s.option === key);
    problems.push(
      new SettingError(
        '--config',
        `${file}: unknown setting ${key}${hint ? ` (did you mean ${hint.env}?)` : ''}; see syncguard-agent --help`,
      ),
    );
  }
  return parsed as Record<string, unknown>;
}

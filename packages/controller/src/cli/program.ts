import fs from 'node:fs';
import readline from 'node:readline';
import { Command, CommanderError, Option } from 'commander';
import type {
  Agent,
  AllowDeletesResult,
  ApiToken,
  AuditEntry,
  CloudObject,
  Configuration,
  ConfigurationStatus,
  Cycle,
  DeleteApproval,
  NotificationEventView,
  Preview,
  StagedDelete,
  StagedDeleteGroup,
  ProvisioningLogEntry,
} from '../model';
import { ApiClient, CliError, withQuery } from './api-client';
import { formatFields, formatTable } from './table';
import { describeRule } from '../guard/decide';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

function cliVersion(): string {
  return (require('../../package.json') as { version: string }).version;
}

/** Where the CLI reads and writes; process.* in main.ts, fakes in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

interface GlobalOptions {
  url?: string;
  token?: string;
  caFile?: string;
  timeout?: string;
  json?: boolean;
}

/** Exit status of every syncguard program for a bad setting (sysexits EX_CONFIG). */
export const EXIT_BAD_SETTING = 78;

/** A bad setting of the CLI (SYNCGUARD_URL, SYNCGUARD_TOKEN, --ca-file, --timeout): exit 78. */
export class CliSettingError extends CliError {
  override name = 'CliSettingError';
}

type Page<T> = { items: T[]; nextCursor: string | null };

/** Exit status of `preview` when the change would quarantine (like GCDS's simulation). */
export const EXIT_WOULD_QUARANTINE = 3;

/** Ends the program with this status after the command printed its result. */
class CliExitStatus extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}

const PROVISIONING_ACTIONS = ['Create', 'Update', 'Delete', 'StagedDelete'];

/** Runs syncguardctl with `argv` (as process.argv: node, script, args...); resolves the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliExitStatus) return error.status;
    if (error instanceof CliSettingError) {
      io.stderr(`syncguardctl: invalid setting ${error.message}\n`);
      return EXIT_BAD_SETTING;
    }
    if (error instanceof CliError) {
      io.stderr(`syncguardctl: ${error.message}\n`);
      return 1;
    }
    io.stderr(`syncguardctl: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('syncguardctl');
  program
    .description('Admin CLI of syncguard, over the controller HTTP API.')
    .addOption(new Option('--url <url>', `controller URL (env SYNCGUARD_URL, default ${DEFAULT_URL})`))
    .addOption(new Option('--token <token>', 'API token (env SYNCGUARD_TOKEN)'))
    .addOption(new Option('--ca-file <file>', "PEM CA of the controller's TLS certificate (env SYNCGUARD_CA_FILE)"))
    .addOption(new Option('--timeout <seconds>', 'longest wait for one call (env SYNCGUARD_TIMEOUT, default 30)'))
    .version(cliVersion(), '-V, --version')
    .option('--json', 'print JSON for scripts instead of tables')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText(
      'after',
      `
Settings: SYNCGUARD_URL (default ${DEFAULT_URL}), SYNCGUARD_TOKEN, SYNCGUARD_CA_FILE and
SYNCGUARD_TIMEOUT (seconds, default 30), or --url, --token, --ca-file and --timeout.
CONFIG and AGENT arguments take an id or a name. Exit codes: 0 done, 1 the call failed
(the API's message is printed), 2 bad usage, 3 (preview) the change would quarantine,
78 a bad setting.

Examples:
  syncguardctl configs create --name corp --base-dn ou=people,dc=example,dc=com --agent dc1 --threshold 500
  syncguardctl status corp
  syncguardctl logs corp --action StagedDelete
  syncguardctl allow-deletes corp          (asks; --yes to skip the question)
  syncguardctl allow-deletes corp --parent ou=retired,dc=example,dc=com   (the other deletes are kept)
  syncguardctl reject-deletes corp --reason "bad filter"
  syncguardctl kept corp --delete <object id>
  syncguardctl preview corp --filter "(departmentNumber=7)"   (exit 3 when it would quarantine)
  syncguardctl --json configs list`,
    );

  const ctx = (cmd: Command) => {
    const opts = cmd.optsWithGlobals<GlobalOptions>();
    const url = opts.url ?? io.env.SYNCGUARD_URL ?? DEFAULT_URL;
    const token = opts.token ?? io.env.SYNCGUARD_TOKEN;
    if (!token) throw new CliSettingError('SYNCGUARD_TOKEN (--token): is required (an API token)');
    if (!/^https?:\/\/[^/]/.test(url))
      throw new CliSettingError(`SYNCGUARD_URL (--url): must start with http:// or https://, got ${JSON.stringify(url)}`);
    const caFile = opts.caFile ?? io.env.SYNCGUARD_CA_FILE;
    let ca: Buffer | undefined;
    if (caFile) {
      try {
        ca = fs.readFileSync(caFile);
      } catch (error) {
        throw new CliSettingError(`SYNCGUARD_CA_FILE (--ca-file): cannot read ${caFile}: ${(error as Error).message}`);
      }
    }
    const timeoutText = opts.timeout ?? io.env.SYNCGUARD_TIMEOUT ?? '30';
    const timeout = Number(timeoutText);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new CliSettingError(`SYNCGUARD_TIMEOUT (--timeout): must be a number of seconds, got ${JSON.stringify(timeoutText)}`);
    const api = new ApiClient(url, token, { ca, timeoutMs: Math.round(timeout * 1000) });
    const json = opts.json === true;
    const out = (human: () => string, data: unknown) => io.stdout(`${json ? JSON.stringify(data, null, 2) : human()}\n`);
    /** Messages that are not the result: stderr under --json, so that stdout stays JSON. */
    const note = (text: string) => (json ? io.stderr(`${text}\n`) : io.stdout(`${text}\n`));
    return { api, json, out, note };
  };
  const sub = (parent: Command, name: string, description: string) =>
    parent
      .command(name)
      .description(description)
      .exitOverride()
      .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
      .showHelpAfterError();

  // agents
  const agents = sub(program, 'agents', 'agents: list, register, show, delete, rotate-token');
  sub(agents, 'list', 'list agents with their connection status').action(async (_o, cmd: Command) => {
    const { api, out } = ctx(cmd);
    const items = await api.all<Agent>('/api/v1/agents');
    out(() => agentTable(items), items);
  });
  sub(agents, 'register', 'register an agent; prints its id and token (shown once)')
    .argument('<name>', 'agent name')
    .action(async (name: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const created = await api.post<{ id: string; token: string }>('/api/v1/agents', { name });
      out(() => agentTokenText(created, 'The token is shown only now: give it to the agent as SYNCGUARD_AGENT_TOKEN.'), created);
    });
  sub(agents, 'show', 'show one agent')
    .argument('<agent>', 'agent id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const agent = await resolveAgent(api, ref);
      out(() => agentFields(agent), agent);
    });

  sub(agents, 'delete', 'remove an agent: its token stops working, its session closes (asks first unless --yes)')
    .argument('<agent>', 'agent id or name')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (ref: string, opts: { yes?: boolean }, cmd: Command) => {
      const { api, out, note } = ctx(cmd);
      const agent = await resolveAgent(api, ref);
      const serves = agent.configurationIds.length;
      note(
        `Agent ${agent.name} (${agent.id}) is ${agent.status}` +
          (serves > 0
            ? ` and serves ${serves} configuration(s): ${agent.configurationIds.join(', ')}.`
            : ' and serves no configuration.') +
          '\nDeleting it revokes its token at once, closes its session (the agent stops) and removes it from those configurations.',
      );
      if (!opts.yes) {
        if (!io.stdin.isTTY)
          throw new CliError(
            `refusing to delete agent ${agent.name} without confirmation: stdin is not a terminal. Pass --yes to confirm.`,
          );
        const answer = await ask(io, `Delete agent ${agent.name}? [y/N] `);
        if (!/^(y|yes)$/i.test(answer.trim())) throw new CliError('aborted; the agent was not deleted');
      }
      const result = await api.delete<{ id: string; configurationIds: string[] }>(
        `/api/v1/agents/${encodeURIComponent(agent.id)}`,
      );
      out(
        () =>
          `deleted agent ${agent.name} (${agent.id})` +
          (result.configurationIds.length > 0 ? `; removed from configuration(s) ${result.configurationIds.join(', ')}` : ''),
        result,
      );
    });
  sub(agents, 'rotate-token', "replace an agent's token; prints the new one (shown once); the old one stops working")
    .argument('<agent>', 'agent id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const agent = await resolveAgent(api, ref);
      const rotated = await api.post<{ id: string; token: string }>(`/api/v1/agents/${encodeURIComponent(agent.id)}/token`);
      out(
        () =>
          agentTokenText(
            rotated,
            "The token is shown only now. The old token no longer works and the agent's session was closed:\n" +
              'set SYNCGUARD_AGENT_TOKEN to the new token and restart the agent.',
          ),
        rotated,
      );
    });

  // configs
  const configs = sub(program, 'configs', 'configurations: list, create, show, update, delete');
  sub(configs, 'list', 'list configurations with their state').action(async (_o, cmd: Command) => {
    const { api, out } = ctx(cmd);
    const items = await api.all<Configuration>('/api/v1/configurations');
    out(() => configTable(items), items);
  });
  const withConfigFlags = (cmd: Command) =>
    cmd
      .option('--file <file>', 'JSON file with the configuration (the API body); flags override its fields')
      .option('--name <name>', 'configuration name')
      .option('--base-dn <dn>', 'LDAP search base')
      .option('--filter <filter>', "extra LDAP filter ('' for none)")
      .option('--object-types <types>', 'object types in scope, comma-separated: user,group')
      .option('--agent <agent...>', 'agent id or name serving it (repeatable)')
      .option('--threshold <n>', 'accidental delete threshold: quarantine when deletes >= n')
      .addOption(new Option('--prevention <state>', 'accidental delete prevention').choices(['on', 'off']))
      .option('--percentage <p>', "quarantine when deletes >= p percent of the objects held ('off' for none)")
      .option('--minimum-objects <n>', 'the percentages apply only from n objects held (of the type) on; default 100')
      .option('--approvals <n>', 'admin tokens that must allow the deletes of a quarantine: 1 (default) or 2')
      .option('--user-threshold <n>', "quarantine when user deletes >= n ('off' for none)")
      .option('--user-percentage <p>', "quarantine when user deletes >= p percent of the users held ('off' for none)")
      .option('--group-threshold <n>', "quarantine when group deletes >= n ('off' for none)")
      .option('--group-percentage <p>', "quarantine when group deletes >= p percent of the groups held ('off' for none)")
      .option('--window-hours <h>', "rolling window: the deletes applied in the last h hours plus the cycle's ('off' for none)")
      .option('--window-threshold <n>', 'rolling window: quarantine when those deletes >= n')
      .addOption(
        new Option(
          '--hold <what>',
          'what a quarantine holds back: the whole cycle (default) or only its deletes (the delete lane)',
        ).choices(['cycle', 'deletes']),
      )
      .option('--member-removals <n>', "quarantine when a cycle removes >= n memberships from groups that stay ('off' for none)")
      .option(
        '--protect-dn <dn...>',
        'protected DN suffix: any delete at or under it quarantines (repeatable; replaces the list)',
      )
      .option('--protect-id <id...>', 'protected object id (repeatable; replaces the list)')
      .option('--notification-email <address>', "where quarantine notifications go ('' for nobody)")
      .option('--notify-email <address...>', "email recipients of every event (repeatable; replaces the list; '' for none)")
      .option(
        '--webhook <url...>',
        "webhooks of every event (repeatable; replaces the list; '' for none); stored URLs keep their secret",
      )
      .option('--webhook-secret-file <file>', 'a file holding the signing secret of the --webhook URLs given (16+ characters)')
      .option('--interval <seconds>', 'seconds between scheduled cycles (>= 10)');
  withConfigFlags(sub(configs, 'create', 'create a configuration from --file and/or flags')).action(
    async (opts: ConfigFlags, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const body = await configBody(api, opts);
      const created = await api.post<Configuration>('/api/v1/configurations', body);
      out(() => `created configuration ${created.id}\n${configFields(created)}`, created);
    },
  );
  sub(configs, 'show', 'show one configuration')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      out(() => configFields(config), config);
    });
  withConfigFlags(sub(configs, 'update', 'change a configuration: only the fields given (--file holds a partial body)'))
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, opts: ConfigFlags, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const patch = await configBody(api, opts);
      if (Object.keys(patch).length === 0) throw new CliError('nothing to change: pass --file or at least one field flag');
      const updated = await api.patch<Configuration>(`/api/v1/configurations/${encodeURIComponent(config.id)}`, patch);
      out(() => `updated configuration ${updated.id}\n${configFields(updated)}`, updated);
    });
  sub(configs, 'delete', 'remove a configuration')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      await api.delete(`/api/v1/configurations/${encodeURIComponent(config.id)}`);
      out(() => `deleted configuration ${config.name} (${config.id})`, { id: config.id, deleted: true });
    });

  // tokens
  const tokens = sub(program, 'tokens', 'API tokens: list, create, revoke (admin)');
  sub(tokens, 'list', 'list API tokens (never their secret)').action(async (_o, cmd: Command) => {
    const { api, out } = ctx(cmd);
    const items = await api.all<ApiToken>('/api/v1/tokens');
    out(
      () =>
        formatTable(items, [
          { header: 'ID', value: (t) => t.id },
          { header: 'NAME', value: (t) => t.name },
          { header: 'ROLE', value: (t) => t.role },
          { header: 'CREATED', value: (t) => t.createdAt },
          { header: 'LAST USED', value: (t) => t.lastUsedAt },
        ]),
      items,
    );
  });
  sub(tokens, 'create', 'create an API token; prints it once')
    .argument('<name>', 'token name (shown in the audit log)')
    .addOption(
      new Option('--role <role>', 'admin (everything) or reader (GETs only)').choices(['admin', 'reader']).default('reader'),
    )
    .action(async (name: string, opts: { role: string }, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const created = await api.post<ApiToken & { token: string }>('/api/v1/tokens', { name, role: opts.role });
      out(
        () =>
          `${formatFields([
            ['id', created.id],
            ['name', created.name],
            ['role', created.role],
            ['token', created.token],
          ])}\nThe token is shown only now; use it as SYNCGUARD_TOKEN.`,
        created,
      );
    });
  sub(tokens, 'revoke', 'revoke an API token')
    .argument('<id>', 'token id')
    .action(async (id: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      await api.delete(`/api/v1/tokens/${encodeURIComponent(id)}`);
      out(() => `revoked token ${id}`, { id, revoked: true });
    });

  // per-configuration commands
  sub(program, 'status', "a configuration's state, quarantine and last cycle")
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const base = `/api/v1/configurations/${encodeURIComponent(config.id)}`;
      const status = await api.get<ConfigurationStatus>(`${base}/status`);
      // A quarantine's deletes by cause, for people (the JSON is the status alone).
      const causes = status.quarantine
        ? await api
            .get<{ groups: StagedDeleteGroup[] }>(`${base}/staged-deletes?groupBy=cause`)
            .then((r) => r.groups)
            .catch(() => [])
        : [];
      out(() => statusText(config, status, causes), status);
    });

  sub(program, 'sync', 'start a cycle now')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const started = await api.post<{ cycleId: string }>(`/api/v1/configurations/${encodeURIComponent(config.id)}/cycles`);
      out(() => `started cycle ${started.cycleId} of ${config.name}`, started);
    });

  sub(program, 'logs', 'provisioning log, newest first')
    .argument('<config>', 'configuration id or name')
    .addOption(new Option('--action <action>', 'only this action').choices(PROVISIONING_ACTIONS))
    .option('--cycle <id>', 'only this cycle')
    .option('--dn <text>', 'only entries whose DN contains this text')
    .option('--limit <n>', 'at most n entries', '100')
    .option('--all', 'every entry (follows pages)')
    .action(
      async (ref: string, opts: { action?: string; cycle?: string; dn?: string; limit: string; all?: boolean }, cmd: Command) => {
        const { api, out, note } = ctx(cmd);
        const config = await resolveConfig(api, ref);
        const path = `/api/v1/configurations/${encodeURIComponent(config.id)}/provisioning-logs`;
        const query = { action: opts.action, cycleId: opts.cycle, dn: opts.dn };
        let items: ProvisioningLogEntry[];
        let more = false;
        if (opts.all) items = await api.all<ProvisioningLogEntry>(path, query);
        else {
          const page = await api.get<Page<ProvisioningLogEntry>>(withQuery(path, { ...query, limit: opts.limit }));
          items = page.items;
          more = page.nextCursor !== null;
        }
        out(
          () =>
            formatTable(items, [
              { header: 'AT', value: (e) => e.at },
              { header: 'ACTION', value: (e) => e.action },
              { header: 'STATUS', value: (e) => e.status },
              { header: 'TYPE', value: (e) => e.objectType },
              { header: 'DN', value: (e) => e.dn },
              { header: 'CAUSE', value: (e) => (e.cause ? (e.newDn ? `${e.cause} -> ${e.newDn}` : e.cause) : null) },
              { header: 'CYCLE', value: (e) => e.cycleId },
              { header: 'DETAILS', value: (e) => e.details },
            ]),
          items,
        );
        if (more) note(`(more entries: use --all or a larger --limit)`);
      },
    );

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  sub(
    program,
    'allow-deletes',
    'release a quarantine: apply its staged deletes, all or the chosen ones (asks first unless --yes)',
  )
    .argument('<config>', 'configuration id or name')
    .option('--object <id>', 'apply only this staged delete (repeatable); the others become kept objects', collect)
    .option('--parent <dn>', 'apply only the staged deletes under this parent DN, its subtree included (repeatable)', collect)
    .option('--reason <text>', 'why, for the audit log')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (ref: string, opts: { yes?: boolean; object?: string[]; parent?: string[]; reason?: string }, cmd: Command) => {
      const { api, out, note } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const base = `/api/v1/configurations/${encodeURIComponent(config.id)}`;
      const status = await api.get<ConfigurationStatus>(`${base}/status`);
      const q = status.quarantine;
      if (status.state !== 'quarantined' || !q)
        throw new CliError(
          `configuration ${config.name} is not quarantined (state: ${status.state}); there are no staged deletes to allow`,
        );
      const partial = Boolean(opts.object?.length || opts.parent?.length);
      note(
        `Configuration ${config.name} (${config.id}) is quarantined since ${q.since}: ` +
          `${q.deleteCount} staged deletes (threshold ${q.threshold}) in cycle ${q.cycleId}.\n` +
          `Review them with: syncguardctl staged ${config.name} --group-by parent`,
      );
      const what = partial
        ? `the chosen deletes (${[...(opts.object ?? []), ...(opts.parent ?? []).map((p) => `under ${p}`)].join(', ')}) ` +
          `and keep the other staged deletes`
        : `${q.deleteCount} deletes`;
      if (!opts.yes) {
        if (!io.stdin.isTTY)
          throw new CliError(`refusing to apply ${what} without confirmation: stdin is not a terminal. Pass --yes to confirm.`);
        const answer = await ask(io, `Apply ${what} to ${config.name}? This cannot be undone. [y/N] `);
        if (!/^(y|yes)$/i.test(answer.trim())) throw new CliError('aborted; nothing was deleted');
      }
      const body: Record<string, unknown> = {};
      if (opts.object?.length) body.objectIds = opts.object;
      if (opts.parent?.length) body.parentDns = opts.parent;
      if (opts.reason) body.reason = opts.reason;
      const result = await api.post<AllowDeletesResult>(`${base}/allow-deletes`, body);
      const keptText = (n: number | undefined) => (n ? `; ${n} kept (syncguardctl kept ${config.name})` : '');
      out(() => {
        switch (result.state) {
          case 'applied':
            return `allowed: ${result.deleted} objects deleted (cycle ${result.cycleId})${keptText(result.kept)}; ${config.name} resumes its schedule`;
          case 'applying':
            return (
              `allowed: ${result.deleteCount} deletes are still being applied (cycle ${result.cycleId})${keptText(result.kept)}; ` +
              `watch "syncguardctl status ${config.name}"`
            );
          case 'awaitingApproval':
            return (
              `approved: nothing is deleted yet; ${config.name} needs ${result.approvalsNeeded} more approval ` +
              `by another admin token choosing the same deletes (syncguardctl allow-deletes ${config.name} ...)`
            );
        }
      }, result);
    });

  sub(program, 'reject-deletes', 'keep staged deletes (all, or the chosen ones): they stay in the target as kept objects')
    .argument('<config>', 'configuration id or name')
    .option('--object <id>', 'keep only this staged delete (repeatable)', collect)
    .option('--reason <text>', 'why, for the audit log')
    .action(async (ref: string, opts: { object?: string[]; reason?: string }, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const body: Record<string, unknown> = {};
      if (opts.object?.length) body.objectIds = opts.object;
      if (opts.reason) body.reason = opts.reason;
      const result = await api.post<{ cycleId: string; kept: number; left: number; state: string }>(
        `/api/v1/configurations/${encodeURIComponent(config.id)}/reject-deletes`,
        body,
      );
      out(
        () =>
          `rejected: ${result.kept} deletes kept (cycle ${result.cycleId}); ` +
          (result.state === 'quarantined'
            ? `${result.left} staged deletes are left: ${config.name} stays quarantined`
            : result.state === 'applying'
              ? `the rest of the cycle is still being applied; watch "syncguardctl status ${config.name}"`
              : `${config.name} is healthy again`),
        result,
      );
    });

  sub(program, 'kept', 'kept objects: deletes an admin kept, which stay in the target (--delete ID deletes them, audited)')
    .argument('<config>', 'configuration id or name')
    .option('--delete <id>', 'delete this kept object from the target (repeatable; asks first unless --yes)', collect)
    .option('--reason <text>', 'why, for the audit log (with --delete)')
    .option('-y, --yes', 'do not ask for confirmation (with --delete)')
    .option('--limit <n>', 'at most n kept objects', '100')
    .option('--all', 'every kept object (follows pages)')
    .action(
      async (
        ref: string,
        opts: { delete?: string[]; reason?: string; yes?: boolean; limit: string; all?: boolean },
        cmd: Command,
      ) => {
        const { api, out, note } = ctx(cmd);
        const config = await resolveConfig(api, ref);
        const path = `/api/v1/configurations/${encodeURIComponent(config.id)}/kept-objects`;
        if (opts.delete?.length) {
          if (!opts.yes) {
            if (!io.stdin.isTTY)
              throw new CliError(
                `refusing to delete ${opts.delete.length} kept objects without confirmation: stdin is not a terminal. Pass --yes to confirm.`,
              );
            const answer = await ask(io, `Delete ${opts.delete.length} kept objects from ${config.name}'s target? [y/N] `);
            if (!/^(y|yes)$/i.test(answer.trim())) throw new CliError('aborted; nothing was deleted');
          }
          const result = await api.post<
            | { state: 'applied'; cycleId: string; deleted: number }
            | { state: 'applying'; cycleId: string; deleteCount: number }
            | { state: 'awaitingApproval'; approvalsNeeded: number }
          >(`${path}/delete`, { objectIds: opts.delete, ...(opts.reason ? { reason: opts.reason } : {}) });
          out(() => {
            switch (result.state) {
              case 'applied':
                return `deleted: ${result.deleted} kept objects (cycle ${result.cycleId})`;
              case 'applying':
                return `deleting: ${result.deleteCount} kept objects (cycle ${result.cycleId}); watch "syncguardctl status ${config.name}"`;
              case 'awaitingApproval':
                return `approved: nothing is deleted yet; another admin token must ask for the same objects`;
            }
          }, result);
          return;
        }
        let items: (StagedDelete & { keptAt: string; cycleId: string })[];
        let more = false;
        if (opts.all) items = await api.all<StagedDelete & { keptAt: string; cycleId: string }>(path);
        else {
          const page = await api.get<Page<StagedDelete & { keptAt: string; cycleId: string }>>(
            withQuery(path, { limit: opts.limit }),
          );
          items = page.items;
          more = page.nextCursor !== null;
        }
        out(
          () =>
            formatTable(items, [
              { header: 'TYPE', value: (d) => d.objectType },
              { header: 'DN', value: (d) => d.dn },
              { header: 'CAUSE', value: (d) => d.cause },
              { header: 'KEPT AT', value: (d) => d.keptAt },
              { header: 'ID', value: (d) => d.objectId },
            ]),
          items,
        );
        if (more) note('(more kept objects: use --all or a larger --limit)');
      },
    );

  sub(program, 'staged', 'the deletes a quarantine holds, or their groups (by cause, parent DN or type)')
    .argument('<config>', 'configuration id or name')
    .addOption(new Option('--group-by <key>', 'one line per group: its count and a sample').choices(['cause', 'parent', 'type']))
    .option('--limit <n>', 'at most n deletes', '100')
    .option('--all', 'every delete (follows pages)')
    .action(async (ref: string, opts: { groupBy?: string; limit: string; all?: boolean }, cmd: Command) => {
      const { api, out, note } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const path = `/api/v1/configurations/${encodeURIComponent(config.id)}/staged-deletes`;
      if (opts.groupBy) {
        const grouped = await api.get<{ groups: StagedDeleteGroup[]; total: number; cycleId: string | null }>(
          withQuery(path, { groupBy: opts.groupBy }),
        );
        out(
          () =>
            grouped.cycleId === null
              ? `${config.name} holds no deletes (not quarantined)`
              : `${grouped.total} deletes held in cycle ${grouped.cycleId}\n` +
                formatTable(grouped.groups, [
                  { header: 'COUNT', value: (g) => g.count },
                  { header: opts.groupBy!.toUpperCase(), value: (g) => g.key || '(root)' },
                  { header: 'SAMPLE', value: (g) => g.sample.map((d) => d.dn) },
                ]),
          grouped,
        );
        return;
      }
      let items: StagedDelete[];
      let more = false;
      if (opts.all) items = await api.all<StagedDelete>(path);
      else {
        const page = await api.get<Page<StagedDelete>>(withQuery(path, { limit: opts.limit }));
        items = page.items;
        more = page.nextCursor !== null;
      }
      out(
        () =>
          formatTable(items, [
            { header: 'TYPE', value: (d) => d.objectType },
            { header: 'DN', value: (d) => d.dn },
            { header: 'CAUSE', value: (d) => d.cause },
            { header: 'NEW DN', value: (d) => d.newDn ?? '' },
            { header: 'ID', value: (d) => d.objectId },
          ]),
        items,
      );
      if (more) note('(more deletes: use --all or a larger --limit)');
    });

  withConfigFlags(
    sub(
      program,
      'preview',
      'what a configuration change would do, read from the real source (nothing applied): exit 3 when it would quarantine',
    ),
  )
    .argument('<config>', 'configuration id or name')
    .option('--wait <seconds>', 'longest wait for the result (default 600)')
    .action(async (ref: string, opts: ConfigFlags & { wait?: string }, cmd: Command) => {
      const { api, out, json } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const base = `/api/v1/configurations/${encodeURIComponent(config.id)}`;
      const waitMs = Number(opts.wait ?? '600') * 1000;
      if (!Number.isFinite(waitMs) || waitMs <= 0) throw new CliError(`--wait: must be a number of seconds, got ${opts.wait}`);
      const { previewId } = await api.post<{ previewId: string }>(`${base}/preview`, await configBody(api, opts));
      const deadline = Date.now() + waitMs;
      let p = await api.get<Preview>(`${base}/previews/${previewId}`);
      while (p.state === 'running') {
        if (Date.now() > deadline)
          throw new CliError(`preview ${previewId} is still running after ${opts.wait ?? '600'} s (${p.objects} objects read)`);
        await new Promise((resolve) => setTimeout(resolve, 500));
        p = await api.get<Preview>(`${base}/previews/${previewId}`);
      }
      if (p.state === 'failed') {
        if (json) out(() => '', p);
        throw new CliError(`preview ${previewId} failed: ${p.error?.code ?? 'ERROR'}: ${p.error?.message ?? ''}`);
      }
      out(() => previewText(config.name, p), p);
      if (p.wouldQuarantine) throw new CliExitStatus(EXIT_WOULD_QUARANTINE);
    });

  sub(program, 'approve', 'approve a planned change ahead: its cycle of at most N deletes is applied without quarantine, once')
    .argument('<config>', 'configuration id or name')
    .requiredOption('--max <n>', 'the most deletes the approved cycle may have')
    .requiredOption('--hours <h>', 'how long the approval waits for its cycle (at most 720)')
    .requiredOption('--reason <text>', 'why (kept in the audit log)')
    .action(async (ref: string, opts: { max: string; hours: string; reason: string }, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const a = await api.post<DeleteApproval>(`/api/v1/configurations/${encodeURIComponent(config.id)}/delete-approvals`, {
        maxDeletes: numberOrText(opts.max),
        expiresInHours: numberOrText(opts.hours),
        reason: opts.reason,
      });
      out(
        () =>
          `approved ${a.id}: the next cycle of ${config.name} that would be quarantined with at most ${a.maxDeletes} deletes, ` +
          `before ${a.expiresAt}, is applied (once)`,
        a,
      );
    });
  const approvals = sub(program, 'approvals', "a configuration's pre-approvals: list, revoke");
  sub(approvals, 'list', 'pre-approvals, newest first: active, used (by which cycle), expired, revoked')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const { items } = await api.get<{ items: DeleteApproval[] }>(
        `/api/v1/configurations/${encodeURIComponent(config.id)}/delete-approvals`,
      );
      out(
        () =>
          formatTable(items, [
            { header: 'ID', value: (a) => a.id },
            { header: 'STATE', value: (a) => a.state },
            { header: 'MAX', value: (a) => a.maxDeletes },
            { header: 'EXPIRES', value: (a) => a.expiresAt },
            { header: 'USED BY', value: (a) => (a.cycleId ? `${a.cycleId} (${a.usedDeletes} deletes)` : '') },
            { header: 'BY', value: (a) => a.createdBy },
            { header: 'REASON', value: (a) => a.reason },
          ]),
        items,
      );
    });
  sub(approvals, 'revoke', 'revoke a pre-approval that no cycle used yet')
    .argument('<config>', 'configuration id or name')
    .argument('<approval>', 'approval id')
    .action(async (ref: string, approvalId: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      await api.delete(
        `/api/v1/configurations/${encodeURIComponent(config.id)}/delete-approvals/${encodeURIComponent(approvalId)}`,
      );
      out(() => `revoked approval ${approvalId} of ${config.name}`, { id: approvalId, revoked: true });
    });

  const notifications = sub(program, 'notifications', "a configuration's notification events: list, test");
  sub(notifications, 'list', 'the newest events and how their deliveries went')
    .argument('<config>', 'configuration id or name')
    .option('--limit <n>', 'at most n events (up to 100)', '20')
    .action(async (ref: string, opts: { limit: string }, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const { items } = await api.get<{ items: NotificationEventView[] }>(
        withQuery(`/api/v1/configurations/${encodeURIComponent(config.id)}/notifications`, { limit: opts.limit }),
      );
      const rows = items.flatMap((e) => e.deliveries.map((d) => ({ e, d })));
      out(
        () =>
          formatTable(rows, [
            { header: 'AT', value: (r) => r.e.at },
            { header: 'EVENT', value: (r) => r.e.event },
            { header: 'ID', value: (r) => r.e.id },
            { header: 'CHANNEL', value: (r) => r.d.channel },
            { header: 'TO', value: (r) => r.d.to },
            { header: 'STATUS', value: (r) => r.d.status },
            { header: 'ATTEMPTS', value: (r) => r.d.attempts },
            { header: 'LAST ERROR', value: (r) => r.d.lastError },
          ]),
        items,
      );
    });
  sub(notifications, 'test', 'send a test event to every email recipient and webhook of a configuration')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const sent = await api.post<{ eventId: string; deliveries: number }>(
        `/api/v1/configurations/${encodeURIComponent(config.id)}/notifications/test`,
      );
      out(
        () =>
          `queued test event ${sent.eventId} to ${sent.deliveries} endpoints; ` +
          `watch "syncguardctl notifications list ${config.name}"`,
        sent,
      );
    });

  sub(program, 'restart', 'discard the quarantined cycle without applying it and run a new cycle')
    .argument('<config>', 'configuration id or name')
    .action(async (ref: string, _o, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const result = await api.post<{ discardedCycleId: string; cycleId: string | null }>(
        `/api/v1/configurations/${encodeURIComponent(config.id)}/restart`,
      );
      out(
        () =>
          `discarded cycle ${result.discardedCycleId}; ` +
          (result.cycleId ? `started cycle ${result.cycleId}` : 'a new cycle starts when an agent connects'),
        result,
      );
    });

  sub(program, 'objects', 'what the built-in cloud directory holds for a configuration')
    .argument('<config>', 'configuration id or name')
    .addOption(new Option('--type <type>', 'only users or groups').choices(['user', 'group']))
    .option('--limit <n>', 'at most n objects', '100')
    .option('--all', 'every object (follows pages)')
    .action(async (ref: string, opts: { type?: string; limit: string; all?: boolean }, cmd: Command) => {
      const { api, out, note } = ctx(cmd);
      const config = await resolveConfig(api, ref);
      const path = `/api/v1/configurations/${encodeURIComponent(config.id)}/objects`;
      const first = await api.get<Page<CloudObject> & { total: number }>(
        withQuery(path, { type: opts.type, limit: opts.all ? 1000 : opts.limit }),
      );
      const items = [...first.items];
      let cursor = first.nextCursor ?? null;
      while (opts.all && cursor) {
        const page: Page<CloudObject> = await api.get(withQuery(path, { type: opts.type, limit: 1000, cursor }));
        items.push(...page.items);
        cursor = page.nextCursor ?? null;
      }
      out(
        () =>
          formatTable(items, [
            { header: 'ID', value: (o) => o.id },
            { header: 'TYPE', value: (o) => o.type },
            { header: 'DN', value: (o) => o.dn },
            { header: 'DISABLED', value: (o) => (o.disabled ? 'yes' : 'no') },
            { header: 'MEMBERS', value: (o) => (o.type === 'group' ? o.memberDns.length : '') },
          ]) + `\n${items.length} of ${first.total} objects`,
        { total: first.total, items },
      );
      if (cursor && !opts.all) note('(more objects: use --all or a larger --limit)');
    });

  sub(program, 'audit', 'who did what, when (newest first)')
    .option('--limit <n>', 'at most n entries', '100')
    .action(async (opts: { limit: string }, cmd: Command) => {
      const { api, out } = ctx(cmd);
      const page = await api.get<Page<AuditEntry>>(withQuery('/api/v1/audit', { limit: opts.limit }));
      out(
        () =>
          formatTable(page.items, [
            { header: 'AT', value: (e) => e.at },
            { header: 'WHO', value: (e) => e.actor.name },
            { header: 'ACTION', value: (e) => e.action },
            { header: 'TARGET', value: (e) => `${e.target.type}/${e.target.id}` },
            { header: 'DETAILS', value: (e) => (Object.keys(e.details ?? {}).length ? e.details : '') },
          ]),
        page.items,
      );
    });

  return program;
}

interface ConfigFlags {
  file?: string;
  name?: string;
  baseDn?: string;
  filter?: string;
  objectTypes?: string;
  agent?: string[];
  threshold?: string;
  prevention?: 'on' | 'off';
  percentage?: string;
  minimumObjects?: string;
  approvals?: string;
  userThreshold?: string;
  userPercentage?: string;
  groupThreshold?: string;
  groupPercentage?: string;
  windowHours?: string;
  windowThreshold?: string;
  memberRemovals?: string;
  hold?: 'cycle' | 'deletes';
  protectDn?: string[];
  protectId?: string[];
  notificationEmail?: string;
  notifyEmail?: string[];
  webhook?: string[];
  webhookSecretFile?: string;
  interval?: string;
}

/** null for `off`; else as numberOrText. */
function limitOrOff(text: string): number | string | null {
  return text.trim() === 'off' ? null : numberOrText(text);
}

/** The delete-policy flags, merged into `deletes` (the body's accidentalDeletes). */
function deletePolicyFlags(opts: ConfigFlags, deletes: Record<string, unknown>): void {
  const nested = (key: string): Record<string, unknown> => {
    const current = deletes[key];
    const value = typeof current === 'object' && current !== null ? { ...(current as Record<string, unknown>) } : {};
    deletes[key] = value;
    return value;
  };
  if (opts.percentage !== undefined) deletes.percentage = limitOrOff(opts.percentage);
  if (opts.minimumObjects !== undefined) deletes.minimumObjects = numberOrText(opts.minimumObjects);
  if (opts.approvals !== undefined) deletes.approvals = numberOrText(opts.approvals);
  for (const type of ['user', 'group'] as const) {
    const threshold = type === 'user' ? opts.userThreshold : opts.groupThreshold;
    const percentage = type === 'user' ? opts.userPercentage : opts.groupPercentage;
    if (threshold === undefined && percentage === undefined) continue;
    const perType = nested('perType');
    const limits = { ...((perType[type] as Record<string, unknown> | null | undefined) ?? {}) };
    if (threshold !== undefined) limits.threshold = limitOrOff(threshold);
    if (percentage !== undefined) limits.percentage = limitOrOff(percentage);
    perType[type] = limits;
  }
  if (opts.windowHours?.trim() === 'off') deletes.window = null;
  else if (opts.windowHours !== undefined || opts.windowThreshold !== undefined) {
    const window = nested('window');
    if (opts.windowHours !== undefined) window.hours = numberOrText(opts.windowHours);
    if (opts.windowThreshold !== undefined) window.threshold = numberOrText(opts.windowThreshold);
  }
  if (opts.hold !== undefined) deletes.hold = opts.hold;
  if (opts.memberRemovals !== undefined) {
    const limit = limitOrOff(opts.memberRemovals);
    deletes.memberRemovals = limit === null ? null : { threshold: limit };
  }
  if (opts.protectDn !== undefined) nested('protected').dnSuffixes = opts.protectDn;
  if (opts.protectId !== undefined) nested('protected').objectIds = opts.protectId;
}

function previewText(name: string, p: Preview): string {
  const c = p.counts!;
  const lines = [
    `preview ${p.previewId} of ${name}: ${p.objects} objects in the proposed scope`,
    `  create ${c.create}, update ${c.update}, delete ${c.delete}`,
    p.wouldQuarantine
      ? `  would quarantine: ${p.trippedBy.map(describeRule).join('; ')}`
      : p.approvalId
        ? `  would not quarantine: pre-approval ${p.approvalId} covers ${p.trippedBy.map(describeRule).join('; ')}`
        : '  would not quarantine',
  ];
  if (p.notPreviewed.length > 0) lines.push(`  not previewed: ${p.notPreviewed.join(', ')} (the real cycle weighs it)`);
  if (p.deletes && p.deletes.sample.length > 0) {
    lines.push(`  deletes (${p.deletes.sample.length} of ${p.deletes.total}):`);
    for (const d of p.deletes.sample) lines.push(`    ${d.objectType} ${d.dn} (${d.cause})`);
  }
  return lines.join('\n');
}

/** A number when the text is one; else the text itself, so that the API names the field in its 400. */
function numberOrText(text: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : text;
}

async function configBody(api: ApiClient, opts: ConfigFlags): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = fs.readFileSync(opts.file, 'utf8');
    } catch (error) {
      throw new CliError(`--file ${opts.file}: ${(error as Error).message}`);
    }
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new CliError(`--file ${opts.file}: not JSON: ${(error as Error).message}`);
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new CliError(`--file ${opts.file}: must hold a JSON object`);
  }
  const source = { ...((body.source as Record<string, unknown> | undefined) ?? {}) };
  const deletes = { ...((body.accidentalDeletes as Record<string, unknown> | undefined) ?? {}) };
  if (opts.name !== undefined) body.name = opts.name;
  if (opts.baseDn !== undefined) source.baseDn = opts.baseDn;
  if (opts.filter !== undefined) source.filter = opts.filter;
  if (opts.objectTypes !== undefined)
    source.objectTypes = opts.objectTypes
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  if (opts.threshold !== undefined) deletes.threshold = numberOrText(opts.threshold);
  if (opts.prevention !== undefined) deletes.enabled = opts.prevention === 'on';
  deletePolicyFlags(opts, deletes);
  if (opts.interval !== undefined) body.syncIntervalSeconds = numberOrText(opts.interval);
  if (opts.notificationEmail !== undefined)
    body.notificationEmail = opts.notificationEmail === '' ? null : opts.notificationEmail;
  notificationFlags(opts, body);
  if (opts.agent !== undefined)
    body.agentIds = await Promise.all(opts.agent.map(async (ref) => (await resolveAgent(api, ref)).id));
  if (Object.keys(source).length > 0) body.source = source;
  if (Object.keys(deletes).length > 0) body.accidentalDeletes = deletes;
  return body;
}

/** --notify-email, --webhook and --webhook-secret-file, merged into the body's notifications. */
function notificationFlags(opts: ConfigFlags, body: Record<string, unknown>): void {
  if (opts.notifyEmail === undefined && opts.webhook === undefined) {
    if (opts.webhookSecretFile !== undefined) throw new CliError('--webhook-secret-file needs --webhook');
    return;
  }
  const notifications = { ...((body.notifications as Record<string, unknown> | undefined) ?? {}) };
  if (opts.notifyEmail !== undefined) notifications.emails = opts.notifyEmail.filter((e) => e !== '');
  if (opts.webhook !== undefined) {
    let secret: string | null = null;
    if (opts.webhookSecretFile !== undefined) {
      try {
        secret = fs.readFileSync(opts.webhookSecretFile, 'utf8').trim();
      } catch (error) {
        throw new CliError(`--webhook-secret-file ${opts.webhookSecretFile}: ${(error as Error).message}`);
      }
    }
    notifications.webhooks = opts.webhook.filter((u) => u !== '').map((url) => ({ url, secret }));
  }
  body.notifications = notifications;
}

/** A configuration by id, or else by exact name. */
export async function resolveConfig(api: ApiClient, ref: string): Promise<Configuration> {
  return resolve(api, ref, 'configuration', '/api/v1/configurations');
}

export async function resolveAgent(api: ApiClient, ref: string): Promise<Agent> {
  return resolve(api, ref, 'agent', '/api/v1/agents');
}

async function resolve<T extends { id: string; name: string }>(
  api: ApiClient,
  ref: string,
  kind: string,
  base: string,
): Promise<T> {
  try {
    return await api.get<T>(`${base}/${encodeURIComponent(ref)}`);
  } catch (error) {
    // 400: `ref` is not even shaped like an id (the API refuses it before looking).
    if (!(error instanceof CliError && (error.status === 404 || error.status === 400))) throw error;
  }
  const matches = (await api.all<T>(base)).filter((item) => item.name === ref);
  if (matches.length === 1) return matches[0] as T;
  if (matches.length > 1) throw new CliError(`${matches.length} ${kind}s are named "${ref}": use the id`);
  throw new CliError(`no ${kind} with id or name "${ref}"`);
}

function ask(io: CliIo, question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: io.stdin, output: process.stderr, terminal: true });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.on('close', () => {
      if (!answered) resolve('');
    });
  });
}

/** An agent's id and (new) token, and what to do with the token. */
function agentTokenText(answer: { id: string; token: string }, advice: string): string {
  return `${formatFields([
    ['id', answer.id],
    ['token', answer.token],
  ])}\n${advice}`;
}

function agentTable(items: Agent[]): string {
  return formatTable(items, [
    { header: 'ID', value: (a) => a.id },
    { header: 'NAME', value: (a) => a.name },
    { header: 'STATUS', value: (a) => a.status },
    { header: 'LAST SEEN', value: (a) => a.lastSeenAt },
    { header: 'VERSION', value: (a) => a.version },
    { header: 'HOSTNAME', value: (a) => a.hostname },
    { header: 'CONFIGURATIONS', value: (a) => a.configurationIds },
  ]);
}

function agentFields(a: Agent): string {
  return formatFields([
    ['id', a.id],
    ['name', a.name],
    ['status', a.status],
    ['last seen', a.lastSeenAt],
    ['version', a.version],
    ['hostname', a.hostname],
    ['configurations', a.configurationIds],
    ['created', a.createdAt],
  ]);
}

function configTable(items: Configuration[]): string {
  return formatTable(items, [
    { header: 'ID', value: (c) => c.id },
    { header: 'NAME', value: (c) => c.name },
    { header: 'STATE', value: (c) => c.state },
    { header: 'BASE DN', value: (c) => c.source?.baseDn },
    { header: 'THRESHOLD', value: (c) => (c.accidentalDeletes?.enabled === false ? 'off' : c.accidentalDeletes?.threshold) },
    { header: 'INTERVAL', value: (c) => `${c.syncIntervalSeconds}s` },
    { header: 'AGENTS', value: (c) => c.agentIds },
  ]);
}

function configFields(c: Configuration): string {
  return formatFields([
    ['id', c.id],
    ['name', c.name],
    ['state', c.state],
    ['agents', c.agentIds],
    ['base DN', c.source?.baseDn],
    ['filter', c.source?.filter],
    ['object types', c.source?.objectTypes],
    ['interval', `${c.syncIntervalSeconds}s`],
    [
      'delete prevention',
      c.accidentalDeletes?.enabled === false
        ? 'off'
        : `on, threshold ${c.accidentalDeletes?.threshold} (quarantine when deletes >= threshold)`,
    ],
    ...policyLines(c),
    ['notification email', c.notificationEmail],
    ['notify emails', c.notifications?.emails ?? []],
    ['webhooks', (c.notifications?.webhooks ?? []).map((w) => `${w.url}${w.secretSet ? ' (signed)' : ''}`)],
    ['updated', c.updatedAt],
  ]);
}

/** One event and how its deliveries went: `quarantine.started at ...: 2 delivered, 1 pending (webhook https://...: HTTP 503)`. */
function notificationLine(e: NotificationEventView): string {
  const by = new Map<string, number>();
  for (const d of e.deliveries) by.set(d.status, (by.get(d.status) ?? 0) + 1);
  const counts = [...by].map(([status, n]) => `${n} ${status}`).join(', ') || 'no endpoint';
  const problems = e.deliveries
    .filter((d) => d.status !== 'delivered' && d.lastError)
    .map((d) => `${d.channel} ${d.to}: ${d.lastError}`);
  return `${e.event} at ${e.at}: ${counts}${problems.length > 0 ? ` (${problems.join('; ')})` : ''}`;
}

/** The delete policy's rules that are on, beside the count (one line each). */
function policyLines(c: Configuration): [string, unknown][] {
  const d = c.accidentalDeletes;
  if (!d || d.enabled === false) return [];
  const lines: [string, unknown][] = [];
  if (d.percentage != null)
    lines.push(['percentage', `${d.percentage}% of the objects held (from ${d.minimumObjects} objects on)`]);
  for (const t of ['user', 'group'] as const) {
    const l = d.perType?.[t];
    if (l?.threshold != null) lines.push([`${t} threshold`, l.threshold]);
    if (l?.percentage != null) lines.push([`${t} percentage`, `${l.percentage}%`]);
  }
  if (d.window) lines.push(['window', `${d.window.threshold} deletes in ${d.window.hours} h`]);
  if (d.memberRemovals) lines.push(['member removals', `${d.memberRemovals.threshold} memberships a cycle`]);
  if (d.protected) lines.push(['protected', `${d.protected.dnSuffixes.length} DN suffixes, ${d.protected.objectIds.length} ids`]);
  if (d.hold === 'deletes') lines.push(['hold', 'deletes (the delete lane)']);
  if (d.approvals === 2) lines.push(['approvals', 2]);
  return lines;
}

function cycleLine(c: Cycle | null): string {
  if (!c) return 'none yet';
  const counts = c.counts ? ` (create ${c.counts.create}, update ${c.counts.update}, delete ${c.counts.delete})` : '';
  const approved = c.approvalId ? `, deletes pre-approved by ${c.approvalId}` : '';
  return `${c.id} ${c.state}${counts}, started ${c.startedAt}${c.completedAt ? `, completed ${c.completedAt}` : ''}${c.error ? `, error ${c.error.code}: ${c.error.message}` : ''}${approved}`;
}

function statusText(config: Configuration, s: ConfigurationStatus, causes: StagedDeleteGroup[] = []): string {
  const fields: [string, unknown][] = [
    ['configuration', `${config.name} (${config.id})`],
    ['state', s.state],
  ];
  if (s.quarantine) {
    const q = s.quarantine;
    fields.push(
      [
        'quarantine',
        q.hold === 'deletes'
          ? `${q.reason}: ${q.deleteCount} deletes held by the delete lane (creates and updates go on)`
          : `${q.reason}: ${q.deleteCount} staged deletes >= threshold ${q.threshold}`,
      ],
      ...(q.trippedBy ?? []).map((t): [string, unknown] => ['tripped by', describeRule(t)]),
      ['quarantined cycle', q.cycleId],
      ['cycles that found it', q.seriesCount],
      ['since', q.since],
      ...causes.map((g): [string, unknown] => ['held', `${g.count} ${g.key} (e.g. ${g.sample[0]?.dn ?? ''})`]),
    );
    if (q.notification)
      fields.push([
        'notification',
        `${q.notification.status}${q.notification.lastError ? ` (${q.notification.lastError})` : ''}`,
      ]);
  }
  fields.push(['last cycle', cycleLine(s.lastCycle)]);
  for (const e of s.notifications ?? []) fields.push(['notified', notificationLine(e)]);
  let text = formatFields(fields);
  if (s.quarantine)
    text += `\n\nNext: review with "syncguardctl staged ${config.name} --group-by parent", then "syncguardctl allow-deletes ${config.name}" (or --parent DN for some), "syncguardctl reject-deletes ${config.name}" or "syncguardctl restart ${config.name}".`;
  return text;
}

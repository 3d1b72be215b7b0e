#!/usr/bin/env node
/*
 * syncguard-agent: settings (flags > environment > --config file) -> Agent.create -> signals.
 * The only place that reads process.env. Exit status: 0 after SIGTERM/SIGINT, 78
 * (EX_CONFIG, as every syncguard program) for a bad setting, 1 for a failure at start, 2
 * when the controller refuses the agent for good (AUTH_FAILED, AGENT_REVOKED,
 * UNSUPPORTED_VERSION): a supervisor may restart it later.
 */
import { Agent } from './agent';
import { peakRssKb } from './memory';
import { compileAgentOptions, type AgentOptions } from './agent-options';
import { SettingError, SettingsError, isAgentError } from './errors';
import { redactUrlsIn } from './redact';
import { collectSettings, helpText, settingName } from './settings';

/** Exit status of every syncguard program for a bad setting (sysexits EX_CONFIG). */
export const EXIT_BAD_SETTING = 78;

export function agentVersion(): string {
  return (require('../package.json') as { version: string }).version;
}

/** Settings resolved and checked, every problem of both steps reported together. */
function resolveAll(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): AgentOptions {
  const { options, problems } = collectSettings(argv, env);
  try {
    compileAgentOptions(options);
  } catch (error) {
    if (error instanceof SettingsError) problems.push(...error.problems);
    else if (error instanceof SettingError) problems.push(error);
    else throw error;
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new SettingsError(problems);
  return options;
}

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  if (argv.includes('--version') || argv.includes('-V')) {
    process.stdout.write(`${agentVersion()}\n`);
    return 0;
  }
  let agent: Agent;
  try {
    const options = compileAgentOptions(resolveAll(argv, env));
    agent = await Agent.create(options);
  } catch (error) {
    const problems = error instanceof SettingsError ? error.problems : error instanceof SettingError ? [error] : null;
    if (problems) {
      for (const p of problems)
        process.stderr.write(
          `syncguard-agent: invalid setting ${settingName(p.setting)}: ${redactUrlsIn(p.message.slice(p.setting.length + 2))}\n`,
        );
      return EXIT_BAD_SETTING;
    }
    process.stderr.write(
      `syncguard-agent: cannot start: ${isAgentError(error) ? `${error.code}: ` : ''}${redactUrlsIn((error as Error).message)}\n`,
    );
    return 1;
  }
  const stop = (signal: NodeJS.Signals) => {
    agent.log.info({ signal }, 'stopping');
    void agent.close();
  };
  // When started with an IPC channel (the benchmark), answer resource usage queries.
  const onMessage = (message: unknown) => {
    if ((message as { type?: string })?.type === 'resourceUsage') process.send?.({ peakRssKb: peakRssKb() });
  };
  // Started by a parent (the benchmark): stop when it goes away instead of lingering.
  const onDisconnect = () => stop('SIGTERM');
  if (process.send) {
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  }
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const exit = await agent.exited;
  process.off('SIGTERM', stop);
  process.off('SIGINT', stop);
  process.off('message', onMessage);
  process.off('disconnect', onDisconnect);
  process.disconnect?.();
  return exit.code;
}

/** Runs the program as `syncguard-agent` (bin/syncguard-agent.js, or this file run directly). */
export function start(): void {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      // Let pino flush its last lines before leaving.
      setImmediate(() => process.exit(code));
    },
    (error: unknown) => {
      process.stderr.write(`syncguard-agent: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) start();

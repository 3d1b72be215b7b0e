#!/usr/bin/env node
/*
 * syncguard-agent: settings (flags > environment > --config file) -> Agent.create -> signals.
 * The only place that reads process.env. Exit status: 0 after SIGTERM/SIGINT, 1 for a bad
 * setting or a failure at start, 2 when the controller refuses the agent for good
 * (AUTH_FAILED, AGENT_REVOKED, UNSUPPORTED_VERSION): a supervisor may restart it later.
 */
import { Agent } from './agent';
import { peakRssKb } from './memory';
import { compileAgentOptions } from './agent-options';
import { SettingError, isAgentError } from './errors';
import { redactUrlsIn } from './redact';
import { helpText, resolveSettings, settingName } from './settings';

export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText() + '\n');
    return 0;
  }
  let agent: Agent;
  try {
    const options = compileAgentOptions(resolveSettings(argv, env));
    agent = await Agent.create(options);
  } catch (error) {
    if (error instanceof SettingError) {
      process.stderr.write(
        `syncguard-agent: invalid setting ${settingName(error.setting)}: ${redactUrlsIn(error.message.slice(error.setting.length + 2))}\n`,
      );
      return 1;
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

if (require.main === module) {
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

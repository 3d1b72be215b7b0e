#!/usr/bin/env node
import v8 from 'node:v8';
import { CommanderError } from 'commander';
import { compileControllerOptions, type ControllerOptions } from './controller-options';
import { ConfigError, InvalidSettingsError } from './errors';
import { createLogger } from './logger';
import { redactUrlCredentials } from './redact';
import { createServer } from './server';
import { controllerProgram, controllerSettingName, resolveControllerSettings } from './settings';

/*
 * syncguard-controller: settings from flags > environment > --config FILE (YAML or JSON,
 * keys as the environment names, see settings.ts). The only place that reads process.env.
 * Exit status: 0 after SIGTERM/SIGINT, 78 (EX_CONFIG) for a bad setting (every program of
 * syncguard uses it), 1 for a failure at start (Redis unreachable or misconfigured).
 */

/** Exit status of every syncguard program for a bad setting (sysexits EX_CONFIG). */
export const EXIT_BAD_SETTING = 78;

export function controllerVersion(): string {
  return (require('../package.json') as { version: string }).version;
}

/**
 * The options from argv (as process.argv), the environment and the config file, checked:
 * every bad setting is thrown at once (InvalidSettingsError), or one as its ConfigError.
 */
export function resolveOptions(argv: string[], env: NodeJS.ProcessEnv): ControllerOptions {
  const { options, problems } = resolveControllerSettings(controllerProgram(controllerVersion()), argv.slice(2), env);
  const all = [...problems];
  try {
    compileControllerOptions(options);
  } catch (error) {
    if (error instanceof InvalidSettingsError) all.push(...error.problems);
    else if (error instanceof ConfigError) all.push(error);
    else throw error;
  }
  if (all.length === 1) throw all[0]!;
  if (all.length > 1) throw new InvalidSettingsError(all);
  return options;
}

/** A bad setting's message, with the setting's own name (`SMTP_URL (--smtp-url): ...`). */
function describeProblem(error: ConfigError): string {
  const rest = error.message.startsWith(`${error.setting}: `) ? error.message.slice(error.setting.length + 2) : error.message;
  return `invalid setting ${controllerSettingName(error.setting)}: ${redactUrlCredentials(rest)}`;
}

async function main(): Promise<void> {
  let options: ControllerOptions;
  try {
    options = resolveOptions(process.argv, process.env);
  } catch (error) {
    const problems = error instanceof InvalidSettingsError ? error.problems : error instanceof ConfigError ? [error] : null;
    if (problems) {
      for (const p of problems) process.stderr.write(`syncguard-controller: ${describeProblem(p)}\n`);
      process.exit(EXIT_BAD_SETTING);
    }
    if (error instanceof CommanderError) {
      // --help and --version exit 0; an unknown flag is a bad setting.
      process.exit(error.exitCode === 0 ? 0 : EXIT_BAD_SETTING);
    }
    throw error;
  }
  const logger = createLogger(options.logLevel ?? 'info', 'syncguard-controller');
  const heapGrowing = compileControllerOptions(options).heapGrowingPercent;
  // V8 otherwise lets the old generation fill with garbage to about four times the live heap
  // before it collects: a long apply then peaks far above what it holds.
  if (heapGrowing > 0) v8.setFlagsFromString(`--heap-growing-percent=${heapGrowing}`);
  const server = await createServer(options, { logger });
  await server.listen();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** Runs the program as `syncguard-controller` (bin/syncguard-controller.js, or this file run directly). */
export function start(): void {
  main().catch((error: unknown) => {
    process.stderr.write(`syncguard-controller: ${redactUrlCredentials((error as Error).message)}\n`);
    process.exit(1);
  });
}

if (require.main === module) start();

#!/usr/bin/env node
/**
 * syncguardctl: the admin CLI over the controller's HTTP API. Settings: SYNCGUARD_URL
 * (default http://127.0.0.1:8080) and SYNCGUARD_TOKEN, or --url and --token.
 */
import { runCli } from './program';

// `syncguardctl ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

runCli(process.argv, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: process.stdin,
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`syncguardctl: ${String(error)}\n`);
    process.exitCode = 1;
  },
);

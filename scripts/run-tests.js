#!/usr/bin/env node
// `npm test`: runs every package's tests through turbo (one package at a time: the
// integration tests start real servers and the machine has two cores), then prints
// one summary line over all packages: "tests: N passed, N failed, N skipped".
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const results = path.join(root, '.test-results');
fs.rmSync(results, { recursive: true, force: true });
fs.mkdirSync(results, { recursive: true });

const turbo = spawnSync('npx', ['turbo', 'run', 'test', '--concurrency=1', '--continue', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', SYNCGUARD_TEST_RESULTS: results },
});

let passed = 0;
let failed = 0;
let skipped = 0;
const failedSuites = [];
for (const file of fs.readdirSync(results).filter((f) => f.endsWith('.json'))) {
  const r = JSON.parse(fs.readFileSync(path.join(results, file), 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  for (const suite of r.testResults) if (suite.status === 'failed') failedSuites.push(path.relative(root, suite.name));
}
if (failedSuites.length > 0) console.log(`failed test files:\n  ${failedSuites.join('\n  ')}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(turbo.status === 0 && failed === 0 ? 0 : 1);

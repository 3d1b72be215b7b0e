// A jest reporter that writes the run's aggregated results to <dir>/<package>.json
// for scripts/run-tests.js.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

class JsonReporter {
  constructor(globalConfig, options) {
    this.dir = options.dir;
    this.rootDir = globalConfig.rootDir;
  }
  onRunComplete(_contexts, results) {
    const name = path.basename(this.rootDir);
    fs.writeFileSync(
      path.join(this.dir, `${name}.json`),
      JSON.stringify({
        numPassedTests: results.numPassedTests,
        numFailedTests: results.numFailedTests,
        numPendingTests: results.numPendingTests,
        numTodoTests: results.numTodoTests,
        testResults: results.testResults.map((t) => ({
          name: t.testFilePath,
          status: t.numFailingTests > 0 || t.testExecError ? 'failed' : 'passed',
        })),
      }),
    );
  }
}
module.exports = JsonReporter;

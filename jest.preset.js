// Shared jest settings. Workspace packages are mapped to their sources so that unit tests
// do not depend on a build; e2e tests that start real programs use the built dist/.
const path = require('node:path');

/** @param {string} dir the package directory (pass __dirname) */
module.exports = function preset(dir, overrides = {}) {
  return {
    rootDir: dir,
    testEnvironment: 'node',
    transform: {
      '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(dir, 'tsconfig.json'), diagnostics: false }],
    },
    moduleNameMapper: {
      '^@syncguard/(protocol|testkit|agent|controller)$': path.join(__dirname, 'packages', '$1', 'src', 'index.ts'),
    },
    testPathIgnorePatterns: ['/node_modules/', '/dist/'],
    // scripts/run-tests.js collects one JSON result per package to print a total.
    reporters: process.env.SYNCGUARD_TEST_RESULTS
      ? ['default', [path.join(__dirname, 'scripts', 'json-reporter.js'), { dir: process.env.SYNCGUARD_TEST_RESULTS }]]
      : ['default'],
    ...overrides,
  };
};

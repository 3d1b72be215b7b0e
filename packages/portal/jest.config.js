// Unit tests of the portal's pure logic (API client, formatting, routes). They stay in .ts
// files and import nothing from preact (an ESM-only package), so ts-jest compiles them to
// CommonJS through tsconfig.jest.json.
const path = require('node:path');

module.exports = require('../../jest.preset.js')(__dirname, {
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json'), diagnostics: false }],
  },
  testMatch: ['<rootDir>/src/**/*.test.ts'],
});

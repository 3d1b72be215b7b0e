// e2e tests start whole systems (slapd, redis-server, SMTP, controller and agent programs).
module.exports = require('../jest.preset.js')(__dirname, { testTimeout: 120_000 });

#!/usr/bin/env node
'use strict';
// A committed launcher, so that npm links the program at install, before dist/ is built.
require('../dist/cli/main.js');

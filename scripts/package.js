#!/usr/bin/env node
// `npm run package`: installable packages of the agent and the controller, from the build.
//   OUT/syncguard-controller-<v>.tgz, OUT/syncguard-agent-<v>.tgz   `npm pack` tarballs that
//       install alone (`npm install -g ./file.tgz`): @syncguard/protocol and the portal inside;
//   OUT/syncguard-controller_<v>_<arch>.deb, OUT/syncguard-agent_<v>_<arch>.deb   Debian
//       packages (dpkg-deb) with a systemd unit each, a dedicated user, settings in
//       /etc/syncguard/*.yaml, secrets in /etc/syncguard/*.env.
// The Debian packages hold the very trees that `npm install -g` makes of the tarballs.
// Options: --out DIR (default dist-packages), --prefix DIR (where the tarballs are installed
// first, as a user would; default a temporary folder, removed after), --no-deb (tarballs
// only; also when dpkg-deb is not installed).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? path.resolve(process.argv[i + 1]) : fallback;
};
const out = arg('--out', path.join(root, 'dist-packages'));
const givenPrefix = arg('--prefix', null);
const prefix = givenPrefix ?? fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-package-'));
const hasDpkgDeb = (() => {
  try {
    execFileSync('dpkg-deb', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const withDeb = !process.argv.includes('--no-deb') && hasDpkgDeb;
// Native modules the programs need (better-sqlite3 for the agent's cache; the others are
// optional speed-ups of ws and BullMQ). npm 11 runs no install script it is not told to.
const ALLOW_SCRIPTS = 'better-sqlite3,bufferutil,msgpackr-extract';

const run = (cmd, args, options = {}) =>
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', ...options });
const log = (text) => process.stderr.write(`package: ${text}\n`);

const PROGRAMS = {
  controller: {
    name: 'syncguard-controller',
    dir: 'packages/controller',
    bins: { 'syncguard-controller': 'bin/syncguard-controller.js', syncguardctl: 'bin/syncguardctl.js' },
    user: 'syncguard',
    home: '/var/lib/syncguard',
    envFile: 'controller.env',
    // A fresh admin token for this installation, readable by root and the service only.
    envText:
      'printf "# Secrets of syncguard-controller (see /etc/syncguard/controller.yaml for the rest).\\nSYNCGUARD_ADMIN_TOKEN=%s\\n" "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d \' \\n\')" > /etc/syncguard/controller.env',
    description: 'syncguard controller: agent gateway, sync pipeline, delete guard, admin API, portal and syncguardctl',
    recommends: 'redis-server (>= 6.2)',
  },
  agent: {
    name: 'syncguard-agent',
    dir: 'packages/agent',
    bins: { 'syncguard-agent': 'bin/syncguard-agent.js' },
    user: 'syncguard-agent',
    home: '/var/lib/syncguard-agent',
    envFile: 'agent.env',
    envText:
      'printf "# Secrets of syncguard-agent (see /etc/syncguard/agent.yaml for the rest).\\n# SYNCGUARD_AGENT_TOKEN=\\n# LDAP_BIND_PASSWORD=\\n" > /etc/syncguard/agent.env',
    description: 'syncguard agent: streams the changes of an LDAP directory to the syncguard controller',
    recommends: '',
  },
};

function pack(program) {
  const dir = path.join(root, program.dir);
  const file = run('npm', ['pack', '--silent', '--pack-destination', out], { cwd: dir }).trim().split('\n').pop();
  return path.join(out, file);
}

function deb(key, program, version) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), `syncguard-deb-${key}-`));
  try {
    const lib = path.join(stage, 'usr/lib', program.name);
    fs.mkdirSync(path.dirname(lib), { recursive: true });
    fs.cpSync(path.join(prefix, 'lib/node_modules/@syncguard', key), lib, { recursive: true, verbatimSymlinks: true });
    fs.mkdirSync(path.join(stage, 'usr/bin'), { recursive: true });
    for (const [bin, target] of Object.entries(program.bins)) {
      fs.symlinkSync(path.join('..', 'lib', program.name, target), path.join(stage, 'usr/bin', bin));
    }
    const unitDir = path.join(stage, 'lib/systemd/system');
    fs.mkdirSync(unitDir, { recursive: true });
    fs.copyFileSync(
      path.join(root, 'packaging/debian', `${program.name}.service`),
      path.join(unitDir, `${program.name}.service`),
    );
    const etc = path.join(stage, 'etc/syncguard');
    fs.mkdirSync(etc, { recursive: true });
    const example = key === 'controller' ? 'controller.yaml' : 'agent.yaml';
    fs.copyFileSync(path.join(root, program.dir, 'examples', example), path.join(etc, example));
    const doc = path.join(stage, 'usr/share/doc', program.name);
    fs.mkdirSync(doc, { recursive: true });
    fs.copyFileSync(path.join(root, 'README.md'), path.join(doc, 'README.md'));
    if (fs.existsSync(path.join(root, 'LICENSE'))) fs.copyFileSync(path.join(root, 'LICENSE'), path.join(doc, 'copyright'));
    const control = path.join(stage, 'DEBIAN');
    fs.mkdirSync(control);
    const arch = run('dpkg', ['--print-architecture']).trim();
    const nodeMajor = process.versions.node.split('.')[0];
    const sizeKb = Math.ceil(Number(run('du', ['-sk', stage]).split('\t')[0]));
    fs.writeFileSync(
      path.join(control, 'control'),
      [
        `Package: ${program.name}`,
        `Version: ${version}`,
        `Architecture: ${arch}`,
        'Maintainer: syncguard maintainers <syncguard@example.com>',
        // Native modules are built for this Node major version (its ABI).
        `Depends: nodejs (>= ${nodeMajor}), nodejs (<< ${Number(nodeMajor) + 1}), passwd`,
        ...(program.recommends ? [`Recommends: ${program.recommends}`] : []),
        'Section: net',
        'Priority: optional',
        `Installed-Size: ${sizeKb}`,
        'Homepage: https://github.com/syncguard/syncguard',
        `Description: ${program.description}`,
        ' Directory provisioning with accidental delete prevention.',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(control, 'conffiles'), `/etc/syncguard/${example}\n`);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      const text = fs
        .readFileSync(path.join(root, 'packaging/debian', `${script}.in`), 'utf8')
        .replaceAll('@NAME@', program.name)
        .replaceAll('@USER@', program.user)
        .replaceAll('@HOME@', program.home)
        .replaceAll('@ENVFILE@', program.envFile)
        .replaceAll('@ENVTEXT@', program.envText);
      fs.writeFileSync(path.join(control, script), text, { mode: 0o755 });
    }
    const file = path.join(out, `${program.name}_${version}_${arch}.deb`);
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, file]);
    return file;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

function main() {
  for (const [key, program] of Object.entries(PROGRAMS)) {
    if (!fs.existsSync(path.join(root, program.dir, 'dist/main.js'))) {
      throw new Error(`${program.dir}/dist is missing: run npm run build first`);
    }
    void key;
  }
  fs.mkdirSync(out, { recursive: true });
  const tarballs = {};
  for (const [key, program] of Object.entries(PROGRAMS)) {
    tarballs[key] = pack(program);
    log(`packed ${path.relative(process.cwd(), tarballs[key])}`);
  }
  const files = Object.values(tarballs);
  // What a user does with them; the Debian packages are made of the result.
  log(`installing the tarballs into ${prefix} (npm install -g --prefix)`);
  run(
    'npm',
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      `--allow-scripts=${ALLOW_SCRIPTS}`,
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...files,
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  if (!withDeb) log(hasDpkgDeb ? 'no Debian packages (--no-deb)' : 'no Debian packages: dpkg-deb is not installed');
  if (withDeb) {
    for (const [key, program] of Object.entries(PROGRAMS)) {
      const version = require(path.join(root, program.dir, 'package.json')).version;
      const file = deb(key, program, version);
      files.push(file);
      log(`built ${path.relative(process.cwd(), file)}`);
    }
  }
  if (!givenPrefix) fs.rmSync(prefix, { recursive: true, force: true });
  process.stdout.write(files.join('\n') + '\n');
}

try {
  main();
} catch (error) {
  process.stderr.write(`package: ${error.message}\n`);
  process.exit(1);
}

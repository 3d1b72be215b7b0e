#!/usr/bin/env node
// `npm pack` of @syncguard/controller and @syncguard/agent: the tarball must install alone
// (`npm install -g ./file.tgz`), so it carries what is not on the registry.
//   prepack:  copies @syncguard/protocol (package.json + dist) into the package's own
//             node_modules, where `bundleDependencies` takes it from, and, for the
//             controller, the portal's build into portal/ (served from there when installed);
//   postpack: removes both again, so that the workspace resolves the live packages.
// Run from the package folder: node ../../scripts/pack-bundle.js prepack|postpack
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const pkgDir = process.cwd();
const packages = path.resolve(__dirname, '..', 'packages');
const name = require(path.join(pkgDir, 'package.json')).name;
const bundledProtocol = path.join(pkgDir, 'node_modules', '@syncguard', 'protocol');
const portalCopy = path.join(pkgDir, 'portal');

function fail(message) {
  process.stderr.write(`pack-bundle: ${message}\n`);
  process.exit(1);
}

function prepack() {
  const protocol = path.join(packages, 'protocol');
  if (!fs.existsSync(path.join(protocol, 'dist', 'index.js'))) fail('packages/protocol/dist is missing: run npm run build first');
  fs.rmSync(bundledProtocol, { recursive: true, force: true });
  fs.mkdirSync(bundledProtocol, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(protocol, 'package.json'), 'utf8'));
  // Its dependencies (protobufjs) are the packing package's own dependencies: declared here,
  // npm would expect them inside the bundle too and install an empty folder for them.
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    const own = require(path.join(pkgDir, 'package.json')).dependencies ?? {};
    if (!own[dep]) fail(`${name} must depend on ${dep} itself (a dependency of the bundled @syncguard/protocol)`);
  }
  delete manifest.dependencies;
  delete manifest.devDependencies;
  delete manifest.scripts;
  fs.writeFileSync(path.join(bundledProtocol, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  fs.cpSync(path.join(protocol, 'dist'), path.join(bundledProtocol, 'dist'), { recursive: true });
  if (name === '@syncguard/controller') {
    const portal = path.join(packages, 'portal', 'dist');
    if (!fs.existsSync(path.join(portal, 'index.html'))) fail('packages/portal/dist is missing: run npm run build first');
    fs.rmSync(portalCopy, { recursive: true, force: true });
    fs.cpSync(portal, portalCopy, { recursive: true });
  }
}

function postpack() {
  fs.rmSync(bundledProtocol, { recursive: true, force: true });
  for (const dir of [path.dirname(bundledProtocol), path.join(pkgDir, 'node_modules')]) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
  if (name === '@syncguard/controller') fs.rmSync(portalCopy, { recursive: true, force: true });
}

const step = process.argv[2];
if (step === 'prepack') prepack();
else if (step === 'postpack') postpack();
else fail(`unknown step ${step ?? ''}: prepack or postpack`);

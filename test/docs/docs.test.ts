/**
 * The user's documents: every link in the repository's Markdown points inside the
 * repository, at a file that exists (and, for `#anchor` links within a page, at a heading
 * of that page); the LICENSE matches package.json; the README keeps the sections users
 * look for, Quick start first.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const markdown = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.md'], {
  cwd: ROOT,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f && fs.existsSync(path.join(ROOT, f)));

/** GitHub's anchor of a heading. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = fs.readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1]!)));
}

it('has Markdown to check', () => {
  expect(markdown).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/benchmarks.md']));
});

it.each(markdown)('%s links only to files of the repository that exist', (file) => {
  const full = path.join(ROOT, file);
  const text = fs
    .readFileSync(full, 'utf8')
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, '');
  const problems: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
      problems.push(`${target}: points outside the repository`);
      continue;
    }
    const [pathPart, hash] = target.split('#') as [string, string | undefined];
    const resolved = pathPart === '' ? full : path.resolve(path.dirname(full), pathPart);
    if (!resolved.startsWith(ROOT + path.sep) && resolved !== ROOT) problems.push(`${target}: outside the repository`);
    else if (!fs.existsSync(resolved)) problems.push(`${target}: no such file`);
    else if (hash && resolved.endsWith('.md') && !anchorsOf(resolved).has(hash)) problems.push(`${target}: no such heading`);
  }
  expect(problems).toEqual([]);
});

it('has a LICENSE matching package.json, and a CHANGELOG', () => {
  const license = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { license: string }).license;
  expect(license).toBe('Apache-2.0');
  const text = fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8');
  expect(text).toContain('Apache License');
  expect(text).toContain('Version 2.0, January 2004');
  for (const pkg of ['agent', 'controller', 'protocol', 'portal', 'testkit']) {
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { license: string };
    expect({ pkg, license: manifest.license }).toEqual({ pkg, license });
  }
  expect(fs.readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/^# Changelog/);
});

it('is a README for people who run syncguard: Quick start first, then install, configure, operate, troubleshooting', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]!);
  expect(sections[0]).toBe('Quick start');
  const order = ['Quick start', 'Requirements', 'Install', 'Configure', 'Operate', 'Troubleshooting'].map((s) =>
    sections.indexOf(s),
  );
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
  const quick = readme.slice(readme.indexOf('## Quick start'));
  expect(quick.indexOf('npm ci && npm run demo')).toBeLessThan(quick.indexOf('npm test'));
  expect(readme).toMatch(/Node\.js 20/);
  // The tuning history lives in docs/, not in the README.
  for (const gone of ['Tried and dropped', 'second session of', 'Status and known gaps']) expect(readme).not.toContain(gone);
});

it('documents every controller setting in the README', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const settings = fs.readFileSync(path.join(ROOT, 'packages/controller/src/settings.ts'), 'utf8');
  const names = [...settings.matchAll(/s\(\s*'([A-Z_]+)'/g)].map((m) => m[1]!);
  expect(names.length).toBeGreaterThan(30);
  expect(names.filter((n) => !readme.includes(`\`${n}\``))).toEqual([]);
});

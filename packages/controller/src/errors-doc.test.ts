import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
const doc = fs.readFileSync(path.resolve(root, '../../docs/errors.md'), 'utf8');

/** The engine's source (not the API engineer's folders): every SG_ERR_* it can raise. */
const ENGINE_SOURCES = [
  'errors.ts',
  'server.ts',
  'controller-options.ts',
  'main.ts',
  'controller-facade.ts',
  'page-limit.ts',
  'agents',
  'configurations',
  'guard',
  'cycles',
  'gateway',
  'pipeline',
  'mail',
  'notifications',
  'previews',
  'store',
  'targets',
  'secrets',
];

function sources(entry: string): string[] {
  const full = path.join(root, 'src', entry);
  if (!fs.existsSync(full)) return [];
  if (fs.statSync(full).isFile()) return [full];
  return fs
    .readdirSync(full)
    .flatMap((name) => sources(path.join(entry, name)))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
}

/** The text of the section of docs/errors.md with this heading, up to the next one. */
function section(heading: string): string {
  const start = doc.indexOf(`## ${heading}`);
  expect(start).toBeGreaterThanOrEqual(0);
  const next = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, next < 0 ? undefined : next);
}

describe('docs/errors.md, section Controller', () => {
  it('lists exactly the codes the engine raises, each with its status', () => {
    const rows = section('Controller (`@syncguard/controller`)')
      .split('\n')
      .filter((line) => /^\| `SG_ERR_[A-Z_]+` \|/.test(line));
    const listed = rows.map((row) => /`(SG_ERR_[A-Z_]+)`/.exec(row)![1]!).sort();
    const raised = new Set<string>();
    for (const file of ENGINE_SOURCES.flatMap(sources)) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/'(SG_ERR_[A-Z_]+)'/g)) raised.add(m[1]!);
    }
    expect(listed).toEqual([...raised].sort());
    for (const row of rows) expect(row).toMatch(/^\| `SG_ERR_[A-Z_]+` \| [45]\d\d \|/);
  });
});

describe('docs/errors.md, section Cycle errors', () => {
  it('lists exactly the codes a cycle can fail or be discarded with', () => {
    const listed = [...section('Cycle errors (`cycle.error.code`)').matchAll(/^\| `([A-Z_*]+)` \|/gm)].map((m) => m[1]!).sort();
    const raised = new Set<string>(['CYCLE_ERROR_*']);
    for (const file of ['agents', 'configurations', 'cycles', 'pipeline'].flatMap(sources)) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/\bcode: '([A-Z][A-Z_]+)'/g)) {
        if (!m[1]!.startsWith('SG_ERR_')) raised.add(m[1]!);
      }
    }
    expect(listed).toEqual([...raised].sort());
  });
});

describe('docs/errors.md, section Preview errors', () => {
  it('lists exactly the codes a preview can fail with', () => {
    const listed = [...section('Preview errors (`error.code` of a preview)').matchAll(/^\| `([A-Z_*]+)` \|/gm)]
      .map((m) => m[1]!)
      .sort();
    const raised = new Set<string>(['CYCLE_ERROR_*']);
    for (const file of sources('previews')) {
      for (const m of fs.readFileSync(file, 'utf8').matchAll(/(?:code: |this\.fail\(\s*previewId,\s*)'([A-Z][A-Z_]+)'/g)) {
        if (!m[1]!.startsWith('SG_ERR_')) raised.add(m[1]!);
      }
    }
    expect(listed).toEqual([...raised].sort());
  });
});

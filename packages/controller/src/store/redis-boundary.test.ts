/**
 * store/ is the only code that talks to Redis: no source file outside it imports ioredis
 * (a value, a type, `import('ioredis')` or `require('ioredis')`), nor BullMQ's Redis types
 * (its connection options, clients, cluster). BullMQ's queues, workers and jobs are the
 * pipeline's to use. Tests may reach into Redis (they check what was stored).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const SRC = path.resolve(__dirname, '..');
const STORE = path.join(SRC, 'store');

/** BullMQ exports that are Redis connections or their options. */
const BULLMQ_REDIS = /redis|connection|cluster/i;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) ? [full] : [];
  });
}

/** What a file imports of ioredis and of BullMQ's Redis types, as `module: name` lines. */
export function redisImports(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  /** `whole`: the module's every export is reachable (a namespace, a re-export of all, a require). */
  const note = (module: string, names: string[], whole = false) => {
    if (module === 'ioredis') found.push(`ioredis: ${names.join(', ') || '*'}`);
    if (module !== 'bullmq') return;
    if (whole) found.push(`bullmq: ${names.join(', ')}`);
    else for (const n of names.filter((n) => BULLMQ_REDIS.test(n))) found.push(`bullmq: ${n}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const names: string[] = [];
      if (clause?.name) names.push(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamedImports(bindings)) for (const e of bindings.elements) names.push((e.propertyName ?? e.name).text);
      const namespace = bindings !== undefined && ts.isNamespaceImport(bindings);
      if (namespace) names.push(`* as ${bindings.name.text}`);
      note(node.moduleSpecifier.text, names, namespace);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause);
      const names = named ? node.exportClause.elements.map((e) => (e.propertyName ?? e.name).text) : ['* (re-export)'];
      note(node.moduleSpecifier.text, names, !named);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const qualifier = node.qualifier ? node.qualifier.getText(source) : '';
      note(node.argument.literal.text, [qualifier]);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length === 1 &&
      ts.isStringLiteral(node.arguments[0]!)
    ) {
      note(node.arguments[0].text, ['(dynamic)'], true);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const ref = node.moduleReference.expression;
      if (ts.isStringLiteral(ref)) note(ref.text, [`${node.name.text} (import =)`], true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('the Redis boundary', () => {
  it('finds the imports it is meant to refuse', () => {
    const sample = [
      "import { Redis } from 'ioredis';",
      "import type { ChainableCommander } from 'ioredis';",
      "import { Queue, type ConnectionOptions } from 'bullmq';",
      "type R = import('ioredis').Redis;",
      "const r = require('ioredis');",
      "import { Queue as Q, Worker, type Job } from 'bullmq';",
      "import * as bull from 'bullmq';",
    ].join('\n');
    expect(redisImports('sample.ts', sample)).toEqual([
      'ioredis: Redis',
      'ioredis: ChainableCommander',
      'bullmq: ConnectionOptions',
      'ioredis: Redis',
      'ioredis: (dynamic)',
      'bullmq: * as bull',
    ]);
  });

  it('holds: only store/ imports ioredis or BullMQ Redis types', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.startsWith(STORE + path.sep))).toBe(true);
    const outside: string[] = [];
    for (const file of files) {
      if (file.startsWith(STORE + path.sep)) continue;
      for (const hit of redisImports(file, fs.readFileSync(file, 'utf8'))) outside.push(`${path.relative(SRC, file)}: ${hit}`);
    }
    expect(outside).toEqual([]);
  });

  it('finds store/ importing ioredis (the check reads the real files)', () => {
    const inStore = sourceFiles(STORE).filter((f) => redisImports(f, fs.readFileSync(f, 'utf8')).length > 0);
    expect(inStore.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['connection.ts', 'apply-store.ts']));
  });
});

/**
 * Keys that occur more than once at the top level of one JSON log line (pino writes a
 * child's bindings after its parent's without merging them, and JSON.parse keeps only the
 * last, so a parsed line cannot show it). Nested objects and arrays are not looked into.
 */
export function duplicateTopLevelKeys(line: string): string[] {
  // String values become empty, then nested objects and arrays are removed innermost first.
  let text = line.trim().replace(/:\s*"(?:[^"\\]|\\.)*"/g, ':""');
  const inner = /(?<!^)\{[^{}[\]]*\}|\[[^{}[\]]*\]/g;
  while (inner.test(text)) text = text.replace(inner, '0');
  const keys = [...text.matchAll(/[{,]\s*"((?:[^"\\]|\\.)*)"\s*:/g)].map((m) => m[1]!);
  return [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
}

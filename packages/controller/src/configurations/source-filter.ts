import { AndFilter, type Filter, FilterParser, NotFilter, OrFilter, SubstringFilter } from 'ldapts';

/**
 * Bounds of `source.filter`: it runs on the customer's directory servers at every cycle,
 * so it must be a real LDAP filter (RFC 4515, parsed by ldapts) and cheap to evaluate.
 */
export const SOURCE_FILTER_LIMITS = Object.freeze({
  /** Characters of the whole filter. */
  maxLength: 4096,
  /** Nesting of `&`, `|` and `!`. */
  maxDepth: 10,
  /** Attribute assertions (leaves) in the whole filter. */
  maxTerms: 64,
  /** Components of one substring assertion (`initial*any*any*final`). */
  maxSubstringParts: 8,
  /** Characters of one substring assertion's values together. */
  maxSubstringLength: 256,
});

/** Why `filter` is not an acceptable source filter, or null when it is. */
export function sourceFilterProblem(filter: string): string | null {
  const limits = SOURCE_FILTER_LIMITS;
  if (filter.length > limits.maxLength) return `is longer than ${limits.maxLength} characters`;
  // RFC 4515: a filter is parenthesised (ldapts also takes a bare `uid=1`, which servers do not).
  if (!filter.startsWith('(') || !filter.endsWith(')')) return 'must be enclosed in parentheses, e.g. (uid=jdoe)';
  // ldapts also takes a filter whose last parentheses are missing (`(&(a=1)`). Parentheses in
  // values are escaped (\28, \29), so every literal one counts: one filter, all closed.
  let open = 0;
  for (let i = 0; i < filter.length; i++) {
    const ch = filter[i];
    if (ch === '(') open += 1;
    else if (ch === ')' && --open === 0 && i !== filter.length - 1)
      return 'holds more than one filter: combine them with (&...) or (|...)';
  }
  if (open !== 0) return 'has unbalanced parentheses';
  let parsed: Filter;
  try {
    parsed = FilterParser.parseString(filter);
  } catch (error) {
    // ldapts repeats the whole filter after its reason.
    return `is not an LDAP filter: ${(error as Error).message.split('. Full string:')[0]}`;
  }
  let terms = 0;
  const walk = (node: Filter, depth: number): string | null => {
    if (node instanceof AndFilter || node instanceof OrFilter || node instanceof NotFilter) {
      if (depth >= limits.maxDepth) return `nests &, | and ! deeper than ${limits.maxDepth} levels`;
      const children = node instanceof NotFilter ? [node.filter] : node.filters;
      for (const child of children) {
        const problem = walk(child, depth + 1);
        if (problem) return problem;
      }
      return null;
    }
    terms += 1;
    if (terms > limits.maxTerms) return `has more than ${limits.maxTerms} attribute assertions`;
    if (node instanceof SubstringFilter) {
      const parts = [node.initial, ...node.any, node.final].filter((p) => p);
      if (parts.length > limits.maxSubstringParts)
        return `substring assertion on ${node.attribute} has more than ${limits.maxSubstringParts} parts`;
      if (parts.join('').length > limits.maxSubstringLength)
        return `substring assertion on ${node.attribute} is longer than ${limits.maxSubstringLength} characters`;
    }
    return null;
  };
  return walk(parsed, 0);
}

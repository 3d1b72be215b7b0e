import { ValidationError } from './errors';

/** A page size of a list call: `fallback` when not given, else a whole number from 1 to 1000. */
export function limitOf(limit: number | undefined, fallback: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 1000)
    throw new ValidationError('limit', 'must be a whole number from 1 to 1000');
  return limit;
}

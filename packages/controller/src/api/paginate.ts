import { ApiError, API_ERROR_CODES } from './errors';
import type { Page } from '../model';

export const DEFAULT_PAGE_SIZE = 50;

/**
 * Cursor pagination over a list the service returns whole (agents, configurations,
 * tokens). Items are ordered by `key` (ascending); the cursor is the opaque, base64url
 * form of the last key served, so pages stay right when items are added or removed.
 */
export function paginate<T>(items: readonly T[], key: (item: T) => string, query: { limit?: number; cursor?: string }): Page<T> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  let start = 0;
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    start = sorted.findIndex((item) => key(item) > after);
    if (start < 0) start = sorted.length;
  }
  const page = sorted.slice(start, start + limit);
  const last = page[page.length - 1];
  const more = start + limit < sorted.length;
  return { items: page, nextCursor: more && last !== undefined ? Buffer.from(key(last), 'utf8').toString('base64url') : null };
}

function decodeCursor(cursor: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new ApiError(API_ERROR_CODES.INVALID_INPUT, 'cursor: is not a cursor of this list', 400, 'cursor');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

/** A page from the service with `nextCursor` always present (null on the last page). */
export function withCursor<P extends { nextCursor?: string | null }>(page: P): P & { nextCursor: string | null } {
  return { ...page, nextCursor: page.nextCursor ?? null };
}

import fs from 'node:fs';
import path from 'node:path';

/*
 * The state folder holds the cache (DNs, content hashes) and the outbox (changes not yet
 * acknowledged, attributes included): only the agent's own user may read it. The folder is
 * 0700 and its files 0600; a folder found more open is tightened when the agent owns it.
 */

/** Files of the state store (SQLite in WAL mode). */
export function stateFiles(dir: string): string[] {
  const db = path.join(dir, 'agent.sqlite');
  return [db, `${db}-wal`, `${db}-shm`];
}

/**
 * Makes `dir` (which exists) readable by its owner only. Returns a warning when it stays
 * open to others (not ours to change), else null.
 */
export function tightenStateDir(dir: string): string | null {
  const stat = fs.statSync(dir);
  if ((stat.mode & 0o077) === 0) return null;
  try {
    fs.chmodSync(dir, 0o700);
    return null;
  } catch (error) {
    return `SYNCGUARD_STATE_DIR ${dir} is readable by other users (mode ${(stat.mode & 0o777).toString(8)}) and cannot be changed: ${(error as Error).message}`;
  }
}

/** Runs `open` with umask 077, so that whatever it creates is the owner's alone, then sets the state files to 0600. */
export function openPrivately<T>(dir: string, open: () => T): T {
  const previous = process.umask(0o077);
  let result: T;
  try {
    result = open();
  } finally {
    process.umask(previous);
  }
  // Files an earlier version created with the default umask.
  for (const file of stateFiles(dir)) {
    try {
      if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
    } catch {
      // not there (yet): SQLite creates -wal and -shm with the database file's mode
    }
  }
  return result;
}

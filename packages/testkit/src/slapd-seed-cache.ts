import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { usersLdif } from './ldif';

const run = promisify(execFile);

/**
 * A large seed for slapd, loaded with slapadd once and then kept as the mdb database it made,
 * so that later starts with the same seed copy a file instead of running slapadd again (a
 * million inetOrgPerson entries: about 1 GB of database, a minute or more of slapadd on a
 * loaded 2-core machine, seconds to copy).
 */
export interface SlapdCachedSeed {
  /** Names the entries: the same key must mean the same entries (e.g. `bench-users-1000000`). */
  key: string;
  /** The entries' LDIF in pieces (after the suffix, `ou=people` and `ou=groups`); read only when nothing is cached for the key. */
  ldif: () => Iterable<string>;
  /** How many entries the seed holds: the free disk needed for the first load is reckoned from it (about 2.5 KB an entry). */
  entries?: number;
  /** Folder of cached databases. Default `SYNCGUARD_SLAPD_CACHE`, else `<tmp>/syncguard-slapd-cache`. */
  cacheDir?: string;
}

/** Bump when what goes into a cached database changes in a way its key does not show. */
const RECIPE = 1;
/** Free disk needed per entry for the first load: its LDIF file, the database slapadd makes, the copy into the cache. */
const BYTES_PER_ENTRY_FIRST_LOAD = 2500;
/** Kept free beyond what a copy needs. */
const DISK_MARGIN_BYTES = 256 * 1024 * 1024;

export function seedCacheDir(seed: SlapdCachedSeed): string {
  return seed.cacheDir ?? process.env['SYNCGUARD_SLAPD_CACHE'] ?? path.join(os.tmpdir(), 'syncguard-slapd-cache');
}

/**
 * The cache entry's name: the seed's key and everything of the server's slapd.conf that shapes
 * its database (schema, suffix, indexes, overlays), without its own paths and TLS files.
 */
export function seedCacheKey(seed: SlapdCachedSeed, conf: string, serverDir: string): string {
  const shape = conf
    .split('\n')
    .filter((line) => !/^(TLS|pidfile|argsfile)/.test(line))
    .join('\n')
    .replaceAll(serverDir, '<dir>');
  return createHash('sha256')
    .update(JSON.stringify({ recipe: RECIPE, key: seed.key, shape }))
    .digest('hex')
    .slice(0, 24);
}

async function freeBytes(dir: string): Promise<number> {
  const s = await fs.statfs(dir);
  return s.bavail * s.bsize;
}

async function needDisk(dir: string, bytes: number, what: string, cacheDir: string): Promise<void> {
  const free = await freeBytes(dir);
  if (free < bytes + DISK_MARGIN_BYTES) {
    const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
    throw new Error(
      `not enough free disk in ${dir} for ${what}: needs about ${gb(bytes + DISK_MARGIN_BYTES)}, has ${gb(free)} ` +
        `(cached slapd databases are in ${cacheDir}; remove that folder to free them)`,
    );
  }
}

/** Writes pieces of text to a file, waiting on the stream when it is full. */
async function writePieces(file: string, pieces: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  try {
    for (const piece of pieces) if (!out.write(piece)) await once(out, 'drain');
  } finally {
    out.end();
    await once(out, 'close');
  }
}

/** Copies an mdb file keeping its holes (mdb files are sparse up to their map size). */
async function copySparse(from: string, to: string): Promise<void> {
  await run('cp', ['--sparse=always', '--reflink=auto', from, to]);
}

/**
 * Fills `dataDir` (the server's mdb folder, empty) with the seeded database: a copy of the
 * cached one, or, the first time, a slapadd of `base` and the seed's entries, which is then
 * kept in the cache. `slapadd(file)` runs slapadd on an LDIF file into `dataDir`.
 * Answers whether the database came from the cache.
 */
export async function loadCachedSeed(options: {
  seed: SlapdCachedSeed;
  key: string;
  base: string;
  dataDir: string;
  workDir: string;
  slapadd: (file: string) => Promise<void>;
}): Promise<{ fromCache: boolean }> {
  const { seed, key, base, dataDir, workDir } = options;
  const cacheDir = seedCacheDir(seed);
  await fs.mkdir(cacheDir, { recursive: true });
  const cached = path.join(cacheDir, `${key}.mdb`);
  const target = path.join(dataDir, 'data.mdb');
  const stat = await fs.stat(cached).catch(() => null);
  if (stat) {
    await needDisk(dataDir, stat.blocks * 512, `a copy of the cached slapd database ${cached}`, cacheDir);
    await copySparse(cached, target);
    return { fromCache: true };
  }
  await needDisk(
    workDir,
    (seed.entries ?? 0) * BYTES_PER_ENTRY_FIRST_LOAD,
    `seeding slapd with ${seed.entries ?? '?'} entries`,
    cacheDir,
  );
  const file = path.join(workDir, `seed-cached-${Date.now()}.ldif`);
  try {
    await writePieces(
      file,
      (function* () {
        yield base + '\n';
        yield* seed.ldif();
      })(),
    );
    await options.slapadd(file);
  } finally {
    await fs.rm(file, { force: true });
  }
  // Into the cache under a name of its own first, so that a concurrent start never copies half a file.
  const partial = `${cached}.partial-${process.pid}-${Date.now()}`;
  try {
    await copySparse(target, partial);
    await fs.rename(partial, cached);
  } catch (error) {
    await fs.rm(partial, { force: true });
    throw error;
  }
  return { fromCache: false };
}

/** A cached seed of `count` users made by {@link usersLdif} under `parentDn` (`uid=user<n>`, n from 0), for benchmarks. */
export function usersSeed(parentDn: string, count: number): SlapdCachedSeed {
  return {
    key: `usersLdif:${parentDn}:${count}`,
    entries: count,
    ldif: function* () {
      for (let start = 0; start < count; start += 10_000) yield usersLdif(parentDn, Math.min(10_000, count - start), { start });
    },
  };
}

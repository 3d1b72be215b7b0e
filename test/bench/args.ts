/** `--name N` from the command line: a whole number >= 1, or `fallback` when absent; exits 2 on a bad value. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a whole number >= 1`);
    process.exit(2);
  }
  return n;
}

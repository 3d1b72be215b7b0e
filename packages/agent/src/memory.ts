import fs from 'node:fs';

/**
 * This process's peak resident set in KiB. On Linux it is `VmHWM` of /proc/self/status:
 * the high-water mark of this program's own address space. `getrusage` (what
 * `process.resourceUsage().maxRSS` reports) is not used there: it also keeps the RSS of
 * the image replaced by `exec`, which for a child started by `fork()` is a copy of its
 * parent, so a parent holding 200 MB makes any child it starts report at least 200 MB.
 * Elsewhere, `maxRSS`.
 */
export function peakRssKb(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]);
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS;
}

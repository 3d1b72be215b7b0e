/**
 * What a committed cycle leaves for the next DELTA, stored as one string in the cache.
 * Plain strings (a GeneralizedTime or an AD USN) are the scan's watermark as before; with
 * a change log it is JSON.
 */
export interface Watermark {
  /** The scan's: OpenLDAP `modifyTimestamp` (GeneralizedTime) or AD `uSNChanged` to read changed entries from. */
  since: string;
  /** accesslog: `reqStart` of a log entry at or before the committed read; '' when none was known. */
  logAnchor: string;
  /** Unix ms at which the last read of the whole scope (FULL or scan DELTA) started; 0 when unknown. */
  scannedAt: number;
  /** AD: the `dsServiceName` of the DC whose USN `since` is (USNs are per DC); '' when unknown. */
  dc: string;
  /** AD: Unix ms at which `since` was taken (tombstones older than the DC's lifetime are gone); 0 when unknown. */
  takenAt: number;
  /** AD DirSync: the cookie (base64) the next DELTA reads from, of the DC `dc`; '' when none. */
  cookie: string;
}

export function parseWatermark(raw: string): Watermark {
  if (raw.startsWith('{')) {
    const w = JSON.parse(raw) as Partial<Watermark>;
    return {
      since: String(w.since ?? ''),
      logAnchor: String(w.logAnchor ?? ''),
      scannedAt: Number(w.scannedAt ?? 0),
      dc: String(w.dc ?? ''),
      takenAt: Number(w.takenAt ?? 0),
      cookie: String(w.cookie ?? ''),
    };
  }
  return { since: raw, logAnchor: '', scannedAt: 0, dc: '', takenAt: 0, cookie: '' };
}

export function formatWatermark(w: Watermark): string {
  const out: Record<string, string | number> = { since: w.since, logAnchor: w.logAnchor, scannedAt: w.scannedAt };
  if (w.dc) Object.assign(out, { dc: w.dc, takenAt: w.takenAt });
  if (w.cookie) out['cookie'] = w.cookie;
  return JSON.stringify(out);
}

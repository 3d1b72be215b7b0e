import type { Change, ChangeKind, ObjectType } from '@syncguard/protocol';

/**
 * How a ChangeBatch's changes are kept in Redis while its cycle is staged. It is
 * written once when the batch arrives (already decoded and validated by the gateway),
 * as two fields of the cycle's batches hash:
 *
 * - `<seq>`: one line per change (joined by `\n`), each `header \t attributes \t
 *   memberDns`: the header a JSON {@link ChangeSummary} tuple, the attributes the JSON
 *   object the cloud directory stores (`{name: values}`, binary values as
 *   `base64:<value>`), memberDns a JSON array. JSON text never holds a raw tab or
 *   newline, so the separators are unambiguous. Apply splits the lines and copies the
 *   attribute and member JSON into the directory objects as they are: nothing is parsed
 *   and serialized again.
 * - `s<seq>`: the JSON array of the headers alone, all that evaluation reads.
 */
export type ChangeSummary = [
  kind: ChangeKind,
  objectType: ObjectType,
  objectId: string,
  dn: string,
  /** Hex SHA-256; '' for DELETE. */
  hash: string,
  disabled: 0 | 1,
];

/** One change as apply reads it back. */
export interface StoredChange {
  header: ChangeSummary;
  /** JSON of the attributes object (see above). */
  attributesJson: string;
  /** JSON of the member DNs array. */
  memberDnsJson: string;
}

/** The hash field of a batch's summaries. */
export function summaryField(sequence: number | string): string {
  return `s${sequence}`;
}

/** The attributes as the cloud directory stores them: binary values prefixed with `base64:`. */
function attributesObject(attributes: Change['attributes']): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const a of attributes) {
    const values = a.binary ? a.values.map((v) => `base64:${v}`) : a.values;
    // An attribute named __proto__ must stay an attribute, not become the object's prototype.
    if (a.name === '__proto__')
      Object.defineProperty(out, a.name, { value: values, enumerable: true, writable: true, configurable: true });
    else out[a.name] = values;
  }
  return out;
}

export function encodeStoredBatch(changes: readonly Change[]): { changes: string; summaries: string } {
  const lines: string[] = new Array<string>(changes.length);
  const headers: string[] = new Array<string>(changes.length);
  changes.forEach((c, i) => {
    const header: ChangeSummary = [
      c.kind,
      c.objectType,
      c.objectId,
      c.dn,
      Buffer.from(c.contentHash.buffer, c.contentHash.byteOffset, c.contentHash.byteLength).toString('hex'),
      c.disabled ? 1 : 0,
    ];
    const h = JSON.stringify(header);
    headers[i] = h;
    lines[i] = `${h}\t${JSON.stringify(attributesObject(c.attributes))}\t${JSON.stringify(c.memberDns)}`;
  });
  return { changes: lines.join('\n'), summaries: `[${headers.join(',')}]` };
}

export function decodeSummaries(text: string): ChangeSummary[] {
  return JSON.parse(text) as ChangeSummary[];
}

/** The lines of a stored batch; decode one with {@link decodeStoredChange} when it is needed. */
export function storedLines(text: string): string[] {
  return text === '' ? [] : text.split('\n');
}

export function decodeStoredChange(line: string): StoredChange {
  const a = line.indexOf('\t');
  const b = line.indexOf('\t', a + 1);
  if (a < 0 || b < 0) throw new Error('malformed stored change');
  return {
    header: JSON.parse(line.slice(0, a)) as ChangeSummary,
    attributesJson: line.slice(a + 1, b),
    memberDnsJson: line.slice(b + 1),
  };
}

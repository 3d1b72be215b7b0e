import fs from 'node:fs';
import path from 'node:path';
import { ProtocolErrorCodes } from './errors';
import { CloseCode, describeCloseCode } from './close-codes';

const doc = fs.readFileSync(path.resolve(__dirname, '../../../docs/errors.md'), 'utf8');

describe('docs/errors.md', () => {
  it('lists exactly the ProtocolError codes', () => {
    const listed = [...doc.matchAll(/`(PROTO_ERR_[A-Z_]+)`/g)].map((m) => m[1]);
    expect([...new Set(listed)].sort()).toEqual(Object.keys(ProtocolErrorCodes).sort());
  });

  it('lists every close code with its name and retry rule', () => {
    for (const [name, code] of Object.entries(CloseCode)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| ${code} |`));
      expect(row).toBeDefined();
      expect(row).toContain(`\`${name}\``);
      expect(row!.trim().endsWith(describeCloseCode(code)!.retry ? '| yes |' : '| no |')).toBe(true);
    }
  });
});

import fs from 'node:fs';
import path from 'node:path';
import { API_ERROR_CODES } from './errors';

const doc = fs.readFileSync(path.resolve(__dirname, '../../../../docs/errors.md'), 'utf8');

describe('docs/errors.md, section API', () => {
  test('lists exactly the codes the HTTP layer produces, each with its status', () => {
    const start = doc.indexOf('## API (`/api/v1`)');
    expect(start).toBeGreaterThanOrEqual(0);
    const next = doc.indexOf('\n## ', start + 1);
    const section = doc.slice(start, next < 0 ? undefined : next);
    const rows = section.split('\n').filter((line) => /^\| `SG_ERR_[A-Z_]+` \|/.test(line));
    const listed = rows.map((row) => /`(SG_ERR_[A-Z_]+)`/.exec(row)?.[1]);
    expect(listed.sort()).toEqual(Object.values(API_ERROR_CODES).sort());
    for (const row of rows) expect(row).toMatch(/^\| `SG_ERR_[A-Z_]+` \| [45]\d\d \|/);
  });
});

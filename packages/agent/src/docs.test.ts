import fs from 'node:fs';
import path from 'node:path';
import { CycleErrorCode } from '@syncguard/protocol';
import { AgentErrorCodes } from './errors';

const doc = fs.readFileSync(path.resolve(__dirname, '../../../docs/errors.md'), 'utf8');
const section = doc.slice(doc.indexOf('## Agent (`@syncguard/agent`)'));

describe('docs/errors.md, section Agent', () => {
  it('exists', () => {
    expect(doc).toContain('## Agent (`@syncguard/agent`)');
  });

  it('lists exactly the AgentError codes', () => {
    const end = section.indexOf('\n## ', 5);
    const text = end > 0 ? section.slice(0, end) : section;
    const listed = [...text.matchAll(/^\| `(AGENT_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual(Object.keys(AgentErrorCodes).sort());
  });

  it('gives each code the CycleErrorCode the agent sends', () => {
    for (const [code, wire] of Object.entries(AgentErrorCodes)) {
      const row = section.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
      expect(row?.trim().endsWith(`| \`${CycleErrorCode[wire]}\` |`)).toBe(true);
    }
  });
});

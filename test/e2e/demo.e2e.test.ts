/**
 * The demo's mass-delete scenario (issue 7): `npm run demo -- --scenario mass-delete` runs
 * the built demo program, which checks every step itself and exits 0 only when everything
 * happened as it says.
 */
import path from 'node:path';
import { ManagedProcess } from '@syncguard/testkit';

const DEMO = path.resolve(__dirname, '..', 'dist', 'demo', 'demo.js');

describe('npm run demo -- --scenario mass-delete', () => {
  it('walks through quarantine, email, StagedDelete log and allow-deletes, and exits 0', async () => {
    const demo = new ManagedProcess(process.execPath, [DEMO, '--scenario', 'mass-delete']);
    const code = await demo.wait();
    if (code !== 0) throw new Error(`demo exited ${code}:\n${demo.log}`);
    expect(demo.log).toContain('quarantine.deleteCount = 600');
    expect(demo.log).toContain('StagedDelete entries = 600');
    expect(demo.log).toContain('[smtp] email to ops@example.com');
    expect(demo.log).toContain('mass-delete scenario: everything happened as described.');
  }, 240_000);

  it('rejects an unknown scenario with a clear message', async () => {
    const demo = new ManagedProcess(process.execPath, [DEMO, '--scenario', 'nope']);
    expect(await demo.wait()).toBe(2);
    expect(demo.log).toContain('unknown scenario "nope"');
  });
});

/**
 * The controller disconnects an agent that sends more unacknowledged batches than the
 * welcome's window; the real agent keeps to it, also with two cycles streaming at once.
 */
import { usersLdif } from '@syncguard/testkit';
import { startSystem, type TestSystem } from '../harness';

const PEOPLE = 'ou=people,dc=example,dc=com';

describe('the in-flight window', () => {
  let system: TestSystem;
  afterAll(() => system?.dispose());

  it('two cycles of one agent streaming at once stay within a window of 1', async () => {
    system = await startSystem({
      slapd: { seedLdif: usersLdif(PEOPLE, 600) },
      controllerConfig: { maxInFlightBatches: 1, maxBatchChanges: 20 },
    });
    const agentId = await system.addAgent('dc1');
    const ids: string[] = [];
    for (const name of ['one', 'two']) {
      const { id } = await system.createConfiguration({
        name,
        agentIds: [agentId],
        source: { baseDn: PEOPLE, objectTypes: ['user'] },
        syncIntervalSeconds: 3600,
      });
      ids.push(id);
    }
    for (const id of ids)
      expect((await system.firstCycle(id)).lastCycle?.counts).toEqual({ create: 600, update: 0, delete: 0, failed: 0 });
    const log = system.controller?.log ?? '';
    expect(log).not.toContain('maxInFlightBatches');
    expect(system.agentLog(agentId)).not.toContain('RATE_LIMITED');
  });
});

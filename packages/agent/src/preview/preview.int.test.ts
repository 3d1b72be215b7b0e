import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { CycleErrorCode, CycleMode, ObjectType } from '@syncguard/protocol';
import { startSlapd, usersLdif, waitFor, type SlapdServer } from '@syncguard/testkit';
import { Agent } from '../agent';
import type { AgentOptions } from '../agent-options';
import { MiniController } from '../testing/mini-controller';

jest.setTimeout(60_000);

const people = 'ou=people,dc=example,dc=com';
let slapd: SlapdServer;
let controller: MiniController;
let agent: Agent;
let stateDir: string;

beforeAll(async () => {
  slapd = await startSlapd({ seedLdif: usersLdif(people, 30) });
  controller = await MiniController.start({ welcome: { maxBatchChanges: 10, maxInFlightBatches: 2 } });
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-preview-'));
  const options: AgentOptions = {
    controllerUrl: controller.url,
    agentToken: controller.token,
    agentId: 'agent-1',
    stateDir,
    reconnectInitialDelay: '50ms',
    reconnectMaxDelay: '200ms',
    ldap: { url: slapd.url, bindDn: slapd.rootDn, bindPassword: slapd.rootPassword, pageSize: 7, deltaSkew: '0s' },
  };
  agent = await Agent.create(options, { logger: pino({ level: 'silent' }) });
  await waitFor(() => controller.connected, { message: 'agent connected' });
});

afterAll(async () => {
  await agent?.close().catch(() => undefined);
  await controller?.close();
  await slapd?.dispose();
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
});

async function cycle(mode: CycleMode, base: string) {
  const id = controller.startCycle('cfg', { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] }, mode, base);
  const end = await waitFor(() => controller.complete(id) ?? controller.failed(id), { message: `end of ${id}` });
  expect(controller.failed(id)).toBeUndefined();
  return { id, complete: controller.complete(id)!, changes: controller.changes(id), end };
}

describe('previews against a real slapd', () => {
  it('reads the proposed scope with the hashes a cycle sends, leaving the cache, cursors and the next DELTA as they were', async () => {
    expect(controller.hellos.at(-1)?.features).toEqual(['preview']);
    const first = await cycle(CycleMode.CYCLE_MODE_FULL, '');
    controller.commit('cfg', first.id);
    await waitFor(() => agent.cursors().find((c) => c.committedCycleId === first.id), { message: 'commit applied' });
    const cursors = agent.cursors();
    expect(agent.cachedObjectCount('cfg')).toBe(30);

    // A narrower filter: only the objects it keeps, each with the hash the FULL cycle sent.
    const previewId = controller.startPreview('cfg', {
      baseDn: people,
      filter: '(|(uid=user1)(uid=user2)(uid=user3))',
      objectTypes: [ObjectType.OBJECT_TYPE_USER],
    });
    const log = await waitFor(
      () => (controller.previews.get(previewId)?.complete ? controller.previews.get(previewId) : undefined),
      {
        message: 'preview complete',
      },
    );
    expect(log.failed).toBeUndefined();
    expect(log.complete).toMatchObject({ configurationId: 'cfg', previewId, objects: 3, lastSequence: 1 });
    expect(log.objects.map((o) => o.dn).sort()).toEqual([1, 2, 3].map((i) => `uid=user${i},${people}`));
    const hashes = new Map(first.changes.map((c) => [c.objectId, Buffer.from(c.contentHash).toString('hex')]));
    for (const o of log.objects) {
      expect(o.objectType).toBe(ObjectType.OBJECT_TYPE_USER);
      expect(Buffer.from(o.contentHash).toString('hex')).toBe(hashes.get(o.objectId));
    }

    // The whole scope, in several batches within the window (acknowledged by the test, one at a time).
    controller.autoAckPreviews = false;
    const wide = controller.startPreview('cfg', { baseDn: 'dc=example,dc=com', objectTypes: [ObjectType.OBJECT_TYPE_USER] });
    for (let acked = 0; ;) {
      const seen = await waitFor(
        () => {
          const l = controller.previews.get(wide)!;
          return l.complete || l.sequences.length > acked ? l : undefined;
        },
        { message: 'a preview batch' },
      );
      if (seen.complete) break;
      // The window: never more than maxInFlightBatches unacknowledged.
      expect(seen.sequences.length - acked).toBeLessThanOrEqual(2);
      await new Promise((r) => setTimeout(r, 50));
      expect(controller.previews.get(wide)!.sequences.length - acked).toBeLessThanOrEqual(2);
      acked = seen.sequences.length;
      controller.ackPreview('cfg', wide, acked);
    }
    controller.autoAckPreviews = true;
    expect(controller.previews.get(wide)!.complete).toMatchObject({ objects: 30, lastSequence: 3 });
    expect(controller.previews.get(wide)!.sequences).toEqual([1, 2, 3]);

    // Nothing of the agent's state moved: same cursors, same cache, and the next cycle is a quiet DELTA.
    expect(agent.cursors()).toEqual(cursors);
    expect(agent.cachedObjectCount('cfg')).toBe(30);
    const next = await cycle(CycleMode.CYCLE_MODE_DELTA, first.id);
    expect(next.complete.mode).toBe(CycleMode.CYCLE_MODE_DELTA);
    expect(next.changes).toEqual([]);
    expect(agent.runningPreviews).toBe(0);
  });

  it('runs beside a cycle that is being streamed, which then completes as it would have without it', async () => {
    const base = agent.cursors().find((c) => c.configurationId === 'cfg')!.committedCycleId;
    // A FULL cycle held mid-stream: its batches are not acknowledged, so its window fills.
    controller.autoAck = false;
    const held = controller.startCycle(
      'cfg',
      { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] },
      CycleMode.CYCLE_MODE_FULL,
      base,
    );
    await waitFor(() => (controller.sequences(held).length >= 2 ? true : undefined), { message: 'the window of the cycle full' });
    expect(controller.complete(held)).toBeUndefined();
    const previewId = controller.startPreview('cfg', { baseDn: people, objectTypes: [ObjectType.OBJECT_TYPE_USER] });
    const log = await waitFor(() => controller.previews.get(previewId)?.complete, { message: 'the preview beside the cycle' });
    expect(log.objects).toBe(30);
    // The cycle goes on where it was: every object once, as PRESENT, and nothing else.
    controller.autoAck = true;
    controller.ackAll(held);
    const end = await waitFor(() => controller.complete(held) ?? controller.failed(held), { message: 'the held cycle' });
    expect(controller.failed(held)).toBeUndefined();
    expect(end).toMatchObject({ totals: { adds: 0, modifies: 0, deletes: 0, presents: 30 } });
    expect(new Set(controller.changes(held).map((c) => c.objectId)).size).toBe(30);
    expect(controller.errors).toEqual([]);
    controller.abort('cfg', held);
  });

  it('a read that fails is PreviewFailed with the LDAP cause, and a stop from the controller ends the read', async () => {
    const missing = controller.startPreview('cfg', { baseDn: 'ou=nowhere,dc=example,dc=com' });
    const failed = await waitFor(() => controller.previews.get(missing)?.failed, { message: 'preview failed' });
    expect(failed.code).toBe(CycleErrorCode.CYCLE_ERROR_LDAP_NO_SUCH_OBJECT);
    expect(controller.previews.get(missing)!.complete).toBeUndefined();

    const bad = controller.startPreview('cfg', { baseDn: people, filter: '(uid=' });
    expect((await waitFor(() => controller.previews.get(bad)?.failed, { message: 'bad filter' })).code).toBe(
      CycleErrorCode.CYCLE_ERROR_INVALID_SCOPE,
    );

    controller.autoAckPreviews = false;
    const stopped = controller.startPreview('cfg', { baseDn: people });
    await waitFor(() => (controller.previews.get(stopped)!.sequences.length > 0 ? true : undefined), { message: 'first batch' });
    controller.ackPreview('cfg', stopped, 1, true);
    await waitFor(() => (agent.runningPreviews === 0 ? true : undefined), { message: 'preview stopped' });
    controller.autoAckPreviews = true;
    expect(controller.previews.get(stopped)!.complete).toBeUndefined();
    expect(controller.previews.get(stopped)!.failed).toBeUndefined();
  });
});

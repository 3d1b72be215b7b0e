import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChangeKind, ObjectType } from '@syncguard/protocol';
import { StateStore } from './state-store';

describe('StateStore.hasObjects', () => {
  let dir: string;
  let store: StateStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'syncguard-state-store-'));
    store = StateStore.open(dir);
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cycle = (cycleId: string, rows: { id: string; kind: number }[], configurationId = 'cfg-a') => {
    store.createCycle({
      cycleId,
      configurationId,
      mode: 1,
      rebase: 0,
      scopeJson: '{}',
      scopeKey: 'k',
      baseCycleId: '',
      watermark: '',
    });
    const objectRows = rows.map((r) => ({
      ...r,
      type: ObjectType.OBJECT_TYPE_USER,
      dn: `uid=${r.id},ou=people,dc=example,dc=com`,
      hash: r.kind === ChangeKind.CHANGE_KIND_DELETE ? null : Buffer.alloc(16, 1),
    }));
    store.putBatch(cycleId, 1, new Uint8Array(1), objectRows, { adds: rows.length, modifies: 0, deletes: 0, presents: 0 });
    expect(store.commit(cycleId)).toBe(true);
  };

  it('follows the committed cache of each configuration: empty, filled, emptied again', () => {
    expect(store.hasObjects('cfg-a')).toBe(false);
    // Staged rows are not the cache: only a commit puts them there.
    store.createCycle({
      cycleId: 'c0',
      configurationId: 'cfg-a',
      mode: 1,
      rebase: 0,
      scopeJson: '{}',
      scopeKey: 'k',
      baseCycleId: '',
      watermark: '',
    });
    store.putBatch(
      'c0',
      1,
      new Uint8Array(1),
      [{ id: 'u0', kind: ChangeKind.CHANGE_KIND_ADD, type: ObjectType.OBJECT_TYPE_USER, dn: 'uid=u0', hash: Buffer.alloc(16) }],
      {
        adds: 1,
        modifies: 0,
        deletes: 0,
        presents: 0,
      },
    );
    expect(store.hasObjects('cfg-a')).toBe(false);
    store.drop('c0');

    cycle('c1', [
      { id: 'u1', kind: ChangeKind.CHANGE_KIND_ADD },
      { id: 'u2', kind: ChangeKind.CHANGE_KIND_ADD },
    ]);
    expect(store.hasObjects('cfg-a')).toBe(true);
    expect(store.hasObjects('cfg-b')).toBe(false);
    expect(store.objectCount('cfg-a')).toBe(2);

    cycle('c2', [
      { id: 'u1', kind: ChangeKind.CHANGE_KIND_DELETE },
      { id: 'u2', kind: ChangeKind.CHANGE_KIND_DELETE },
    ]);
    expect(store.hasObjects('cfg-a')).toBe(false);
    expect(store.objectCount('cfg-a')).toBe(0);
  });
});

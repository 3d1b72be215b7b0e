/**
 * The demo (and every e2e system) is safe on a laptop: the controller listens on loopback
 * only, and its admin token is fresh and random for each run.
 */
import net from 'node:net';
import os from 'node:os';
import { startSystem, type TestSystem } from '../harness';

jest.setTimeout(120_000);

const systems: TestSystem[] = [];
afterAll(async () => {
  for (const s of systems) await s.dispose();
});

function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

it('binds 127.0.0.1 and uses a fresh random admin token each run', async () => {
  const first = await startSystem();
  systems.push(first);
  const second = await startSystem();
  systems.push(second);
  expect(first.adminToken).not.toBe(second.adminToken);
  expect(first.adminToken.length).toBeGreaterThanOrEqual(32);
  expect(await connects('127.0.0.1', first.port)).toBe(true);
  // Every address of this machine that is not loopback: the controller is not there.
  const external = Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => !!a && !a.internal && a.family === 'IPv4')
    .map((a) => a.address);
  for (const address of external)
    expect({ address, open: await connects(address, first.port) }).toEqual({ address, open: false });
  // The token of one run opens nothing in another.
  const res = await fetch(`${second.url}/api/v1/agents`, { headers: { authorization: `Bearer ${first.adminToken}` } });
  expect(res.status).toBe(401);
});

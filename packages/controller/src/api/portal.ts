import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Where the portal's build is: `portal/` of the installed package (the packed tarball and
 * the Debian package carry a copy there), else packages/portal/dist of the checkout, seen
 * from dist/api/ (or src/api/ under ts-jest).
 */
export const DEFAULT_PORTAL_DIR =
  [path.resolve(__dirname, '../../portal'), path.resolve(__dirname, '../../../portal/dist')].find((dir) =>
    fs.existsSync(path.join(dir, 'index.html')),
  ) ?? path.resolve(__dirname, '../../../portal/dist');

/** Paths that never fall back to the portal's index.html. */
const NOT_PORTAL = /^\/(api|admin|metrics|healthz|agent)(\/|$|\?)/;

/**
 * Serves the web portal's build (packages/portal/dist) at `/`, when it exists; quietly
 * does nothing otherwise. Registered in its own scope: bull-board registers
 * @fastify/static in another one, and the two must not share a reply decorator.
 * Returns the SPA fallback for the root not-found handler: unknown GET paths outside
 * the API get index.html, so that the portal's client-side routes survive a reload.
 */
export async function registerPortal(
  app: FastifyInstance,
  dir: string,
): Promise<((request: FastifyRequest, reply: FastifyReply) => boolean) | null> {
  const index = path.join(dir, 'index.html');
  if (!fs.existsSync(index)) return null;
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, { root: dir, prefix: '/', wildcard: true, index: ['index.html'] });
  });
  return (request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    if (NOT_PORTAL.test(request.url)) return false;
    const accept = request.headers.accept ?? '';
    if (accept && !accept.includes('text/html') && !accept.includes('*/*')) return false;
    let html: Buffer;
    try {
      html = fs.readFileSync(index);
    } catch {
      return false;
    }
    void reply.code(200).type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
    return true;
  };
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_ERROR_CODES, sendError } from '../api/errors';
import type { Actor, Role } from '../model';
import { Authenticator, bearerToken } from './authenticator';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the call; set by the auth hook on every authenticated route. */
    actor: Actor | null;
  }
  interface FastifyContextConfig {
    /**
     * Least role a route needs: 'public' for none. Default: 'reader' for GET and HEAD,
     * 'admin' for everything else.
     */
    role?: Role | 'public';
  }
}

/** The role a request needs under the default rule (readers may only read). */
export function requiredRole(request: FastifyRequest): Role | 'public' {
  const configured = request.routeOptions.config?.role;
  if (configured) return configured;
  return request.method === 'GET' || request.method === 'HEAD' ? 'reader' : 'admin';
}

/**
 * onRequest hook of the /api/v1 routes: 401 without a valid Bearer token, 403 when the
 * token's role is below the route's.
 */
export function authHook(auth: Authenticator) {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const role = requiredRole(request);
    if (role === 'public') return;
    const header = request.headers.authorization;
    const secret = bearerToken(header);
    if (!secret) {
      reply.header('www-authenticate', 'Bearer realm="syncguard"');
      await sendError(
        reply,
        401,
        API_ERROR_CODES.UNAUTHORIZED,
        header
          ? 'the Authorization header must read "Bearer <token>"'
          : 'an API token is required: Authorization: Bearer <token>',
      );
      return;
    }
    const actor = await auth.authenticate(secret);
    if (!actor) {
      reply.header('www-authenticate', 'Bearer realm="syncguard", error="invalid_token"');
      await sendError(reply, 401, API_ERROR_CODES.UNAUTHORIZED, 'the API token is unknown or revoked');
      return;
    }
    request.actor = actor;
    if (role === 'admin' && actor.role !== 'admin') {
      await sendError(
        reply,
        403,
        API_ERROR_CODES.FORBIDDEN,
        `this call needs an admin token; token "${actor.name}" is a ${actor.role}`,
      );
    }
  };
}

/** The caller of an authenticated route (the hook ran, so there is one). */
export function actorOf(request: FastifyRequest): Actor {
  if (!request.actor) throw new Error('route without the auth hook');
  return request.actor;
}

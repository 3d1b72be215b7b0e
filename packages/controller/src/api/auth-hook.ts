import type { FastifyReply, FastifyRequest } from 'fastify';
import { API_ERROR_CODES, sendError } from './errors';
import type { Actor, Role } from '../model';
import type { AuthFailureLimiter } from '../auth/auth-failure-limiter';
import { Authenticator, bearerToken } from '../auth/authenticator';

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
 * 429 (and true) when the client address has failed authentication too often: see
 * AuthFailureLimiter. Every route that takes a secret asks this first.
 */
export async function refuseWhenBlocked(
  limiter: AuthFailureLimiter,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  const retryAfter = await limiter.retryAfterSeconds(request.ip);
  if (retryAfter === 0) return false;
  reply.header('retry-after', String(retryAfter));
  await sendError(
    reply,
    429,
    API_ERROR_CODES.TOO_MANY_REQUESTS,
    `too many failed authentications from this address; try again in ${retryAfter} s`,
  );
  return true;
}

/**
 * onRequest hook of the /api/v1 routes: 429 while the client address is blocked for
 * failed authentications, 401 without a valid Bearer token (a presented, wrong one
 * counts as a failure), 403 when the token's role is below the route's.
 */
export function authHook(auth: Authenticator, limiter: AuthFailureLimiter) {
  return async function authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const role = requiredRole(request);
    if (role === 'public') return;
    if (await refuseWhenBlocked(limiter, request, reply)) return;
    const header = request.headers.authorization;
    const secret = bearerToken(header);
    if (header && !secret) await limiter.recordFailure(request.ip, 'api', 'malformed Authorization header');
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
      await limiter.recordFailure(request.ip, 'api', 'unknown or revoked token');
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

import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type {
  AppControllerRoute,
  AppViewRoute,
  BullBoardQueues,
  ControllerHandlerReturnType,
  IServerAdapter,
  UIConfig,
} from '@bull-board/api/typings/app';
import type { FastifyInstance, HTTPMethods } from 'fastify';

/**
 * A bull-board server adapter for Fastify, in place of @bull-board/fastify. That package
 * brings its own @fastify/static 10, whose dependencies are ES modules that Jest (and
 * Node before 20.19) cannot require, and it decorates the reply with sendFile, which
 * clashes with the portal's @fastify/static. This one uses the controller's own
 * @fastify/static (without decorating the reply) and renders bull-board's small
 * index.ejs itself (it only substitutes `<%= name %>` escaped and `<%- name %>` raw).
 * It registers bull-board's GET routes only: the dashboard is read-only.
 */
export class BullBoardAdapter implements IServerAdapter {
  private basePath = '';
  private queues?: BullBoardQueues;
  private viewsPath?: string;
  private statics?: { route: string; path: string };
  private entryRoute?: AppViewRoute;
  private errorHandler?: (error: Error) => ControllerHandlerReturnType;
  private apiRoutes: AppControllerRoute[] = [];
  private uiConfig: UIConfig = {};

  setBasePath(basePath: string): this {
    this.basePath = basePath;
    return this;
  }
  setQueues(queues: BullBoardQueues): this {
    this.queues = queues;
    return this;
  }
  setViewsPath(viewsPath: string): this {
    this.viewsPath = viewsPath;
    return this;
  }
  setStaticPath(route: string, staticsPath: string): this {
    this.statics = { route, path: staticsPath };
    return this;
  }
  setEntryRoute(route: AppViewRoute): this {
    this.entryRoute = route;
    return this;
  }
  setErrorHandler(handler: (error: Error) => ControllerHandlerReturnType): this {
    this.errorHandler = handler;
    return this;
  }
  setApiRoutes(routes: AppControllerRoute[]): this {
    this.apiRoutes = routes;
    return this;
  }
  setUIConfig(config: UIConfig): this {
    this.uiConfig = config;
    return this;
  }

  /** Registers the dashboard's routes on `scope` (which carries the basePath prefix). */
  async register(scope: FastifyInstance): Promise<void> {
    const { queues, viewsPath, statics, entryRoute, errorHandler } = this;
    if (!queues || !viewsPath || !statics || !entryRoute || !errorHandler) throw new Error('createBullBoard() must run first');
    await scope.register(fastifyStatic, { root: statics.path, prefix: statics.route, decorateReply: false });
    const template = fs.readFileSync(path.join(viewsPath, 'index.ejs'), 'utf8');
    for (const url of ([] as string[]).concat(entryRoute.route)) {
      scope.route({
        method: entryRoute.method.toUpperCase() as HTTPMethods,
        url,
        schema: { hide: true },
        handler: async (_request, reply) => {
          const { params } = entryRoute.handler({ basePath: this.basePath, uiConfig: this.uiConfig });
          return reply.type('text/html; charset=utf-8').send(renderTemplate(template, params as Record<string, unknown>));
        },
      });
    }
    for (const route of this.apiRoutes) {
      // Read-only: bull-board's routes that change queues (add, retry, clean, obliterate,
      // pause...) are not registered at all, so nothing can reach them around the UI.
      const methods = ([] as string[]).concat(route.method).map((m) => m.toUpperCase());
      if (!methods.every((m) => READ_METHODS.has(m))) continue;
      for (const url of ([] as string[]).concat(route.route)) {
        scope.route({
          method: methods as HTTPMethods[],
          url,
          schema: { hide: true },
          handler: async (request, reply) => {
            const response = await route.handler({
              queues,
              uiConfig: this.uiConfig,
              params: request.params as Record<string, string>,
              query: request.query as Record<string, string>,
              body: request.body as Record<string, unknown>,
              headers: request.headers as Record<string, string>,
            } as Parameters<AppControllerRoute['handler']>[0]);
            return reply.code(response.status ?? 200).send(response.body);
          },
        });
      }
    }
    scope.setErrorHandler((error, _request, reply) => {
      const response = errorHandler(error as Error);
      return reply.code(response.status ?? 500).send(response.body);
    });
  }
}

/** The only methods the dashboard serves. */
export const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `<%= name %>` (HTML-escaped) and `<%- name %>` (raw) of bull-board's index.ejs. */
export function renderTemplate(template: string, params: Record<string, unknown>): string {
  return template.replace(/<%([=-])\s*([A-Za-z_][A-Za-z0-9_]*)\s*%>/g, (_match, kind: string, name: string) => {
    const value = params[name] === undefined || params[name] === null ? '' : String(params[name]);
    return kind === '-' ? value : value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
  });
}

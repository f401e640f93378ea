// The HTTP app as a function: builds a Fastify instance with every route and no listen(), so
// tests use inject() and the server entry point decides where to listen.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { AppContext } from '../context.ts';
import { adminCliRoutes } from './admin-cli.ts';
import { authRoutes } from './auth-routes.ts';
import { bankRoutes } from './bank-routes.ts';
import { cardRoutes } from './card-routes.ts';
import { consoleRoutes } from './console-routes.ts';
import { customerRoutes } from './customer-routes.ts';
import { handleError } from './errors.ts';
import { healthRoutes } from './health.ts';
import { kycRoutes } from './kyc-routes.ts';
import { registerOpenApi } from './openapi.ts';
import { preferenceRoutes } from './preference-routes.ts';
import { registerSecurityHeaders } from './security-headers.ts';
import { staffRoutes } from './staff-routes.ts';
import { staffConsoleRoutes } from './staff-console-routes.ts';
import { staffToolsRoutes } from './staff-tools-routes.ts';
import { twilioWebhookRoutes } from './twilio-webhooks.ts';

/** The API's version in its OpenAPI description: the package version. */
const API_VERSION = '0.1.0';

export interface AppOptions {
  /** Where the developer inbox lives, in simulator mode. */
  simulatorUrl?: string;
  /** Serve the CLI's admin routes with this bearer token (embedded mode: the server owns the database). */
  adminToken?: string;
}

/** TRUST_PROXY as Fastify takes it: a number of hops believes that many peers nearest the server. */
function trustedProxies(setting: readonly string[] | number | undefined): string[] | ((address: string, hop: number) => boolean) | false {
  if (setting === undefined) return false;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return [...setting];
}

export function buildApp(ctx: AppContext, options: AppOptions = {}): FastifyInstance {
  const app: FastifyInstance = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: ctx.logger,
    bodyLimit: 64 * 1024,
    // Fastify waits for in-flight requests on close(); idle keep-alive sockets are closed at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // request.ip is the client's address: the peer, or X-Forwarded-For only when the peer is a trusted proxy.
    trustProxy: trustedProxies(ctx.config.trustProxy),
  });
  app.setErrorHandler(handleError);
  registerSecurityHeaders(app);
  registerOpenApi(app, { version: API_VERSION });
  // The routes load after the OpenAPI plugin (Fastify loads plugins in order), so it sees them all.
  void app.register(async (routes) => {
    healthRoutes(routes, ctx);
    authRoutes(routes, ctx);
    bankRoutes(routes, ctx);
    cardRoutes(routes, ctx);
    customerRoutes(routes, ctx);
    kycRoutes(routes, ctx);
    staffRoutes(routes, ctx);
    staffConsoleRoutes(routes, ctx);
    staffToolsRoutes(routes, ctx);
    consoleRoutes(routes);
    twilioWebhookRoutes(routes, ctx);
    preferenceRoutes(routes, ctx);
    if (options.adminToken) adminCliRoutes(routes, ctx, options.adminToken);
    if (options.simulatorUrl) {
      const inbox = `${options.simulatorUrl}/inbox`;
      routes.get('/dev/inbox', async (_request, reply) => reply.redirect(inbox));
    }
  });
  return app;
}

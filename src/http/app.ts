// The HTTP app as a function: builds a Fastify instance with every route and no listen(), so
// tests use inject() and the server entry point decides where to listen.
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { AppContext } from '../context.ts';
import { adminCliRoutes } from './admin-cli.ts';
import { authRoutes } from './auth-routes.ts';
import { bankRoutes } from './bank-routes.ts';
import { handleError } from './errors.ts';
import { healthRoutes } from './health.ts';
import { twilioWebhookRoutes } from './twilio-webhooks.ts';

export interface AppOptions {
  /** Where the developer inbox lives, in simulator mode. */
  simulatorUrl?: string;
  /** Serve the CLI's admin routes with this bearer token (embedded mode: the server owns the database). */
  adminToken?: string;
}

export function buildApp(ctx: AppContext, options: AppOptions = {}): FastifyInstance {
  const app: FastifyInstance = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: ctx.logger,
    bodyLimit: 64 * 1024,
    // Fastify waits for in-flight requests on close(); idle keep-alive sockets are closed at once.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.setErrorHandler(handleError);
  healthRoutes(app, ctx);
  authRoutes(app, ctx);
  bankRoutes(app, ctx);
  twilioWebhookRoutes(app, ctx);
  if (options.adminToken) adminCliRoutes(app, ctx, options.adminToken);
  if (options.simulatorUrl) {
    const inbox = `${options.simulatorUrl}/inbox`;
    app.get('/dev/inbox', async (_request, reply) => reply.redirect(inbox));
  }
  return app;
}

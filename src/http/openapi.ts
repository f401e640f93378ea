// The API's OpenAPI description, served at /docs (Swagger UI, served by the app itself, no CDN)
// and /docs/json. The zod schemas the routes parse their input with are the one source: doc()
// turns them into the route's JSON schema for the description, and validation stays with zod in
// the handler (parseInput), so the documented rules and the enforced rules cannot drift apart and
// every refusal keeps the one error shape of src/http/errors.ts.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { z } from 'zod';
import { forbidFraming } from './security-headers.ts';

export type RouteAuth = 'none' | 'session' | 'staff';

export interface RouteDoc {
  summary: string;
  /** Longer text: what it does, its errors and how to fix them. */
  description?: string;
  tag: string;
  /** Who may call it: nobody signed in, a customer's session, or a staff session. Default 'session'. */
  auth?: RouteAuth;
  body?: z.ZodType;
  params?: z.ZodType;
  query?: z.ZodType;
  /** Money-moving routes: the Idempotency-Key header is required. */
  idempotencyKey?: boolean;
  /** Status codes it answers with, and what each means. */
  responses?: Record<number, string>;
}

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' });
}

const ERROR_SHAPE = {
  type: 'object',
  properties: { error: { type: 'string', description: 'a stable code, e.g. insufficient_funds' }, message: { type: 'string', description: 'what went wrong and how to fix it' } },
};

/** The `schema` of a route: its documentation, built from the zod schemas the handler parses with. */
export function doc(route: RouteDoc): FastifySchema & Record<string, unknown> {
  const auth = route.auth ?? 'session';
  const described = [
    route.description,
    auth === 'staff' ? 'Needs a staff session.' : undefined,
  ].filter(Boolean).join('\n\n');
  const schema: FastifySchema & Record<string, unknown> = {
    summary: route.summary,
    tags: [route.tag],
    ...(described ? { description: described } : {}),
    ...(auth === 'none' ? {} : { security: [{ session: [] }] }),
  };
  if (route.body) schema.body = jsonSchema(route.body);
  if (route.params) schema.params = jsonSchema(route.params);
  if (route.query) schema.querystring = jsonSchema(route.query);
  if (route.idempotencyKey) {
    schema.headers = {
      type: 'object',
      properties: { 'idempotency-key': { type: 'string', description: 'A unique key per money movement (8-255 characters); a retry with the same key returns the first answer and moves nothing twice.' } },
      required: ['idempotency-key'],
    };
  }
  if (route.responses) {
    schema.response = Object.fromEntries(Object.entries(route.responses).map(([status, description]) => [
      status, Number(status) >= 400 ? { description, ...ERROR_SHAPE } : { description, type: 'object', additionalProperties: true },
    ]));
  }
  return schema;
}

/**
 * Registers the description and its UI. Call before the routes, so every route is collected.
 * Fastify's own validation is switched off: schemas here document, zod in the handler enforces.
 */
export function registerOpenApi(app: FastifyInstance, options: { version: string }): void {
  app.setValidatorCompiler(() => () => true);
  // Response schemas document only; replies are shaped by the handlers (never trimmed by a schema).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'DominionTrust Bank API',
        version: options.version,
        description:
          'The JSON API of the bank\'s apps: registration with SMS phone verification, login with SMS two-factor, ' +
          'accounts and money movements, cards, KYC, and staff operations. Errors are `{ error, message }`, where ' +
          '`message` says how to fix it. Sign in with POST /api/login then POST /api/login/verify and send ' +
          '`Authorization: Bearer <token>`.',
      },
      components: { securitySchemes: { session: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/login/verify.' } } },
    },
    // Webhooks, the CLI's loopback admin routes and the dev inbox are not part of the public API.
    hideUntagged: true,
  });
  void app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true, transformStaticCSP: forbidFraming, uiConfig: { docExpansion: 'list', deepLinking: false } });
}

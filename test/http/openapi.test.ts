// The OpenAPI description at /docs: every route of the public API is in it, with the body its
// handler parses (from the same zod schema), and the Swagger UI is served by the app itself.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, {
    tags?: string[];
    security?: unknown[];
    requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown>; required?: string[] } }> };
    parameters?: { name: string; in: string; required?: boolean }[];
  }>>;
  components: { securitySchemes: Record<string, unknown> };
}

let t: TestContext;
let app: FastifyInstance;
const routes: { method: string; url: string }[] = [];

before(async () => {
  t = await createTestContext();
  app = buildApp(t.ctx);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method: method.toLowerCase(), url: route.url });
  });
  await app.ready();
});

after(async () => {
  await app.close();
  await t.close();
});

async function document(): Promise<OpenApiDocument> {
  const response = await app.inject('/docs/json');
  assert.equal(response.statusCode, 200);
  return response.json<OpenApiDocument>();
}

describe('OpenAPI at /docs', () => {
  it('describes every /api route, with the method it answers', async () => {
    const doc = await document();
    assert.equal(doc.openapi, '3.0.3');
    const apiRoutes = routes.filter((r) => r.url.startsWith('/api/') && r.method !== 'head');
    assert.ok(apiRoutes.length >= 30, `expected the whole API, saw ${apiRoutes.length} routes`);
    const missing = apiRoutes.filter((r) => !doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method]);
    assert.deepEqual(missing, [], 'every /api route is documented');
  });

  it('takes request bodies from the zod schemas the handlers parse with, and marks signed-in routes', async () => {
    const doc = await document();
    const transfer = doc.paths['/api/transfers']?.post;
    const body = transfer?.requestBody?.content['application/json']?.schema;
    assert.deepEqual(Object.keys(body?.properties ?? {}).sort(), ['amountMinor', 'currency', 'fromAccountId', 'toAccountId']);
    assert.deepEqual([...(body?.required ?? [])].sort(), ['amountMinor', 'currency', 'fromAccountId', 'toAccountId']);
    assert.ok(transfer?.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key' && p.required));
    assert.deepEqual(transfer?.security, [{ session: [] }]);
    assert.equal(doc.paths['/api/login']?.post?.security, undefined, 'login needs no session');
    assert.ok(doc.components.securitySchemes.session);
    assert.equal(doc.paths['/internal/cli/users'], undefined, 'the CLI\'s loopback routes are not public API');
  });

  it('serves the Swagger UI from the app itself', async () => {
    const page = await app.inject('/docs/');
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    const script = /src="\.\/static\/(swagger-ui-bundle\.js)"/.exec(page.body)?.[1];
    assert.ok(script, 'the page loads its bundle from /docs/');
    const bundle = await app.inject(`/docs/static/${script}`);
    assert.equal(bundle.statusCode, 200);
  });
});

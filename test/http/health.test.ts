// Health, readiness and metrics endpoints, through inject().
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../src/http/app.ts';
import { openDatabase } from '../../src/db/connection.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

describe('health endpoints', () => {
  let t: TestContext;
  before(async () => {
    t = await createTestContext();
  });
  after(() => t.close());

  it('GET /healthz answers 200', async () => {
    const app = buildApp(t.ctx);
    const res = await app.inject('/healthz');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('GET /readyz answers 200 when the database is migrated and the provider configured', async () => {
    const res = await buildApp(t.ctx).inject('/readyz');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{ checks: Record<string, { ok: boolean }> }>();
    assert.deepEqual(Object.keys(body.checks).sort(), ['database', 'migrations', 'provider']);
  });

  it('GET /readyz answers 503 naming the fix when migrations are pending', async () => {
    const empty = await openDatabase({ engine: 'pglite' });
    try {
      const res = await buildApp({ ...t.ctx, database: empty, db: empty.db }).inject('/readyz');
      assert.equal(res.statusCode, 503);
      assert.match(res.body, /pending: run `dominion migrate`/);
    } finally {
      await empty.close();
    }
  });

  it('GET /readyz answers 503 when no sender number is configured', async () => {
    const config = { ...t.config, twilio: { ...t.config.twilio, phoneNumber: undefined, messagingServiceSid: undefined } };
    const res = await buildApp({ ...t.ctx, config }).inject('/readyz');
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /TWILIO_PHONE_NUMBER/);
  });

  it('GET /metrics serves Prometheus text with the SMS metrics', async () => {
    const res = await buildApp(t.ctx).inject('/metrics');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    assert.match(res.body, /# TYPE dominion_sms_sent_total counter/);
    assert.match(res.body, /# TYPE dominion_sms_send_duration_seconds histogram/);
    assert.match(res.body, /# TYPE dominion_sms_estimated_cost_usd_total counter/);
  });

  it('an unexpected error answers 500 without internals', async () => {
    const app = buildApp(t.ctx);
    app.get('/boom', async () => {
      throw new Error('secret internal detail');
    });
    const res = await app.inject('/boom');
    assert.equal(res.statusCode, 500);
    assert.doesNotMatch(res.body, /secret internal detail/);
  });
});

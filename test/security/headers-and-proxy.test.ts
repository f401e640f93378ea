// Browser-facing defences: every HTML page (the staff console, the API docs, the developer inbox)
// forbids framing and sniffing and leaks no Referer; and behind a reverse proxy (TRUST_PROXY) the
// per-IP limits count the real client, while X-Forwarded-For from anyone else changes nothing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config.ts';
import { buildApp } from '../../src/http/app.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

let t: TestContext;
let app: FastifyInstance;

before(async () => {
  t = await createTestContext({ env: { LOGIN_IP_LIMIT: '3' } });
  app = buildApp(t.ctx, { simulatorUrl: t.sim.url });
});
after(async () => {
  await app.close();
  await t.close();
});

/** The directives of a Content-Security-Policy header, by name. */
function directives(csp: string): Map<string, string> {
  return new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name = '', ...values] = d.split(/\s+/);
    return [name, values.join(' ')];
  }));
}

function assertPageHeaders(what: string, headers: Record<string, string | string[] | number | undefined>): void {
  const csp = String(headers['content-security-policy'] ?? '');
  assert.ok(csp, `${what}: a Content-Security-Policy`);
  const policy = directives(csp);
  assert.equal(policy.get('frame-ancestors'), "'none'", `${what}: no page may frame it (${csp})`);
  assert.ok(policy.has('default-src'), `${what}: a default-src`);
  assert.ok(!/'unsafe-inline'|'unsafe-eval'/.test(policy.get('script-src') ?? policy.get('default-src') ?? ''), `${what}: no inline or eval'd script unless hashed`);
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['referrer-policy'], 'no-referrer', `${what}: no Referer to other sites`);
  assert.equal(headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options for older browsers`);
}

describe('security headers on every HTML page', () => {
  it('the staff console, the API docs and the inbox redirect carry CSP, frame-ancestors, nosniff and a referrer policy', async () => {
    const pages = ['/admin', '/admin/', '/docs', '/docs/', '/docs/static/index.html', '/dev/inbox'];
    for (const url of pages) {
      const res = await app.inject({ url });
      assert.ok(res.statusCode < 400, `${url}: ${res.statusCode}`);
      assertPageHeaders(url, res.headers);
    }
    const docs = await app.inject({ url: '/docs/' });
    assert.match(String(docs.headers['content-type']), /^text\/html/);
    console.log(`security headers: ${pages.length} app pages checked`);
  });

  it("the developer inbox page has them too, and its CSP allows exactly the page's own inline script and style", async () => {
    const res = await fetch(`${t.sim.url}/inbox`);
    assert.equal(res.status, 200);
    assertPageHeaders('simulator /inbox', Object.fromEntries(res.headers));
    const html = await res.text();
    const policy = directives(res.headers.get('content-security-policy')!);
    const hash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1];
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1];
    assert.ok(script && style);
    assert.equal(policy.get('script-src'), hash(script), 'the refresh script runs');
    assert.equal(policy.get('style-src'), hash(style), 'the page is styled');
    assert.equal(policy.get('form-action'), "'self'", 'the reply box posts only to the simulator');
  });

  it('JSON answers are never sniffed as HTML either', async () => {
    const res = await app.inject({ url: '/api/accounts' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
  });
});

describe('TRUST_PROXY and per-IP limits', () => {
  const login = (target: FastifyInstance, remoteAddress: string, forwardedFor?: string) => target.inject({
    method: 'POST', url: '/api/login', remoteAddress, payload: {},
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  });

  it('refuses TRUST_PROXY=true and anything that is not an address, a range or a hop count, naming the fix', () => {
    for (const value of ['true', '10.0.0.0/33', 'proxy.example.com']) {
      assert.throws(() => loadConfig({ TRUST_PROXY: value }, '/nonexistent.env'), (error: Error) => /TRUST_PROXY: each entry must be an IP address or CIDR range/.test(error.message), value);
    }
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,loopback' }, '/nonexistent.env').trustProxy, ['10.0.0.0/8', '127.0.0.1', 'loopback']);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }, '/nonexistent.env').trustProxy, 2);
    assert.equal(loadConfig({}, '/nonexistent.env').trustProxy, undefined);
  });

  it('without TRUST_PROXY, a client rotating X-Forwarded-For is still one address and is stopped', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await login(app, '198.51.100.7', `203.0.113.${i + 1}`)).statusCode);
    console.log(`no TRUST_PROXY, spoofed X-Forwarded-For: ${statuses.join(', ')}`);
    assert.deepEqual(statuses, [400, 400, 400, 429, 429]);
    assert.equal((await login(app, '198.51.100.8')).statusCode, 400, 'another peer has its own count');
  });

  it('behind a trusted proxy, each real client has its own count; a spoofed header from an untrusted peer is ignored', async () => {
    const behindProxy = buildApp({ ...t.ctx, config: { ...t.ctx.config, trustProxy: ['10.0.0.0/8'] } });
    try {
      const viaProxy: number[] = [];
      for (let i = 0; i < 4; i++) viaProxy.push((await login(behindProxy, '10.0.0.5', '192.0.2.10')).statusCode);
      const otherClient = (await login(behindProxy, '10.0.0.5', '192.0.2.11')).statusCode;
      // A chain: the proxy appends the address it saw; whatever the client wrote before it is not believed.
      const chained = (await login(behindProxy, '10.0.0.5', '192.0.2.11, 192.0.2.10')).statusCode;
      const spoofed: number[] = [];
      for (let i = 0; i < 5; i++) spoofed.push((await login(behindProxy, '198.51.100.9', `192.0.2.${100 + i}`)).statusCode);
      console.log(`TRUST_PROXY=10.0.0.0/8: one client via the proxy ${viaProxy.join(', ')}; another client ${otherClient}; spoofed prefix ${chained}; untrusted peer spoofing ${spoofed.join(', ')}`);
      assert.deepEqual(viaProxy, [400, 400, 400, 429], 'the real client is counted, not the proxy');
      assert.equal(otherClient, 400, 'another client behind the same proxy is not blocked');
      assert.equal(chained, 429, 'the address the proxy saw counts, not what the client prepended');
      assert.deepEqual(spoofed, [400, 400, 400, 429, 429], 'X-Forwarded-For from a peer that is not the proxy is ignored');
    } finally {
      await behindProxy.close();
    }
  });
});

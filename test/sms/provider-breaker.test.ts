// The circuit breaker per Twilio account, on its own: a held clock, no provider. It opens on a
// 429 with Retry-After or after N failures in a row, lets one probe through once the open period
// has passed, and tells its listeners when it closes again (the worker wakes its code lane then).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../src/metrics.ts';
import { CircuitOpenError, ProviderCircuit } from '../../src/sms/provider-breaker.ts';
import { SmsProviderError } from '../../src/sms/provider.ts';

const rateLimited = () => new SmsProviderError({ kind: 'rate_limited', message: '429', twilioCode: 20429, httpStatus: 429, retryAfterMs: 3000 });
const serverError = () => new SmsProviderError({ kind: 'transient', message: '500', twilioCode: 20500, httpStatus: 500 });

describe('the provider circuit', () => {
  it('opens on a 429 with Retry-After, probes once it has passed, and tells its listeners when it closes', async () => {
    let now = 1_000_000;
    const circuit = new ProviderCircuit('AC0123456789abcdef0123456789abcdef', { failures: 3, openMs: 1000 }, createMetrics(), () => now);
    const closings: number[] = [];
    circuit.onClosed(() => closings.push(now));
    await assert.rejects(circuit.run('send', () => Promise.reject(rateLimited())), SmsProviderError);
    assert.equal(circuit.state, 'open');
    assert.equal(circuit.waitMs(), 3000, 'Retry-After, longer than the open period, wins');
    await assert.rejects(circuit.run('send', () => Promise.resolve('not sent')), CircuitOpenError);
    now += 3000;
    assert.equal(await circuit.run('send', () => Promise.resolve('probe')), 'probe');
    assert.equal(circuit.state, 'closed');
    assert.deepEqual(closings, [now], 'told once, as it closed');
    await circuit.run('send', () => Promise.resolve('next'));
    assert.deepEqual(closings, [now], 'not told again while it stays closed');
  });

  it('opens after N failures in a row, and a failed probe keeps it open without telling anyone', async () => {
    let now = 0;
    const circuit = new ProviderCircuit('AC0123456789abcdef0123456789abcdef', { failures: 3, openMs: 1000 }, createMetrics(), () => now);
    let closed = 0;
    circuit.onClosed(() => closed++);
    for (let i = 0; i < 2; i++) await assert.rejects(circuit.run('send', () => Promise.reject(serverError())));
    assert.equal(circuit.state, 'closed', 'two failures are not a storm');
    await assert.rejects(circuit.run('send', () => Promise.reject(serverError())));
    assert.equal(circuit.state, 'open');
    now += 1000;
    await assert.rejects(circuit.run('send', () => Promise.reject(serverError())));
    assert.equal(circuit.state, 'open', 'the probe failed');
    assert.equal(closed, 0);
    now += 1000;
    await circuit.run('send', () => Promise.resolve('ok'));
    assert.equal(closed, 1);
  });
});

// Shared set-up for the simulator tests: one account, its credentials, and small helpers to send
// through inject() or the real twilio SDK and to wait for simulated time to pass.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { buildSimulatorApp } from '../../src/simulator/index.ts';
import type { SimulatorOptions } from '../../src/simulator/index.ts';

export const ACCOUNT_SID = 'AC0123456789abcdef0123456789abcdef';
export const AUTH_TOKEN = 'simulator-test-token-0123456789ab';
export const API_KEY = { sid: 'SKfedcba9876543210fedcba9876543210', secret: 'api-key-secret-for-tests' };
export const OWNED_NUMBER = '+14155550100';
export const SECOND_NUMBER = '+14155550101';
export const CUSTOMER = '+14155552671';
export const BASE = `/2010-04-01/Accounts/${ACCOUNT_SID}`;

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

export const AUTH_HEADER = basicAuth(ACCOUNT_SID, AUTH_TOKEN);

export function testOptions(overrides: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return {
    accountSid: ACCOUNT_SID,
    authToken: AUTH_TOKEN,
    apiKeys: [API_KEY],
    phoneNumbers: [OWNED_NUMBER, SECOND_NUMBER],
    statusStepMs: 5,
    ...overrides,
  };
}

export function buildTestApp(overrides: Partial<SimulatorOptions> = {}): FastifyInstance {
  return buildSimulatorApp(testOptions(overrides));
}

/** POSTs a form to Messages.json the way the SDK does. */
export function createMessage(
  app: FastifyInstance,
  form: Record<string, string>,
  authorization: string = AUTH_HEADER,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: `${BASE}/Messages.json`,
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams(form).toString(),
  });
}

export function get(app: FastifyInstance, path: string, authorization: string = AUTH_HEADER): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url: path, headers: { authorization } });
}

export function json(response: LightMyRequestResponse): Record<string, unknown> {
  return response.json<Record<string, unknown>>();
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Sends the SDK's requests to the simulator instead of api.twilio.com, as the bank's provider does. */
export class SimulatorRequestClient extends twilio.RequestClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    super();
    this.baseUrl = baseUrl;
  }

  override request<TData>(opts: RequestClient.RequestOptions<TData>) {
    return super.request({ ...opts, uri: opts.uri.replace('https://api.twilio.com', this.baseUrl) });
  }
}

export function sdkClient(baseUrl: string, username = ACCOUNT_SID, password = AUTH_TOKEN): twilio.Twilio {
  return twilio(username, password, { accountSid: ACCOUNT_SID, httpClient: new SimulatorRequestClient(baseUrl) });
}

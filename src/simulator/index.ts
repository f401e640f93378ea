// A Twilio-compatible SMS simulator: the 2010-04-01 REST endpoints the bank uses (account,
// balance, incoming numbers, messages), with Twilio's auth, validation, magic test numbers,
// segment pricing, status progression and signed status callbacks, plus a developer inbox.
// The official twilio SDK works against it unchanged once its base URL is rewritten.
import type { AddressInfo } from 'node:net';
import { buildSimulatorApp, simulatorStateOf } from './app.ts';
import type { SimulatorState } from './app.ts';
import type { SimulatorOptions } from './options.ts';

export { buildSimulatorApp, simulatorStateOf } from './app.ts';
export type { ApiRequest, SimulatorState } from './app.ts';
export type { SimulatorOptions } from './options.ts';
export type { MessageStatus, SimulatedMessage } from './store.ts';
export type { TwilioErrorBody } from './twilio-error.ts';
export type { CustomerReply } from './replies.ts';
export type { SimulatedCall } from './calls.ts';
export type { FaultState, RefusalSettings, StormMode, StormSettings, UndeliverySettings } from './faults.ts';

export interface Simulator extends SimulatorState {
  /** Base URL, e.g. http://127.0.0.1:8001 (no trailing slash); replaces https://api.twilio.com. */
  readonly url: string;
  /** Stops listening, cancels pending status steps and in-flight callbacks. Safe to call twice. */
  close(): Promise<void>;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the simulator on host (default 127.0.0.1) and port (default 0: any free port). */
export async function startSimulator(options: SimulatorOptions & { port?: number; host?: string }): Promise<Simulator> {
  const { port = 0, host = '127.0.0.1', ...simulatorOptions } = options;
  const app = buildSimulatorApp(simulatorOptions);
  const state = simulatorStateOf(app);
  await app.listen({ port, host });
  const address = app.server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${urlHost(host)}:${address.port}`,
    messages: () => state.messages(),
    onMessage: (listener) => state.onMessage(listener),
    balance: () => state.balance(),
    setBalance: (usd) => state.setBalance(usd),
    replies: () => state.replies(),
    calls: () => state.calls(),
    storm: (settings) => state.storm(settings),
    calm: () => state.calm(),
    refuse: (settings) => state.refuse(settings),
    undeliver: (settings) => state.undeliver(settings),
    silence: (target) => state.silence(target),
    clearFaults: () => state.clearFaults(),
    faults: () => state.faults(),
    requests: () => state.requests(),
    close: () => (closing ??= app.close()),
  };
}

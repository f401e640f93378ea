// The Twilio simulator started inside a dominion process in simulator mode, when no other
// simulator URL was configured: by `npm start`, and by a CLI command run while no server runs.
import { SIMULATOR_DEFAULTS, type Config } from '../config.ts';
import { inboundSmsUrl } from '../sms/inbound.ts';
import { startSimulator, type Simulator } from '../simulator/index.ts';

/** The simulator runs in-process only in simulator mode and when no other simulator URL was set. */
export function wantsInProcessSimulator(config: Config): boolean {
  return config.smsProvider === 'simulator' && config.twilio.apiBaseUrl === `http://127.0.0.1:${config.simulatorPort}`;
}

export function startInProcessSimulator(config: Config): Promise<Simulator> {
  return startSimulator({
    port: config.simulatorPort,
    accountSid: config.twilio.accountSid,
    authToken: config.twilio.authToken,
    phoneNumbers: config.twilio.phoneNumbers.length ? [...config.twilio.phoneNumbers] : [SIMULATOR_DEFAULTS.phoneNumber],
    pricePerSegment: config.pricing.pricePerSegment,
    // Customer replies typed in the inbox reach this server's inbound webhook, as on Twilio.
    inboundWebhookUrl: inboundSmsUrl(config),
  });
}

/**
 * For a CLI command: starts the simulator unless one already listens on its port (a
 * `dominion twilio-sim` the operator runs), which is then used as it is.
 */
export async function startSimulatorIfNone(config: Config): Promise<Simulator | undefined> {
  if (!wantsInProcessSimulator(config)) return undefined;
  try {
    return await startInProcessSimulator(config);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return undefined;
    throw error;
  }
}

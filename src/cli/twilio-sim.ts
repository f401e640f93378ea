// `dominion twilio-sim`: the Twilio-compatible simulator as a standalone process.
import { InvalidArgumentError, type Command } from 'commander';
import { SIMULATOR_DEFAULTS } from '../config.ts';
import { startSimulator } from '../simulator/index.ts';

function num(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max} (got "${value}")`);
    return n;
  };
}

export function twilioSimCommand(program: Command): void {
  program
    .command('twilio-sim')
    .description('run the Twilio-compatible SMS simulator (developer inbox at /inbox)')
    .option('--port <port>', 'port to listen on', num('--port', 0, 65_535), 8001)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--account-sid <sid>', 'account SID clients must use', SIMULATOR_DEFAULTS.accountSid)
    .option('--auth-token <token>', 'auth token clients must use (also signs status callbacks)', SIMULATOR_DEFAULTS.authToken)
    .option('--phone-number <e164...>', 'numbers the account owns', [SIMULATOR_DEFAULTS.phoneNumber])
    .option('--balance <usd>', 'starting balance in USD', num('--balance', 0, 1e9), 15)
    .option('--latency <ms>', 'delay added to every API response', num('--latency', 0, 60_000), 0)
    .option('--failure-rate <fraction>', 'fraction of messages that end undelivered (0..1)', num('--failure-rate', 0, 1), 0)
    .option('--status-step <ms>', 'simulated time between status changes', num('--status-step', 1, 600_000), 200)
    .option('--max-messages <n>', 'messages kept in memory; the oldest are forgotten past it', num('--max-messages', 1, 10_000_000), 50_000)
    .option('--inbound-url <url>', 'where customer replies (inbox reply box, POST /dev/reply) are posted, signed; e.g. http://127.0.0.1:8000/webhooks/twilio/inbound')
    .action(async (opts: { port: number; host: string; accountSid: string; authToken: string; phoneNumber: string[]; balance: number; latency: number; failureRate: number; statusStep: number; maxMessages: number; inboundUrl?: string }) => {
      const sim = await startSimulator({
        port: opts.port,
        host: opts.host,
        accountSid: opts.accountSid,
        authToken: opts.authToken,
        phoneNumbers: opts.phoneNumber,
        startingBalance: opts.balance,
        latencyMs: opts.latency,
        failureRate: opts.failureRate,
        statusStepMs: opts.statusStep,
        inboundWebhookUrl: opts.inboundUrl,
        maxMessages: opts.maxMessages,
      });
      console.log(`Twilio simulator listening on ${sim.url} (account ${opts.accountSid}, numbers ${opts.phoneNumber.join(', ')})`);
      console.log(`Point the service at it: TWILIO_API_BASE_URL=${sim.url}   Inbox: ${sim.url}/inbox`);
      const stop = () => void sim.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

// `dominion twilio-sim`: the Twilio-compatible simulator as a standalone process.
import { InvalidArgumentError, type Command } from 'commander';
import { SIMULATOR_DEFAULTS } from '../config.ts';
import { startSimulator } from '../simulator/index.ts';
import { STORM_MODES, type StormMode } from '../simulator/faults.ts';

const STORM_HELP = `
Storms, to rehearse an incident (one at a time; they hit the REST API, not the inbox):
  --storm rate_limit    answer 429 with Retry-After (--retry-after) and Twilio's 20429 body
  --storm server_error  answer a 5xx (--error-status, default 503: Twilio 20503; others 20500)
  --storm slow          answer every hit --slow-ms late (past TWILIO_TIMEOUT_MS the client times out)
  --storm reset         drop the connection without an answer (ECONNRESET / socket hang up)
  --storm-fraction F    hit only this share of requests (0 < F <= 1, default 1)
  --storm-duration MS   end the storm after MS ms (default: until stopped)
  --storm-requests N    end the storm after N hits
  --silent E164...      accept and deliver messages to these numbers but send no status callback

The same, and more, over HTTP while it runs (form-encoded, like Twilio):
  curl -d mode=rate_limit -d fraction=0.5 -d durationMs=60000 -d retryAfterSeconds=2 URL/dev/faults/storm
  curl -X DELETE URL/dev/faults/storm                      calm the storm
  curl --data-urlencode to=+14155552671 -d code=21211 URL/dev/faults/refuse      refuse sends to a number with any Twilio code
  curl --data-urlencode to=+14155552671 -d code=30003 URL/dev/faults/undeliver   accept, then end undelivered with that code
  curl --data-urlencode target=+14155552671 URL/dev/faults/silence               no status callback (a number or a message SID)
  curl URL/dev/faults                                     what is planned; curl -X DELETE URL/dev/faults clears it all
In tests: sim.storm({ mode, fraction, durationMs, requests, retryAfterSeconds, status, delayMs }), sim.calm(),
  sim.refuse({ to, code }), sim.undeliver({ to, code }), sim.silence(target), sim.clearFaults(), sim.faults().`;

function silentTarget(value: string, previous: string[] | undefined): string[] {
  if (!/^(\+[1-9]\d{1,14}|SM[0-9a-fA-F]{32})$/.test(value)) throw new InvalidArgumentError(`--silent takes E.164 numbers or message SIDs (got "${value}")`);
  return [...(previous ?? []), value];
}

function stormMode(value: string): StormMode {
  if (!(STORM_MODES as readonly string[]).includes(value)) throw new InvalidArgumentError(`--storm must be one of ${STORM_MODES.join(', ')} (got "${value}")`);
  return value as StormMode;
}

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
    .option('--storm <mode>', `start a storm at once: ${STORM_MODES.join(', ')} (below)`, stormMode)
    .option('--storm-fraction <fraction>', 'share of API requests the storm hits (0 < f <= 1)', num('--storm-fraction', 0.000001, 1), 1)
    .option('--storm-duration <ms>', 'the storm ends after this many ms', num('--storm-duration', 1, 86_400_000))
    .option('--storm-requests <n>', 'the storm ends after hitting this many requests', num('--storm-requests', 1, 1e9))
    .option('--retry-after <seconds>', 'rate_limit: the Retry-After header', num('--retry-after', 0, 3600), 1)
    .option('--error-status <status>', 'server_error: the HTTP status (500-599)', num('--error-status', 500, 599), 503)
    .option('--slow-ms <ms>', 'slow: how late each hit answers', num('--slow-ms', 0, 600_000), 5000)
    .option('--silent <e164...>', 'numbers whose messages get no status callback', silentTarget)
    .addHelpText('after', STORM_HELP)
    .action(async (opts: {
      port: number; host: string; accountSid: string; authToken: string; phoneNumber: string[]; balance: number; latency: number; failureRate: number;
      statusStep: number; maxMessages: number; inboundUrl?: string; storm?: StormMode; stormFraction: number; stormDuration?: number;
      stormRequests?: number; retryAfter: number; errorStatus: number; slowMs: number; silent?: string[];
    }) => {
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
      for (const target of opts.silent ?? []) sim.silence(target);
      if (opts.storm) {
        sim.storm({
          mode: opts.storm, fraction: opts.stormFraction, durationMs: opts.stormDuration, requests: opts.stormRequests,
          retryAfterSeconds: opts.retryAfter, status: opts.errorStatus, delayMs: opts.slowMs,
        });
        console.log(`Storm: ${opts.storm} on ${Math.round(opts.stormFraction * 100)}% of API requests (stop it: curl -X DELETE ${sim.url}/dev/faults/storm)`);
      }
      console.log(`Twilio simulator listening on ${sim.url} (account ${opts.accountSid}, numbers ${opts.phoneNumber.join(', ')})`);
      console.log(`Point the service at it: TWILIO_API_BASE_URL=${sim.url}   Inbox: ${sim.url}/inbox`);
      const stop = () => void sim.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}

// The rotation half of `--check-setup`: which auth token signed the webhooks received lately, and
// whether TWILIO_AUTH_TOKEN_PREVIOUS may be removed yet (docs/setup-twilio.md, "Rotating
// credentials"). Read from the counts the webhook guard keeps (src/sms/webhook-signature.ts).
import type { AppContext } from '../context.ts';
import { webhookSigners } from '../sms/webhook-signature.ts';
import { passed, warning, type Check } from './report.ts';

/**
 * How long the previous token must have signed nothing before it may go: Twilio retries a failed
 * inbound webhook and a status callback may be delayed, so a day without one is the margin.
 */
export const ROTATION_QUIET_MS = 24 * 60 * 60 * 1000;

const NAME = 'twilio.webhook_signatures';
const TITLE = 'Webhook signatures';

function when(date: Date): string {
  return date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export async function checkWebhookSigners(ctx: Pick<AppContext, 'db' | 'config' | 'clock'>): Promise<Check> {
  const { current, previous } = await webhookSigners(ctx.db, ctx.config);
  const now = ctx.clock.now().getTime();
  const currentText = current ? `TWILIO_AUTH_TOKEN signed ${current.callbacks} webhook(s), the last at ${when(current.lastSeenAt)}` : 'TWILIO_AUTH_TOKEN has signed no webhook yet';
  if (!ctx.config.twilio.previousAuthToken) return passed(NAME, TITLE, currentText);

  const previousText = previous ? `TWILIO_AUTH_TOKEN_PREVIOUS signed ${previous.callbacks}, the last at ${when(previous.lastSeenAt)}` : 'TWILIO_AUTH_TOKEN_PREVIOUS has signed none';
  const detail = `${currentText}; ${previousText}`;
  const newerSigns = current !== undefined && (!previous || current.lastSeenAt > previous.lastSeenAt);
  const quietSince = previous ? now - previous.lastSeenAt.getTime() : Number.POSITIVE_INFINITY;
  if (newerSigns && quietSince >= ROTATION_QUIET_MS) {
    return warning(NAME, 'Safe to remove TWILIO_AUTH_TOKEN_PREVIOUS', detail,
      'Twilio signs with the new token and the old one has signed nothing for a day: remove TWILIO_AUTH_TOKEN_PREVIOUS from .env and restart each process.');
  }
  const safeFrom = previous ? ` and not before ${when(new Date(previous.lastSeenAt.getTime() + ROTATION_QUIET_MS))}` : '';
  return warning(NAME, 'Keep TWILIO_AUTH_TOKEN_PREVIOUS', detail,
    `Keep it until Twilio signs with the new token (promote the secondary token in the console: Account → API keys & tokens)${safeFrom}; until then callbacks signed with either token are accepted.`);
}

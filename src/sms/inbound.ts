// Text messages customers send to the bank's numbers (Twilio's inbound webhook): each is kept
// once in sms_inbound, and the opt-out, opt-in and help keywords Twilio recognises on long codes
// are honoured by the bank too: STOP marks the number opted out (notification SMS then go by
// email or are recorded as not sent, see src/notifications/dispatch.ts), START lifts it, HELP
// is answered with the bank's help text.
import { eq } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Config } from '../config.ts';
import { smsInbound, userProfiles } from '../db/schema.ts';
import { recordConsentOfNumber } from './consent.ts';
import { recordTextedOptIn, recordTextedOptOut } from './phone-status.ts';

/** Where Twilio posts SMS customers send (src/http/twilio-webhooks.ts), under PUBLIC_BASE_URL. */
export const INBOUND_SMS_PATH = '/webhooks/twilio/inbound';

/** Where a number's "A message comes in" webhook points; undefined when PUBLIC_BASE_URL is unset. */
export function inboundSmsUrl(config: Pick<Config, 'publicBaseUrl'>): string | undefined {
  return config.publicBaseUrl === undefined ? undefined : `${config.publicBaseUrl}${INBOUND_SMS_PATH}`;
}

export type InboundKeyword = 'opt_out' | 'opt_in' | 'help';

/** Twilio's default keywords (whole message, trimmed, any case); see Twilio's opt-out documentation. */
const KEYWORDS: Record<string, InboundKeyword> = {
  STOP: 'opt_out', STOPALL: 'opt_out', UNSUBSCRIBE: 'opt_out', CANCEL: 'opt_out', END: 'opt_out', QUIT: 'opt_out', REVOKE: 'opt_out', OPTOUT: 'opt_out',
  START: 'opt_in', YES: 'opt_in', UNSTOP: 'opt_in',
  HELP: 'help', INFO: 'help',
};

/** Twilio's Advanced Opt-Out names what it recognised (custom keywords too) in OptOutType. */
const OPT_OUT_TYPES: Record<string, InboundKeyword> = { STOP: 'opt_out', START: 'opt_in', HELP: 'help' };

/** The bank's answer to HELP, in the customer's language; one GSM-7 segment each. */
export const HELP_TEXT: Record<string, string> = {
  en: 'DominionTrust Bank: account alerts and sign-in codes. Help: 1-800-555-0199. Reply STOP to stop alerts, START to resume. Msg&data rates may apply.',
  es: 'DominionTrust Bank: alertas y codigos de acceso. Ayuda: 1-800-555-0199. Responda STOP para no recibir alertas, START para reanudar.',
};

/** The keyword a message is, if the whole trimmed body is one; Twilio's own reading wins when it sent one. */
export function keywordOf(body: string, optOutType?: string): InboundKeyword | null {
  const fromTwilio = optOutType ? OPT_OUT_TYPES[optOutType.trim().toUpperCase()] : undefined;
  return fromTwilio ?? KEYWORDS[body.trim().toUpperCase()] ?? null;
}

export interface InboundSms {
  /** Twilio's MessageSid (SM...). */
  sid: string;
  from: string;
  to: string;
  body: string;
  /** Twilio's OptOutType parameter, present with Advanced Opt-Out. */
  optOutType?: string;
}

export interface InboundOutcome {
  keyword: InboundKeyword | null;
  /** Already received (Twilio retried the webhook): nothing was changed again. */
  duplicate: boolean;
  /** Text to answer with (TwiML <Message>), or null for no reply. */
  reply: string | null;
}

/**
 * Stores an inbound SMS once and applies its keyword, in one transaction. STOP and START get no
 * reply from us: Twilio answers them itself (its opt-out confirmation), and a second text would
 * be noise. A duplicate gets the same reply, as the first answer may not have reached Twilio.
 */
export async function receiveInboundSms(ctx: Pick<AppContext, 'db' | 'clock' | 'logger'>, sms: InboundSms): Promise<InboundOutcome> {
  const now = ctx.clock.now();
  const keyword = keywordOf(sms.body, sms.optOutType);
  const duplicate = await ctx.db.transaction(async (tx) => {
    const [stored] = await tx.insert(smsInbound)
      .values({ twilioSid: sms.sid, fromNumber: sms.from, toNumber: sms.to, body: sms.body, keyword, receivedAt: now })
      .onConflictDoNothing({ target: smsInbound.twilioSid })
      .returning({ id: smsInbound.id });
    if (!stored) return true;
    if (keyword === 'opt_out') {
      const word = sms.body.trim().toUpperCase();
      const said = KEYWORDS[word] ? word : (sms.optOutType ?? 'STOP').toUpperCase();
      await recordTextedOptOut(tx, sms.from, said, now);
      await recordConsentOfNumber(tx, { phoneNumber: sms.from, action: 'withdrawn', method: 'sms_reply', detail: `replied ${said} to ${sms.to}`, now });
    }
    if (keyword === 'opt_in') {
      await recordTextedOptIn(tx, sms.from, now);
      const said = KEYWORDS[sms.body.trim().toUpperCase()] ? sms.body.trim().toUpperCase() : 'START';
      await recordConsentOfNumber(tx, { phoneNumber: sms.from, action: 'granted', method: 'sms_reply', detail: `replied ${said} to ${sms.to}`, now });
    }
    return false;
  });
  // The body is the customer's own words: it stays in the database, out of the logs.
  ctx.logger.info({ messageSid: sms.sid, to: sms.to, keyword, duplicate }, 'inbound sms received');
  return { keyword, duplicate, reply: keyword === 'help' ? await helpText(ctx, sms.from) : null };
}

/** HELP in the language of the customer with this number (English when none is known). */
async function helpText(ctx: Pick<AppContext, 'db'>, from: string): Promise<string> {
  const [profile] = await ctx.db.select({ language: userProfiles.language }).from(userProfiles).where(eq(userProfiles.phoneNumber, from)).limit(1);
  return HELP_TEXT[profile?.language ?? 'en'] ?? HELP_TEXT.en!;
}

// Suspicious-activity rules. Each raises a security alert (suspicious_activity: what was noticed,
// in a short phrase in the customer's language, and when) through recordEvent, in the transaction
// of what it saw:
// (a) several wrong sign-in codes from devices new to the customer, once per window;
// (b) a sign-in from a country the customer never signed in from (the first one is remembered
//     silently), when a trusted proxy names the country (GEO_COUNTRY_HEADER);
// (c) a large transfer soon after a password change: the usual shape of an account takeover.
import { and, count, eq, gt, ne, sql } from 'drizzle-orm';
import type { AppContext } from '../context.ts';
import type { Queryable } from '../db/connection.ts';
import { bankEvents, loginCountries, loginFailures, userProfiles, users } from '../db/schema.ts';
import { recordEvent } from '../events/events.ts';
import { formatMoney, languageOf, localeFor } from '../notifications/templates/format.ts';

export const SUSPICIOUS_POLICY = {
  /** Wrong codes from new devices within the window that raise rule (a). */
  newDeviceCodeFailures: 3,
  windowMs: 15 * 60_000,
  /** How long after a password change a large transfer raises rule (c). */
  afterPasswordChangeMs: 24 * 60 * 60_000,
} as const;

export type SuspiciousRule = 'failed_codes_new_devices' | 'new_country' | 'large_transfer_after_password_change';

type RuleContext = Pick<AppContext, 'jobs' | 'config' | 'clock'>;

/** The languages the phrases are written in; others get English, as the templates do. */
type PhraseLanguage = 'en' | 'es';
/** What was noticed, as a phrase of the customer's language (staff read the English one in the event). */
type Phrase = (language: PhraseLanguage) => string;

/**
 * Spanish SMS keep to the GSM-7 alphabet (see templates/spanish.ts): a country name such as
 * "México" would otherwise make the whole alert UCS-2 and double its price.
 */
function gsmSpanish(text: string): string {
  return text.replace(/[áíóúÁÍÓÚ]/g, (c) => ({ á: 'a', í: 'i', ó: 'o', ú: 'u', Á: 'A', Í: 'I', Ó: 'O', Ú: 'U' })[c] ?? c);
}

async function languageOfUser(tx: Queryable, userId: string): Promise<PhraseLanguage> {
  const [profile] = await tx.select({ language: userProfiles.language }).from(userProfiles).where(eq(userProfiles.userId, userId));
  return languageOf(profile?.language ?? 'en') === 'es' ? 'es' : 'en';
}

async function raise(
  ctx: RuleContext, tx: Queryable,
  input: { userId: string; type: 'login.suspicious' | 'suspicious.activity'; rule: SuspiciousRule; activity: Phrase; now: Date; details: Record<string, string | number> },
): Promise<void> {
  const language = await languageOfUser(tx, input.userId);
  const activity = language === 'es' ? gsmSpanish(input.activity('es')) : input.activity(language);
  await recordEvent(ctx, tx, {
    userId: input.userId, type: input.type, payload: { rule: input.rule, activity: input.activity('en'), ...input.details },
    notify: [{ type: 'suspicious_activity', values: { activity, time: input.now } }],
  });
}

/**
 * Rule (a), after a wrong login code was recorded: enough wrong codes from new devices within the
 * window raise one alert; more in the same window raise nothing. True when it alerted.
 */
export async function checkFailedCodesFromNewDevices(ctx: RuleContext, tx: Queryable, input: { userId: string; now: Date }): Promise<boolean> {
  const since = new Date(input.now.getTime() - SUSPICIOUS_POLICY.windowMs);
  const [failures] = await tx.select({ n: count() }).from(loginFailures).where(and(
    eq(loginFailures.userId, input.userId), eq(loginFailures.kind, 'code'), eq(loginFailures.newDevice, true), gt(loginFailures.createdAt, since),
  ));
  const n = failures?.n ?? 0;
  if (n < SUSPICIOUS_POLICY.newDeviceCodeFailures) return false;
  const alerted = await tx.select({ id: bankEvents.id }).from(bankEvents).where(and(
    eq(bankEvents.userId, input.userId), eq(bankEvents.type, 'login.suspicious'), gt(bankEvents.createdAt, since),
    sql`${bankEvents.payload}->>'rule' = 'failed_codes_new_devices'`,
  )).limit(1);
  if (alerted.length) return false;
  await raise(ctx, tx, {
    userId: input.userId, type: 'login.suspicious', rule: 'failed_codes_new_devices', now: input.now, details: { failures: n },
    activity: (language) => (language === 'es'
      ? `${n} claves de ingreso incorrectas desde un dispositivo que no usaba antes`
      : `${n} wrong sign-in codes from a device you have not used before`),
  });
  return true;
}

/** ISO 3166-1 alpha-2 as a proxy sends it; XX (unknown) and T1 (Tor) name no country. */
export function countryFromHeader(value: string | string[] | undefined): string | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim().toUpperCase();
  if (!raw || !/^[A-Z]{2}$/.test(raw) || raw === 'XX' || raw === 'T1') return undefined;
  return raw;
}

const regionNames: Record<PhraseLanguage, Intl.DisplayNames> = {
  en: new Intl.DisplayNames(['en'], { type: 'region' }),
  es: new Intl.DisplayNames(['es'], { type: 'region' }),
};

/**
 * Rule (b), at a successful sign-in: remembers the country; a new one alerts unless it is the
 * first country the customer ever signed in from. True when it alerted.
 */
export async function checkLoginCountry(ctx: RuleContext, tx: Queryable, input: { userId: string; country: string | undefined; now: Date }): Promise<boolean> {
  if (!input.country) return false;
  const inserted = await tx.insert(loginCountries).values({ userId: input.userId, country: input.country, firstSeen: input.now })
    .onConflictDoNothing().returning({ country: loginCountries.country });
  if (!inserted.length) return false;
  const [earlier] = await tx.select({ n: count() }).from(loginCountries)
    .where(and(eq(loginCountries.userId, input.userId), ne(loginCountries.country, input.country)));
  if (!earlier?.n) return false;
  const country = input.country;
  const name = (language: PhraseLanguage) => regionNames[language].of(country) ?? country;
  await raise(ctx, tx, {
    userId: input.userId, type: 'login.suspicious', rule: 'new_country', now: input.now, details: { country },
    activity: (language) => (language === 'es' ? `un ingreso desde ${name('es')}` : `a sign-in from ${name('en')}`),
  });
  return true;
}

/**
 * Rule (c), for the money side to call in the transaction of a transfer: a transfer of at least
 * SUSPICIOUS_TRANSFER_MINOR within 24 hours of a password change raises the alert. True when it did.
 */
export async function checkLargeTransferAfterPasswordChange(
  ctx: RuleContext, tx: Queryable, input: { userId: string; amountMinor: number | bigint; currency: string; now: Date },
): Promise<boolean> {
  if (BigInt(input.amountMinor) < BigInt(ctx.config.security.suspiciousTransferMinor)) return false;
  const [user] = await tx.select({ changedAt: users.passwordChangedAt }).from(users).where(eq(users.id, input.userId));
  const changedAt = user?.changedAt;
  if (!changedAt) return false;
  const since = input.now.getTime() - changedAt.getTime();
  if (since < 0 || since > SUSPICIOUS_POLICY.afterPasswordChangeMs) return false;
  const amount = (language: PhraseLanguage) => formatMoney(input.amountMinor, input.currency, localeFor(language));
  await raise(ctx, tx, {
    userId: input.userId, type: 'suspicious.activity', rule: 'large_transfer_after_password_change', now: input.now,
    details: { amountMinor: Number(input.amountMinor), currency: input.currency },
    activity: (language) => (language === 'es'
      ? `una transferencia de ${amount('es')} poco después de un cambio de contraseña`
      : `a transfer of ${amount('en')} soon after a password change`),
  });
  return true;
}

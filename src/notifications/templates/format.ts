// How values appear in a customer's messages: money with its currency in their locale, card and
// account numbers as their last 4 digits only, dates in their time zone. Output stays inside the
// GSM-7 alphabet wherever the locale allows, so formatting never turns an SMS into UCS-2.
import { AppError } from '../../errors.ts';
import type { Money } from '../catalogue.ts';

/** The bank serves the US: a language is shown with US conventions (es-US, not es-ES). */
const LOCALES: Record<string, string> = { en: 'en-US', es: 'es-US' };

/** "es-MX" or "ES" -> "es": templates are kept per language, not per region. */
export function languageOf(tag: string): string {
  return tag.trim().toLowerCase().split(/[-_]/)[0] ?? '';
}

export function localeFor(language: string): string {
  const lang = languageOf(language);
  return LOCALES[lang] ?? lang;
}

// ICU separates some currencies and times with a no-break or narrow no-break space, both outside
// GSM-7: one of them in a Spanish amount would cost a whole UCS-2 SMS (70 characters, not 160).
const NON_GSM_SPACES = /[\u00a0\u202f\u2009]/g;

function gsmSpaces(text: string): string {
  return text.replace(NON_GSM_SPACES, ' ');
}

/** Built once per currency and locale: making an Intl.NumberFormat costs more than the rest of a message's rendering. */
const currencyFormats = new Map<string, Intl.NumberFormat>();

function currencyFormat(currency: string, locale: string): Intl.NumberFormat {
  const key = `${currency.toUpperCase()} ${locale}`;
  const known = currencyFormats.get(key);
  if (known) return known;
  try {
    const format = new Intl.NumberFormat(locale, { style: 'currency', currency: currency.toUpperCase() });
    // Currencies and locales are few (the catalogue's); a bound keeps a stream of odd inputs from growing it.
    if (currencyFormats.size < 1000) currencyFormats.set(key, format);
    return format;
  } catch (error) {
    throw new AppError('validation_failed', `"${currency}" is not an ISO 4217 currency code (e.g. USD, EUR, JPY).`, { cause: error });
  }
}

/** Decimal string of minor units, exact for any size (Intl formats decimal strings without floats). */
function decimalOf(minorUnits: bigint, digits: number): string {
  const negative = minorUnits < 0n;
  const text = (negative ? -minorUnits : minorUnits).toString().padStart(digits + 1, '0');
  const whole = text.slice(0, text.length - digits);
  const fraction = digits ? `.${text.slice(-digits)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}

function toBigInt(minorUnits: bigint | number | string): bigint {
  if (typeof minorUnits === 'number' && !Number.isSafeInteger(minorUnits)) {
    throw new AppError('validation_failed', `Money must be a whole number of minor units (cents), got ${minorUnits}.`);
  }
  try {
    return BigInt(minorUnits);
  } catch (error) {
    throw new AppError('validation_failed', `Money must be a whole number of minor units (cents), got "${String(minorUnits)}".`, { cause: error });
  }
}

/**
 * Money in a locale, with the currency's own minor-unit digits: 123456 USD in en-US is "$1,234.56",
 * 1235 JPY is "¥1,235". Amounts are integer minor units, never floats.
 */
export function formatMoney(minorUnits: bigint | number | string, currency: string, locale: string): string {
  const format = currencyFormat(currency, locale);
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const decimal = decimalOf(toBigInt(minorUnits), digits);
  return gsmSpaces(format.format(decimal as Intl.StringNumericLiteral));
}

export function formatMoneyValue(money: Money, locale: string): string {
  return formatMoney(money.minorUnits, money.currency, locale);
}

/** The last 4 digits of a card, account or phone number; the only part a message may show. */
export function lastFour(number: string | number | bigint): string {
  const digits = String(number).replace(/\D/g, '');
  if (digits.length === 0) throw new AppError('validation_failed', 'A card or account number must contain digits.');
  return digits.slice(-4);
}

const ENDING: Record<string, { card: string; account: string }> = {
  en: { card: 'card ending', account: 'account ending' },
  es: { card: 'tarjeta terminada en', account: 'cuenta terminada en' },
};

/** "card ending 4242" / "tarjeta terminada en 4242". */
export function cardEnding(number: string | number | bigint, language = 'en'): string {
  return `${(ENDING[languageOf(language)] ?? ENDING.en!).card} ${lastFour(number)}`;
}

/** "account ending 4821" / "cuenta terminada en 4821". */
export function accountEnding(number: string | number | bigint, language = 'en'): string {
  return `${(ENDING[languageOf(language)] ?? ENDING.en!).account} ${lastFour(number)}`;
}

export type DateStyle = 'date' | 'datetime' | 'month' | 'day';

const DATE_OPTIONS: Record<DateStyle, Intl.DateTimeFormatOptions> = {
  date: { dateStyle: 'medium' },
  datetime: { dateStyle: 'medium', timeStyle: 'short' },
  month: { month: '2-digit', year: 'numeric' },
  day: { month: 'short', day: 'numeric' },
};

/** An instant as the customer reads it: their locale and their time zone. */
export function formatDate(value: Date | string, style: DateStyle, locale: string, timeZone: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new AppError('validation_failed', `"${String(value)}" is not a date.`);
  return gsmSpaces(new Intl.DateTimeFormat(locale, { ...DATE_OPTIONS[style], timeZone }).format(date));
}

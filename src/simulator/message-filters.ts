// The filters of Twilio's message list: To, From, and DateSent with its "on or before"
// (DateSent<) and "on or after" (DateSent>) variants. Twilio documents YYYY-MM-DD values; the
// SDK sends full ISO date-times (YYYY-MM-DDThh:mm:ssZ), so both are read:
//   DateSent=day         sent that UTC day (a date-time selects its UTC day)
//   DateSent<=day|time   sent on or before the end of that day / that instant
//   DateSent>=day|time   sent on or after the start of that day / that instant
// Messages not yet sent (date_sent null) never match a DateSent filter.
import { param } from './rules.ts';
import type { FormParams } from './rules.ts';
import type { SimulatedMessage } from './store.ts';
import { badRequest } from './twilio-error.ts';

const DAY_MS = 86_400_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

interface SentDate {
  /** Start of the UTC day the value names. */
  dayStart: number;
  /** The instant named, or null for a date without a time. */
  instant: number | null;
}

// No Twilio code documents a bad list filter; 20400 follows Twilio's 20000 + HTTP status
// pattern (20404, 20429, 20500) for a request-level 400.
function readSentDate(name: string, value: string): SentDate {
  const time = Date.parse(DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(time)) {
    throw badRequest(20400, `Invalid ${name} value '${value}': use YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ.`);
  }
  return { dayStart: Math.floor(time / DAY_MS) * DAY_MS, instant: DATE_ONLY.test(value) ? null : time };
}

export interface MessageFilter {
  /** The filters as Twilio echoes them in page URIs. */
  echo: [string, string][];
  matches(message: SimulatedMessage): boolean;
}

export function readMessageFilter(query: FormParams): MessageFilter {
  const echo: [string, string][] = [];
  const tests: ((m: SimulatedMessage) => boolean)[] = [];
  const to = param(query, 'To');
  const from = param(query, 'From');
  if (to) {
    echo.push(['To', to]);
    tests.push((m) => m.to === to);
  }
  if (from) {
    echo.push(['From', from]);
    tests.push((m) => m.from === from);
  }
  for (const name of ['DateSent', 'DateSent<', 'DateSent>'] as const) {
    const value = param(query, name);
    if (!value) continue;
    const date = readSentDate(name, value);
    echo.push([name, value]);
    // Twilio's dates have whole seconds, so compare at that precision, as a client sees them.
    const sentAt = (m: SimulatedMessage): number | null =>
      m.dateSent ? Math.floor(m.dateSent.getTime() / 1000) * 1000 : null;
    if (name === 'DateSent') {
      tests.push((m) => {
        const t = sentAt(m);
        return t !== null && t >= date.dayStart && t < date.dayStart + DAY_MS;
      });
    } else if (name === 'DateSent<') {
      const limit = date.instant ?? date.dayStart + DAY_MS - 1;
      tests.push((m) => {
        const t = sentAt(m);
        return t !== null && t <= limit;
      });
    } else {
      const limit = date.instant ?? date.dayStart;
      tests.push((m) => {
        const t = sentAt(m);
        return t !== null && t >= limit;
      });
    }
  }
  return { echo, matches: (m) => tests.every((test) => test(m)) };
}

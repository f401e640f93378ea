// Quiet hours: a non-urgent message that would arrive in the customer's night waits until their
// quiet hours end; codes and security alerts go at once. Local wall time comes from Intl with the
// customer's IANA zone, so daylight-saving changes and zones far from the server are right.
import { AppError } from '../errors.ts';
import { notificationType, type NotificationTypeId, type NotificationTypeSpec } from './catalogue.ts';

export interface QuietHours {
  /** Minutes after local midnight the quiet hours start, e.g. 1320 for 22:00. */
  startMinute: number;
  /** Minutes after local midnight they end, e.g. 420 for 07:00; start == end: no quiet hours. */
  endMinute: number;
}

export interface WallTime {
  year: number;
  /** 1-12. */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
    } catch (error) {
      throw new AppError('validation_failed', `Unknown time zone "${timeZone}"; use an IANA name such as America/New_York or Asia/Tokyo.`, { cause: error });
    }
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Throws AppError 'validation_failed' unless `timeZone` is an IANA zone this runtime knows. */
export function checkTimeZone(timeZone: string): void {
  formatterFor(timeZone);
}

function partsOf(instant: Date, timeZone: string): WallTime & { second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The wall-clock time at `instant` in `timeZone`. */
export function wallTimeIn(instant: Date, timeZone: string): WallTime {
  const { year, month, day, hour, minute } = partsOf(instant, timeZone);
  return { year, month, day, hour, minute };
}

/** The customer's calendar date at `instant`, as YYYY-MM-DD (the day a digest item belongs to). */
export function localDate(instant: Date, timeZone: string): string {
  const { year, month, day } = wallTimeIn(instant, timeZone);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** Local time minus UTC at `instant`, in ms. */
function offsetMs(instant: Date, timeZone: string): number {
  const p = partsOf(instant, timeZone);
  const seconds = Math.floor(instant.getTime() / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - seconds;
}

const DAY_MS = 86_400_000;

/**
 * The instants that show `wall` in `timeZone`, earliest first: one on most days, two in the hour
 * repeated when clocks go back. When clocks go forward past it, the instant the same time after
 * the jump (02:30 that never was is 03:30), so a wait never ends before the wall time.
 */
export function instantsAt(wall: WallTime, timeZone: string): Date[] {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Offsets a day either side bracket any single change of offset on that day.
  const offsets = new Set([offsetMs(new Date(asUtc - DAY_MS), timeZone), offsetMs(new Date(asUtc), timeZone), offsetMs(new Date(asUtc + DAY_MS), timeZone)]);
  const candidates = [...offsets].map((offset) => asUtc - offset).sort((a, b) => a - b);
  const valid = candidates.filter((t) => {
    const p = wallTimeIn(new Date(t), timeZone);
    return p.year === wall.year && p.month === wall.month && p.day === wall.day && p.hour === wall.hour && p.minute === wall.minute;
  });
  return (valid.length ? valid : [candidates[candidates.length - 1]!]).map((t) => new Date(t));
}

function isQuiet(minute: number, quiet: QuietHours): boolean {
  const { startMinute: start, endMinute: end } = quiet;
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/** Urgent types ignore quiet hours: codes, critical security alerts, fraud signals. */
export function ignoresQuietHours(spec: Pick<NotificationTypeSpec, 'critical' | 'mayWaitForQuietHours'>): boolean {
  return spec.critical || !spec.mayWaitForQuietHours;
}

/**
 * When a message of `type` created at `now` may be sent to a customer in `timeZone`: `now` for
 * urgent types and outside quiet hours, else the end of the current quiet hours in their zone.
 */
export function nextSendTime(
  now: Date,
  timeZone: string,
  quiet: QuietHours,
  type: NotificationTypeId | Pick<NotificationTypeSpec, 'critical' | 'mayWaitForQuietHours'>,
): Date {
  const spec = typeof type === 'string' ? notificationType(type) : type;
  checkTimeZone(timeZone);
  if (ignoresQuietHours(spec)) return now;
  const wall = wallTimeIn(now, timeZone);
  const minute = wall.hour * 60 + wall.minute;
  if (!isQuiet(minute, quiet)) return now;
  // In a window across midnight, before midnight the end is tomorrow; after it, today.
  const endsTomorrow = quiet.startMinute > quiet.endMinute && minute >= quiet.startMinute;
  const day = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + (endsTomorrow ? 1 : 0)));
  const end: WallTime = {
    year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(),
    hour: Math.floor(quiet.endMinute / 60), minute: quiet.endMinute % 60,
  };
  // In a repeated hour the end may show twice; the first one still ahead is the one that counts.
  return instantsAt(end, timeZone).find((t) => t.getTime() > now.getTime()) ?? now;
}

/** "22:00" -> 1320. Throws AppError 'validation_failed' for anything but HH:MM on a 24-hour clock. */
export function parseClockTime(text: string): number {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!match) throw new AppError('validation_failed', `"${text}" is not a time of day; use HH:MM on a 24-hour clock, e.g. 22:00 or 07:00.`);
  return Number(match[1]) * 60 + Number(match[2]);
}

/** 1320 -> "22:00". */
export function formatClockTime(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
}

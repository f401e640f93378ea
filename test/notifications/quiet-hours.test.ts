// Quiet hours in the customer's own zone: non-urgent alerts wait for the morning, urgent ones go at
// once; windows across midnight, windows within a day, and the days clocks change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import {
  formatClockTime, instantsAt, localDate, nextSendTime, parseClockTime, wallTimeIn,
} from '../../src/notifications/quiet-hours.ts';

const NIGHT = { startMinute: 22 * 60, endMinute: 7 * 60 };
const NY = 'America/New_York';
const at = (iso: string) => new Date(iso);

describe('nextSendTime', () => {
  it('sends a non-urgent alert at once outside quiet hours', () => {
    const now = at('2026-11-25T15:00:00Z'); // 10:00 in New York
    assert.equal(nextSendTime(now, NY, NIGHT, 'transaction'), now);
  });

  it('holds a non-urgent alert from late evening to 07:00 the next morning', () => {
    // 23:30 on 24 November in New York (EST, UTC-5) -> 07:00 on the 25th = 12:00Z.
    assert.deepEqual(nextSendTime(at('2026-11-25T04:30:00Z'), NY, NIGHT, 'transaction'), at('2026-11-25T12:00:00Z'));
    // 03:00 after midnight -> 07:00 the same local day.
    assert.deepEqual(nextSendTime(at('2026-11-25T08:00:00Z'), NY, NIGHT, 'card_expiring'), at('2026-11-25T12:00:00Z'));
    // Exactly 22:00 is quiet; exactly 07:00 is not.
    assert.deepEqual(nextSendTime(at('2026-11-26T03:00:00Z'), NY, NIGHT, 'welcome'), at('2026-11-26T12:00:00Z'));
    assert.deepEqual(nextSendTime(at('2026-11-25T12:00:00Z'), NY, NIGHT, 'welcome'), at('2026-11-25T12:00:00Z'));
  });

  it('sends codes, critical alerts and fraud signals at once, even at 3 a.m.', () => {
    const now = at('2026-11-25T08:00:00Z'); // 03:00 in New York
    for (const type of ['two_factor_code', 'suspicious_activity', 'account_lockout', 'new_device_login', 'large_transaction', 'password_changed'] as const) {
      assert.equal(nextSendTime(now, NY, NIGHT, type), now, type);
    }
  });

  it('follows the customer\'s zone, not the server\'s: Asia/Tokyo', () => {
    // 13:30Z is 22:30 in Tokyo (UTC+9, no DST) -> 07:00 next day in Tokyo = 22:00Z.
    assert.deepEqual(nextSendTime(at('2026-11-25T13:30:00Z'), 'Asia/Tokyo', NIGHT, 'transaction'), at('2026-11-25T22:00:00Z'));
    // The same instant is 08:30 in New York: no wait there.
    assert.deepEqual(nextSendTime(at('2026-11-25T13:30:00Z'), NY, NIGHT, 'transaction'), at('2026-11-25T13:30:00Z'));
  });

  it('handles a window that does not cross midnight', () => {
    const afternoon = { startMinute: 13 * 60, endMinute: 15 * 60 + 30 };
    // 14:00 in New York -> 15:30 the same day.
    assert.deepEqual(nextSendTime(at('2026-11-25T19:00:00Z'), NY, afternoon, 'transaction'), at('2026-11-25T20:30:00Z'));
    // 23:00 is outside it.
    const late = at('2026-11-26T04:00:00Z');
    assert.equal(nextSendTime(late, NY, afternoon, 'transaction'), late);
  });

  it('treats start == end as no quiet hours', () => {
    const now = at('2026-11-25T08:00:00Z');
    assert.equal(nextSendTime(now, NY, { startMinute: 0, endMinute: 0 }, 'transaction'), now);
  });

  it('waits until 07:00 EDT when clocks go forward overnight (8 March 2026)', () => {
    // 23:30 EST on 7 March = 04:30Z; morning is 07:00 EDT (UTC-4) = 11:00Z, only 6.5 hours later.
    assert.deepEqual(nextSendTime(at('2026-03-08T04:30:00Z'), NY, NIGHT, 'transaction'), at('2026-03-08T11:00:00Z'));
  });

  it('waits until 07:00 EST when clocks go back overnight (1 November 2026)', () => {
    // 23:00 EDT on 31 October = 03:00Z; morning is 07:00 EST (UTC-5) = 12:00Z, 9 hours later.
    assert.deepEqual(nextSendTime(at('2026-11-01T03:00:00Z'), NY, NIGHT, 'transaction'), at('2026-11-01T12:00:00Z'));
  });

  it('ends a window at a time skipped by the clock change at the same time after the jump', () => {
    // Quiet 01:00-02:30 on 8 March: 02:30 never happens in New York; 01:45 EST (06:45Z) waits to 03:30 EDT (07:30Z).
    const window = { startMinute: 60, endMinute: 150 };
    assert.deepEqual(nextSendTime(at('2026-03-08T06:45:00Z'), NY, window, 'transaction'), at('2026-03-08T07:30:00Z'));
  });

  it('in the hour that happens twice, ends a window at the next time the clock shows its end', () => {
    // Quiet 22:00-01:30 on 1 November: 01:15 EDT (05:15Z) waits to 01:30 EDT (05:30Z); 01:15 EST (06:15Z) to 01:30 EST (06:30Z).
    const window = { startMinute: 22 * 60, endMinute: 90 };
    assert.deepEqual(nextSendTime(at('2026-11-01T05:15:00Z'), NY, window, 'transaction'), at('2026-11-01T05:30:00Z'));
    assert.deepEqual(nextSendTime(at('2026-11-01T06:15:00Z'), NY, window, 'transaction'), at('2026-11-01T06:30:00Z'));
  });

  it('refuses an unknown time zone with an example of a right one', () => {
    assert.throws(() => nextSendTime(new Date(), 'Mars/Olympus', NIGHT, 'transaction'),
      (e: unknown) => e instanceof AppError && e.code === 'validation_failed' && /America\/New_York/.test(e.userMessage));
  });
});

describe('local wall time', () => {
  it('reads and builds wall times in a zone', () => {
    assert.deepEqual(wallTimeIn(at('2026-03-08T07:30:00Z'), NY), { year: 2026, month: 3, day: 8, hour: 3, minute: 30 });
    assert.deepEqual(instantsAt({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, NY), [at('2026-11-01T05:30:00Z'), at('2026-11-01T06:30:00Z')]);
    assert.deepEqual(instantsAt({ year: 2026, month: 7, day: 1, hour: 7, minute: 0 }, 'Asia/Tokyo'), [at('2026-06-30T22:00:00Z')]);
  });

  it('gives the customer\'s calendar date, which is the digest day', () => {
    assert.equal(localDate(at('2026-11-25T03:30:00Z'), NY), '2026-11-24');
    assert.equal(localDate(at('2026-11-25T03:30:00Z'), 'Asia/Tokyo'), '2026-11-25');
  });

  it('parses and prints times of day', () => {
    assert.equal(parseClockTime('22:00'), 1320);
    assert.equal(parseClockTime('7:05'), 425);
    assert.equal(formatClockTime(425), '07:05');
    assert.throws(() => parseClockTime('24:00'), (e: unknown) => e instanceof AppError && /HH:MM/.test(e.userMessage));
  });
});

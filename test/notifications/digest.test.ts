// The daily digest: one summary SMS of the day's held transaction alerts, at most two segments,
// and the held items in the database, collected per customer and day and marked sent once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { buildDigestSms, collectDigest, holdForDigest, markDigestSent, type DigestEntry } from '../../src/notifications/digest.ts';
import { localDate } from '../../src/notifications/quiet-hours.ts';
import { analyseSmsBody } from '../../src/sms/segments.ts';
import { openNotificationsFixture, type NotificationsFixture } from './fixtures.ts';

const usd = (minorUnits: number): DigestEntry => ({ amount: { minorUnits, currency: 'USD' } });
const segments = (body: string) => analyseSmsBody(body, { pricePerSegment: 0 });
const DAY = '2026-11-25';

describe('buildDigestSms', () => {
  it('sums a day of alerts into one GSM-7 segment in English', () => {
    const body = buildDigestSms([usd(-4520), usd(-1200), usd(120000), usd(-999), usd(-33300)], { language: 'en', locale: 'en-US', digestDate: DAY });
    assert.equal(body, 'DominionTrust daily summary Nov 25: 5 transactions, out $400.19, in $1,200.00. Details in the app. Reply STOP to opt out.');
    assert.deepEqual([segments(body).encoding, segments(body).segments], ['GSM-7', 1]);
  });

  it('speaks Spanish without leaving GSM-7', () => {
    const body = buildDigestSms([usd(-4520)], { language: 'es', locale: 'es-US', digestDate: DAY });
    assert.equal(body, 'DominionTrust resumen diario 25 nov: 1 movimiento, salidas $45.20. Detalles en la app. Responda STOP para darse de baja.');
    assert.equal(segments(body).encoding, 'GSM-7');
  });

  it('keeps currencies apart and stays within two segments however many there are', () => {
    const two = buildDigestSms([usd(-1000), { amount: { minorUnits: -2000, currency: 'eur' } }, { amount: { minorUnits: 500, currency: 'JPY' } }],
      { language: 'en', locale: 'en-US', digestDate: DAY });
    assert.match(two, /out \$10\.00 \+ €20\.00, in ¥500\./);
    const currencies = ['USD', 'EUR', 'GBP', 'JPY', 'MXN', 'CAD', 'CHF', 'AUD', 'BRL', 'INR', 'KRW', 'SEK', 'NOK', 'DKK', 'PLN'];
    const many = currencies.flatMap((currency) => [{ amount: { minorUnits: -123456789, currency } }, { amount: { minorUnits: 987654321, currency } }]);
    for (const language of ['en', 'es']) {
      const body = buildDigestSms(many, { language, locale: `${language}-US`, digestDate: DAY });
      assert.ok(segments(body).segments <= 2, body);
      assert.match(body, language === 'en' ? /30 transactions.*\+\d+ more currencies/ : /30 movimientos.*y otras \d+ monedas/);
    }
  });

  it('refuses an empty digest: there is nothing to send', () => {
    assert.throws(() => buildDigestSms([], { language: 'en', locale: 'en-US', digestDate: DAY }));
  });
});

describe('held digest items', () => {
  let f: NotificationsFixture;
  let alice: string;
  let bob: string;
  before(async () => {
    f = await openNotificationsFixture();
    alice = await f.addUser('alice');
    bob = await f.addUser('bob');
  });
  after(() => f.close());

  it('collects a customer\'s unsent items up to the day, exact money, and marks them sent once', async () => {
    const now = f.clock.now();
    const today = localDate(now, 'America/New_York');
    await holdForDigest(f.db, { userId: alice, type: 'transaction', entry: { amount: { minorUnits: 9007199254740993n, currency: 'usd' }, merchant: 'Big Purchase' }, digestDate: '2026-11-24', now });
    await holdForDigest(f.db, { userId: alice, type: 'transfer_received', entry: usd(5000), digestDate: today, now });
    await holdForDigest(f.db, { userId: alice, type: 'transaction', entry: usd(-100), digestDate: '2026-11-26', now });
    await holdForDigest(f.db, { userId: bob, type: 'transaction', entry: usd(-700), digestDate: today, now });

    const held = await collectDigest(f.db, alice, today);
    assert.equal(held.itemIds.length, 2, 'yesterday\'s unsent item is carried over; tomorrow\'s waits');
    assert.deepEqual(held.entries, [
      { amount: { minorUnits: 9007199254740993n, currency: 'USD' }, merchant: 'Big Purchase' },
      { amount: { minorUnits: 5000n, currency: 'USD' } },
    ]);
    assert.equal(await markDigestSent(f.db, held.itemIds, now), 2);
    assert.equal(await markDigestSent(f.db, held.itemIds, now), 0, 'a second mark changes nothing');
    assert.equal((await collectDigest(f.db, alice, today)).itemIds.length, 0);
    assert.equal((await collectDigest(f.db, bob, today)).itemIds.length, 1);
  });

  it('refuses to hold a type that is never digested', async () => {
    await assert.rejects(holdForDigest(f.db, { userId: alice, type: 'large_transaction', entry: usd(-500000), digestDate: DAY, now: f.clock.now() }),
      (e: unknown) => e instanceof AppError && e.code === 'validation_failed' && /never held/.test(e.userMessage));
  });
});

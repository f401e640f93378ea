// The default template set and the rules every template follows: each type in English and Spanish,
// every SMS one GSM-7 segment with its example values, the bank's name first, codes kept for the
// worker and never beside a link; and the checks that refuse a bad edit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/errors.ts';
import { CATALOGUE, notificationType } from '../../src/notifications/catalogue.ts';
import { DEFAULT_LANGUAGES, DEFAULT_TEMPLATES, MULTI_SEGMENT_DEFAULTS, defaultTemplate } from '../../src/notifications/templates/defaults.ts';
import { localeFor } from '../../src/notifications/templates/format.ts';
import { checkTemplate, renderExample, renderTemplate, templateVariableNames } from '../../src/notifications/templates/render.ts';
import { CODE_PLACEHOLDER } from '../../src/sms/outbox.ts';
import { analyseSmsBody } from '../../src/sms/segments.ts';

const NY = { locale: 'en-US', timeZone: 'America/New_York' };
const pricing = { pricePerSegment: 0.0075 };
/**
 * Opt-out-able types whose SMS leaves out "STOP": an operator's test, and texts near 160 characters
 * where the call-to-action of a possible fraud matters more (the opt-out hint is in other alerts).
 */
const NO_STOP_HINT = new Set(['en/test_message', 'es/test_message', 'en/phone_changed', 'es/phone_changed', 'es/large_transaction', 'es/transfer_sent', 'es/two_factor_changed']);

function refusal(pattern: RegExp) {
  return (error: unknown) => error instanceof AppError && error.code === 'validation_failed' && pattern.test(error.userMessage);
}

describe('default templates', () => {
  it('exist for every type in English and Spanish, for exactly the channels the type uses', () => {
    assert.deepEqual([...DEFAULT_LANGUAGES].sort(), ['en', 'es']);
    for (const language of DEFAULT_LANGUAGES) {
      for (const spec of CATALOGUE) {
        assert.equal(Boolean(defaultTemplate(spec.id, language, 'sms')), spec.channels.includes('sms'), `${language} sms ${spec.id}`);
        assert.equal(Boolean(defaultTemplate(spec.id, language, 'email')), spec.channels.includes('email'), `${language} email ${spec.id}`);
      }
    }
  });

  it('pass the checks staff edits must pass', () => {
    for (const [language, set] of Object.entries(DEFAULT_TEMPLATES)) {
      for (const spec of CATALOGUE) {
        const t = set[spec.id];
        const sms = t.sms;
        if (sms !== undefined) assert.doesNotThrow(() => checkTemplate(spec, { channel: 'sms', body: sms }), `${language} ${spec.id}`);
        const email = t.email;
        if (email) assert.doesNotThrow(() => checkTemplate(spec, { channel: 'email', ...email }), `${language} ${spec.id} email`);
      }
    }
  });

  it('render with the example values to one GSM-7 segment, with nothing left unfilled', () => {
    for (const language of DEFAULT_LANGUAGES) {
      for (const spec of CATALOGUE.filter((s) => s.channels.includes('sms'))) {
        const body = renderExample(spec, defaultTemplate(spec.id, language, 'sms')!.body, { locale: localeFor(language), timeZone: 'America/New_York' });
        assert.ok(!body.includes('{') && !body.includes('}'), `${language} ${spec.id}: ${body}`);
        const analysis = analyseSmsBody(body, pricing);
        if (MULTI_SEGMENT_DEFAULTS[`${language}/${spec.id}`]) continue;
        assert.equal(analysis.encoding, 'GSM-7', `${language} ${spec.id} has ${analysis.nonGsmCharacters.join(' ')}: ${body}`);
        assert.equal(analysis.segments, 1, `${language} ${spec.id} (${analysis.characters} characters): ${body}`);
      }
    }
  });

  it('start with the bank name; alerts carry a reply hint; codes say we never ask for them and carry no link', () => {
    for (const language of DEFAULT_LANGUAGES) {
      for (const spec of CATALOGUE.filter((s) => s.channels.includes('sms'))) {
        const sms = defaultTemplate(spec.id, language, 'sms')!.body;
        assert.ok(sms.startsWith('DominionTrust'), `${language} ${spec.id}`);
        if (spec.carriesCode) {
          assert.match(sms, language === 'en' ? /We will never ask you for this code\./ : /Nunca le pediremos esta clave\./);
          assert.doesNotMatch(sms, /https?:|www\.|\.com/);
          assert.equal(sms.split(CODE_PLACEHOLDER).length, 2, `${language} ${spec.id} has {code} once`);
        }
        if (!spec.critical && !NO_STOP_HINT.has(`${language}/${spec.id}`)) {
          assert.match(sms, /STOP/, `${language} ${spec.id} tells how to opt out`);
        }
      }
    }
  });

  it('leave {code} in place for the worker, however the caller fills the rest', () => {
    const spec = notificationType('transfer_confirmation_code');
    const body = renderTemplate(spec, defaultTemplate(spec.id, 'es', 'sms')!.body,
      { minutes: 5, amount: { minorUnits: 250000, currency: 'USD' }, payee: 'Ana Ruiz', code: '999999' }, { locale: 'es-US', timeZone: 'UTC' });
    assert.equal(body, 'DominionTrust: la clave {code} confirma su transferencia de $2,500.00 a Ana Ruiz. Vence en 5 min. Nunca le pediremos esta clave.');
  });
});

describe('rendering', () => {
  it('formats money in the locale and shows only the last 4 digits of a full card number', () => {
    const spec = notificationType('transaction');
    const body = renderTemplate(spec, 'DominionTrust: {amount} at {merchant} on account ending {account_last4}.',
      { amount: { minorUnits: 95000n, currency: 'USD' }, merchant: 'Electro World', account_last4: '4111 1111 1111 4242' }, NY);
    assert.equal(body, 'DominionTrust: $950.00 at Electro World on account ending 4242.');
  });

  it('does not double the full stop after a value that ends with one (Spanish "a.m.")', () => {
    const spec = notificationType('password_changed');
    const body = renderTemplate(spec, defaultTemplate('password_changed', 'es', 'sms')!.body, { time: new Date('2026-11-25T15:04:00Z') }, { locale: 'es-US', timeZone: 'America/New_York' });
    assert.match(body, /el 25 nov 2026, 10:04 a\.m\. ¿No fue usted\?/);
    assert.ok(!body.includes('..'), body);
  });

  it('shows times in the customer\'s zone', () => {
    const spec = notificationType('password_changed');
    const body = renderTemplate(spec, '{time}', { time: new Date('2026-11-25T15:04:00Z') }, { locale: 'en-US', timeZone: 'Asia/Tokyo' });
    assert.equal(body, 'Nov 26, 2026, 12:04 AM');
  });

  it('fails loudly when the caller forgets a value', () => {
    assert.throws(() => renderTemplate(notificationType('welcome'), 'Hi {first_name}', {}, NY), /no value for \{first_name\}/);
  });

  it('lists the variables a template uses', () => {
    assert.deepEqual(templateVariableNames('{a} {b} {a} {code}'), ['a', 'b', 'code']);
  });
});

describe('checkTemplate', () => {
  const transaction = notificationType('transaction');

  it('refuses an unknown variable, naming it and listing the allowed ones', () => {
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'DominionTrust: {amount} at {shop}, {first_name}' }),
      refusal(/\{shop\} is an unknown variable.*allowed: \{amount\}, \{merchant\}, \{account_last4\}, \{balance\}/));
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'DominionTrust: {amount}' + ' {first_name}' }), refusal(/\{first_name\}/));
  });

  it('says a malformed name is not a valid variable name, in plain English ({cardNumber})', () => {
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'DominionTrust: {amount} on card {cardNumber}' }), (error: unknown) => {
      const message = (error as Error).message;
      assert.match(message, /\{cardNumber\} is not a valid variable name for transaction; allowed: \{amount\}/);
      assert.doesNotMatch(message, /is an not/);
      return true;
    });
  });

  it('refuses {code} outside code messages and unbalanced braces', () => {
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'DominionTrust: your code {code}' }), refusal(/\{code\} is an unknown variable/));
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'DominionTrust: {amount' }), refusal(/\{ or \}/));
  });

  it('refuses a code message without its code, with two, or with a link', () => {
    const spec = notificationType('two_factor_code');
    assert.throws(() => checkTemplate(spec, { channel: 'sms', body: 'DominionTrust: sign in now' }), refusal(/exactly once \(it has 0\)/));
    assert.throws(() => checkTemplate(spec, { channel: 'sms', body: 'DominionTrust: {code} {code}' }), refusal(/exactly once \(it has 2\)/));
    assert.throws(() => checkTemplate(spec, { channel: 'sms', body: 'DominionTrust: {code}. Help: https://dominiontrust.example/help' }), refusal(/link/));
    assert.throws(() => checkTemplate(spec, { channel: 'sms', body: 'DominionTrust: {code}. Visit dominiontrust.com' }), refusal(/link/));
  });

  it('refuses an SMS without the bank name first, an email without subject, and a channel the type does not use', () => {
    assert.throws(() => checkTemplate(transaction, { channel: 'sms', body: 'Your bank: {amount}' }), refusal(/start with the bank's name/));
    assert.throws(() => checkTemplate(transaction, { channel: 'email', body: '{amount}', subject: ' ' }), refusal(/subject/));
    assert.throws(() => checkTemplate(notificationType('two_factor_code'), { channel: 'email', body: '{code}', subject: 'Code' }), refusal(/SMS only|sms only/));
  });

  it('checks the subject of an email for variables too', () => {
    assert.throws(() => checkTemplate(transaction, { channel: 'email', body: '{amount}', subject: 'Hi {name}' }), refusal(/\{name\}/));
  });
});

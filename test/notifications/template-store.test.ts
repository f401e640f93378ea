// Staff edits of templates against the real database: checked before saving, versioned, the latest
// one in force, the repository default until then, English when a language has none.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { notificationTemplates } from '../../src/db/schema.ts';
import { AppError } from '../../src/errors.ts';
import { defaultTemplate } from '../../src/notifications/templates/defaults.ts';
import { activeTemplate, listTemplates, saveTemplate } from '../../src/notifications/templates/store.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import { openNotificationsFixture, type NotificationsFixture } from './fixtures.ts';

function refusal(pattern: RegExp) {
  return (error: unknown) => error instanceof AppError && error.code === 'validation_failed' && pattern.test(error.userMessage);
}

describe('notification templates in the database', () => {
  let f: NotificationsFixture;
  let staffId: string;
  before(async () => {
    f = await openNotificationsFixture();
    staffId = await f.addUser('staff.editor');
  });
  after(() => f.close());

  it('serves the repository default until staff save a version', async () => {
    const template = await activeTemplate(f.db, 'transaction', 'es', 'sms');
    assert.equal(template.source, 'default');
    assert.equal(template.version, 0);
    assert.equal(template.language, 'es');
    assert.equal(template.body, defaultTemplate('transaction', 'es', 'sms')!.body);
  });

  it('refuses to save an unknown variable, naming it and the allowed ones, and stores nothing', async () => {
    await assert.rejects(
      saveTemplate(f, { type: 'low_balance', language: 'en', channel: 'sms', body: 'DominionTrust: balance {balance}, limit {limit}' }),
      refusal(/\{limit\} is an unknown variable for low_balance; allowed: \{balance\}, \{account_last4\}, \{threshold\}/),
    );
    assert.equal((await f.db.select().from(notificationTemplates)).length, 0);
  });

  it('saves a one-segment SMS without a warning and reports its cost', async () => {
    const saved = await saveTemplate(f, {
      type: 'card_created', language: 'en', channel: 'sms', updatedBy: staffId,
      body: 'DominionTrust: your card ending {card_last4} is on its way. Reply STOP to opt out.',
    });
    assert.equal(saved.version, 1);
    assert.equal(saved.segments, 1);
    assert.equal(saved.encoding, 'GSM-7');
    assert.equal(saved.estimatedPrice, 0.0075);
    assert.equal(saved.warning, undefined);
    assert.equal(saved.text, 'DominionTrust: your card ending 4242 is on its way. Reply STOP to opt out.');
  });

  it('saves a two-segment SMS but says how many segments and what it costs', async () => {
    const body = `DominionTrust: ${'your new card ending {card_last4} is ready to use. '.repeat(3)}Reply STOP to opt out.`;
    const saved = await saveTemplate(f, { type: 'card_created', language: 'en', channel: 'sms', body });
    assert.equal(saved.segments, 2);
    assert.equal(saved.estimatedPrice, 0.015);
    assert.match(saved.warning ?? '', /needs 2 segments, about \$0\.0150 per message/);
  });

  it('explains a UCS-2 body by the characters that caused it', async () => {
    const saved = await saveTemplate(f, {
      type: 'card_created', language: 'es', channel: 'sms',
      body: 'DominionTrust: su tarjeta terminada en {card_last4} está en camino. Recibirá un código para activarla. Responda STOP para darse de baja.',
    });
    assert.equal(saved.encoding, 'UCS-2');
    assert.equal(saved.segments, 2);
    assert.match(saved.warning ?? '', /UCS-2.*"á".*"ó"/);
  });

  it('numbers versions per type, language and channel, and serves the latest', async () => {
    const first = await saveTemplate(f, { type: 'welcome', language: 'en', channel: 'sms', body: 'DominionTrust: hello {first_name}. Reply STOP to opt out.' });
    const second = await saveTemplate(f, { type: 'welcome', language: 'en', channel: 'sms', body: 'DominionTrust: welcome aboard, {first_name}. Reply STOP to opt out.', updatedBy: staffId });
    const spanish = await saveTemplate(f, { type: 'welcome', language: 'es', channel: 'sms', body: 'DominionTrust: hola {first_name}.' });
    assert.deepEqual([first.version, second.version, spanish.version], [1, 2, 1]);
    const active = await activeTemplate(f.db, 'welcome', 'en-US', 'sms');
    assert.equal(active.source, 'saved');
    assert.equal(active.version, 2);
    assert.equal(active.updatedBy, staffId);
    assert.match(active.body, /welcome aboard/);
    assert.deepEqual(active.savedAt, f.clock.now());
    // Another channel of the same type is untouched.
    assert.equal((await activeTemplate(f.db, 'welcome', 'en', 'email')).source, 'default');
  });

  it('falls back to English, saved or default, for a language without a template', async () => {
    const french = await activeTemplate(f.db, 'welcome', 'fr-CA', 'sms');
    assert.equal(french.language, 'en');
    assert.equal(french.requestedLanguage, 'fr');
    assert.equal(french.version, 2, 'the English staff edit, not the English default');
    const frenchDefault = await activeTemplate(f.db, 'kyc_status', 'fr', 'sms');
    assert.equal(frenchDefault.source, 'default');
    assert.equal(frenchDefault.body, defaultTemplate('kyc_status', 'en', 'sms')!.body);
  });

  it('saves an email with its subject and checks the subject\'s variables', async () => {
    const saved = await saveTemplate(f, {
      type: 'transfer_received', language: 'es', channel: 'email', subject: 'Recibió {amount}', body: 'Recibió {amount} de {payer}.',
    });
    assert.equal(saved.segments, null);
    assert.equal(saved.text, 'Recibió $1,250.00\n\nRecibió $1,250.00 de Acme Corp.');
    const active = await activeTemplate(f.db, 'transfer_received', 'es', 'email');
    assert.equal(active.subject, 'Recibió {amount}');
    await assert.rejects(saveTemplate(f, { type: 'transfer_received', language: 'es', channel: 'email', subject: '{iban}', body: '{amount}' }), refusal(/\{iban\}/));
  });

  it('has no email template for codes, and refuses to save one', async () => {
    await assert.rejects(activeTemplate(f.db, 'two_factor_code', 'en', 'email'), (e: unknown) => e instanceof AppError && e.code === 'not_found' && /sms only/.test(e.userMessage));
    await assert.rejects(saveTemplate(f, { type: 'two_factor_code', language: 'en', channel: 'email', subject: 'Code', body: '{code}' }), refusal(/sms only/));
  });

  it('refuses a bad language code and an unknown type', async () => {
    await assert.rejects(saveTemplate(f, { type: 'welcome', language: 'english!', channel: 'sms', body: 'DominionTrust: hi' }), refusal(/language code/));
    await assert.rejects(saveTemplate(f, { type: 'promo', language: 'en', channel: 'sms', body: 'DominionTrust: hi' }), refusal(/Unknown notification type "promo"/));
  });

  it('tells two staff saving the same version at once to reload', async () => {
    const input = { type: 'card_blocked', language: 'en', channel: 'sms' as const, body: 'DominionTrust: card ending {card_last4} blocked.' };
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => saveTemplate(f, input)));
    const saved = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.version);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.ok(saved.length >= 1);
    assert.equal(new Set(saved).size, saved.length, 'no version number given twice');
    for (const r of refused) assert.ok(r.reason instanceof AppError && r.reason.code === 'conflict', String(r.reason));
  });

  it('lists the template in force for every type, language and channel', async () => {
    const all = await listTemplates(f.db);
    const perLanguage = CATALOGUE.reduce((n, spec) => n + spec.channels.length, 0);
    assert.equal(all.length, perLanguage * 2, 'en and es');
    const welcome = all.find((t) => t.type === 'welcome' && t.language === 'en' && t.channel === 'sms');
    assert.equal(welcome?.version, 2);
    const spanishSms = await listTemplates(f.db, { language: 'es', channel: 'sms' });
    assert.equal(spanishSms.length, CATALOGUE.filter((s) => s.channels.includes('sms')).length);
    assert.ok(spanishSms.every((t) => t.language === 'es' && t.channel === 'sms'));
    const french = await listTemplates(f.db, { type: 'welcome', language: 'fr' });
    assert.deepEqual(french.map((t) => [t.language, t.requestedLanguage, t.channel, t.version]), [['en', 'fr', 'sms', 2], ['en', 'fr', 'email', 0]]);
  });
});

// `dominion notifications types|templates`, run through commander as the real CLI will run it,
// with the database reached through the readTemplates function the entry point passes in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Command } from 'commander';
import { notificationsCommand, type ReadTemplates } from '../../src/cli/notifications.ts';
import { CATALOGUE } from '../../src/notifications/catalogue.ts';
import { saveTemplate, templatesInForce } from '../../src/notifications/templates/store.ts';
import { createTestContext, type TestContext } from '../helpers/context.ts';

describe('dominion notifications', () => {
  let t: TestContext;
  let opened = 0;
  before(async () => {
    t = await createTestContext();
  });
  after(() => t.close());

  const readTemplates: ReadTemplates = async (filter) => {
    opened++;
    return templatesInForce(t.ctx, filter);
  };

  async function run(...args: string[]): Promise<string> {
    const program = new Command('dominion').exitOverride();
    notificationsCommand(program, readTemplates);
    const lines: string[] = [];
    const original = console.log;
    console.log = (...parts: unknown[]) => void lines.push(parts.map(String).join(' '));
    try {
      await program.parseAsync(['notifications', ...args], { from: 'user' });
    } finally {
      console.log = original;
    }
    return lines.join('\n');
  }

  it('types: a table of every type without opening the database', async () => {
    const before = opened;
    const out = await run('types');
    assert.equal(opened, before);
    assert.match(out, /^TYPE\s+CATEGORY\s+CRITICAL\s+DEFAULT CHANNELS\s+QUIET HOURS\s+DIGEST\s+LANE/);
    for (const spec of CATALOGUE) assert.match(out, new RegExp(`^${spec.id}\\s`, 'm'));
    assert.match(out, /^two_factor_code\s+security\s+yes\s+sms \(sms always\)\s+sends at once\s+no\s+sms\.critical$/m);
    assert.match(out, /^transaction\s+transaction\s+no\s+sms\s+waits\s+yes\s+sms\.standard$/m);
  });

  it('types --json: the catalogue with variables', async () => {
    const parsed = JSON.parse(await run('types', '--json')) as { ok: boolean; types: { id: string; variables: { name: string }[] }[] };
    assert.equal(parsed.ok, true);
    assert.equal(parsed.types.length, CATALOGUE.length);
    assert.deepEqual(parsed.types.find((s) => s.id === 'transfer_confirmation_code')?.variables.map((v) => v.name), ['code', 'minutes', 'amount', 'payee']);
  });

  it('templates: segments and estimated cost of each template in force, staff edits included', async () => {
    await saveTemplate(t.ctx, {
      type: 'welcome', language: 'es', channel: 'sms',
      body: `DominionTrust: ${'le damos la bienvenida, {first_name}. '.repeat(4)}Responda STOP para darse de baja.`,
    });
    const out = await run('templates', '--language', 'es', '--channel', 'sms');
    assert.match(out, /^TYPE\s+LANGUAGE\s+CHANNEL\s+VERSION\s+SEGMENTS\s+EST\. COST/);
    assert.match(out, /^two_factor_code\s+es\s+sms\s+default\s+1 \(GSM-7\)\s+\$0\.0075$/m);
    assert.match(out, /^welcome\s+es\s+sms\s+v1\s+2 \(GSM-7\)\s+\$0\.0150$/m);
    assert.match(out, new RegExp(`${CATALOGUE.filter((s) => s.channels.includes('sms')).length} templates; .*1 SMS need more than one segment`));
  });

  it('templates --type --json --text: one type, English fallback shown for a language without templates', async () => {
    const parsed = JSON.parse(await run('templates', '--type', 'kyc_status', '--language', 'fr', '--json')) as {
      templates: { language: string; requestedLanguage: string; channel: string; preview: { sms: { segments: number } | null } }[];
    };
    assert.deepEqual(parsed.templates.map((x) => [x.requestedLanguage, x.language, x.channel]), [['fr', 'en', 'sms'], ['fr', 'en', 'email']]);
    assert.equal(parsed.templates[0]?.preview.sms?.segments, 1);
    const text = await run('templates', '--type', 'low_balance', '--language', 'en', '--channel', 'sms', '--text');
    assert.match(text, /^low_balance\s+en\s+sms/m);
    assert.match(text, /DominionTrust: account ending 4821 is at \$1,234\.56, below your \$100\.00 alert\./);
  });

  it('refuses an unknown type and channel', async () => {
    await assert.rejects(run('templates', '--type', 'promo'), /Unknown notification type "promo"/);
    await assert.rejects(run('templates', '--channel', 'fax'), /fax/);
  });
});

// `dominion notifications types` and `dominion notifications templates`: the catalogue of
// notification types, and the templates in force with what each SMS costs. The caller passes the
// way to reach the database, so the command works with the server running or not.
import { Option, type Command } from 'commander';
import type { TemplateFilter, TemplateInForce } from '../notifications/templates/store.ts';
import { CATALOGUE, type Channel, type NotificationTypeSpec } from '../notifications/catalogue.ts';

/** The templates in force, read on this deployment's database (through the running server, or here). */
export type ReadTemplates = (filter: TemplateFilter) => Promise<TemplateInForce[]>;

/** Left-aligned columns separated by two spaces, with a header rule. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function channelsOf(spec: NotificationTypeSpec): string {
  const on = (['sms', 'email'] as const).filter((c) => spec.defaultChannels[c]);
  const floor = spec.floor === 'sms' ? ' (sms always)' : spec.floor === 'one_channel' ? ' (one always)' : '';
  return `${on.join('+')}${floor}`;
}

export function catalogueTable(): string {
  const rows = CATALOGUE.map((spec) => [
    spec.id,
    spec.category,
    spec.critical ? 'yes' : 'no',
    channelsOf(spec),
    spec.mayWaitForQuietHours ? 'waits' : 'sends at once',
    spec.digestible ? 'yes' : 'no',
    spec.lane,
  ]);
  return formatTable(['TYPE', 'CATEGORY', 'CRITICAL', 'DEFAULT CHANNELS', 'QUIET HOURS', 'DIGEST', 'LANE'], rows);
}

interface TemplateFlags {
  type?: string;
  language?: string;
  channel?: Channel;
  text?: boolean;
  json?: boolean;
}

export function notificationsCommand(program: Command, readTemplates: ReadTemplates): void {
  const notifications = program.command('notifications').description('notification types and their templates');

  notifications
    .command('types')
    .description('list every notification type: category, criticality, default channels, quiet hours, digest, lane')
    .option('--json', 'print the catalogue as JSON (with each type\'s template variables)')
    .action((flags: { json?: boolean }) => {
      console.log(flags.json ? JSON.stringify({ ok: true, types: CATALOGUE }, null, 2) : catalogueTable());
    });

  notifications
    .command('templates')
    .description('list the templates in force (staff edits, else the repository defaults) with SMS segments and estimated cost')
    .option('--type <type>', 'only this notification type (see `notifications types`)')
    .option('--language <code>', 'only this language, e.g. en or es (a language without its own template shows the English one it gets)')
    .addOption(new Option('--channel <channel>', 'only this channel').choices(['sms', 'email']))
    .option('--text', 'print each template filled with example values')
    .option('--json', 'print as JSON')
    .action(async (flags: TemplateFlags) => {
      const templates = await readTemplates({ type: flags.type, language: flags.language, channel: flags.channel });
      if (flags.json) {
        console.log(JSON.stringify({ ok: true, templates }, null, 2));
        return;
      }
      const rows = templates.map((t) => {
        const sms = t.preview.sms;
        return [
          t.type,
          t.language === t.requestedLanguage ? t.language : `${t.requestedLanguage}->${t.language}`,
          t.channel,
          t.source === 'default' ? 'default' : `v${t.version}`,
          sms ? `${sms.segments} (${sms.encoding})` : '-',
          sms ? `$${sms.estimatedPrice.toFixed(4)}` : '-',
        ];
      });
      console.log(formatTable(['TYPE', 'LANGUAGE', 'CHANNEL', 'VERSION', 'SEGMENTS', 'EST. COST'], rows));
      if (flags.text) {
        for (const t of templates) console.log(`\n${t.type} [${t.language}, ${t.channel}]\n${t.preview.text}`);
      }
      const multi = templates.filter((t) => (t.preview.sms?.segments ?? 0) > 1).length;
      console.log(`\n${templates.length} templates; estimates use each type's example values${multi ? `; ${multi} SMS need more than one segment` : ''}.`);
    });
}

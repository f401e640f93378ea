// The message log (every SMS and email, filtered, in keyset pages), each message's timeline, and
// the audit log of staff changes.
/* global URLSearchParams */
import { api, badge, csvButton, h, navigate, page, queryOf, table, usd, when } from './core.js';

const LANES = ['sms.critical', 'sms.standard', 'sms.bulk', 'email'];
const STATUSES = ['pending', 'queued', 'sending', 'retrying', 'sent', 'delivered', 'undelivered', 'failed', 'expired', 'canceled', 'skipped', 'held'];

/** A filter form whose fields become the page's query string. */
function filterForm(base, fields, query) {
  const inputs = fields.map((f) => {
    const id = `filter-${f.name}`;
    const control = f.options
      ? h('select', { id, name: f.name }, h('option', { value: '' }, 'all'), f.options.map((o) => h('option', { value: o, selected: query[f.name] === o }, o)))
      : h('input', { id, name: f.name, type: f.type ?? 'text', value: query[f.name] ?? '', placeholder: f.placeholder, inputmode: f.inputmode });
    return h('label', { for: id }, f.label, control);
  });
  return h('form', { class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const f of fields) { const v = event.target.elements[f.name].value.trim(); if (v) next.set(f.name, v); }
    navigate(`${base}${next.size ? `?${next}` : ''}`);
  } }, inputs, h('button', { type: 'submit' }, 'Filter'));
}

function apiQuery(query, names) {
  const params = new URLSearchParams();
  for (const name of names) if (query[name]) params.set(name, query[name]);
  return params;
}

export async function messages() {
  const query = queryOf();
  const params = apiQuery(query, ['customer', 'type', 'status', 'lane', 'errorCode', 'before']);
  if (query.from) params.set('from', query.from);
  if (query.to) params.set('to', new Date(new Date(query.to).getTime() + 86_400_000).toISOString().slice(0, 10));
  params.set('limit', '50');
  const result = await api('GET', `/api/staff/messages?${params}`);
  const rows = result.messages.map((m) => h('tr', { 'data-message': m.id },
    h('td', {}, h('a', { href: `/admin/messages/${m.id}/` }, when(m.createdAt))), h('td', {}, m.channel), h('td', {}, m.lane), h('td', {}, m.type),
    h('td', {}, m.customer ?? '–'), h('td', {}, m.destination ?? '–'), h('td', {}, badge(m.status)),
    h('td', {}, m.errorCode ?? ''), h('td', { class: 'muted' }, m.detail ?? ''), h('td', { class: 'num' }, usd(m.estimatedCostUsd))));
  const csv = apiQuery(query, ['customer', 'type', 'status', 'lane', 'errorCode', 'from', 'to']);
  const next = result.nextCursor ? h('a', { id: 'next-page', href: `/admin/messages/?${new URLSearchParams({ ...query, before: result.nextCursor })}` }, 'Older messages →') : null;
  const { before: _omit, ...first } = query;
  page('messages', h('h1', {}, 'Message log'),
    filterForm('/admin/messages/', [
      { name: 'customer', label: 'Customer', placeholder: 'username' }, { name: 'type', label: 'Type', placeholder: 'e.g. two_factor_code' },
      { name: 'status', label: 'Status', options: STATUSES }, { name: 'lane', label: 'Lane', options: LANES },
      { name: 'from', label: 'From', type: 'date' }, { name: 'to', label: 'To', type: 'date' },
      { name: 'errorCode', label: 'Twilio error', placeholder: 'e.g. 30003', inputmode: 'numeric' },
    ], query),
    h('section', { class: 'card' },
      h('div', { class: 'actions' }, csvButton({ id: 'messages-csv' }, `/api/staff/messages.csv?${csv}`, 'dominion-messages.csv')),
      result.messages.length
        ? table({ id: 'message-list' }, ['Created', 'Channel', 'Lane', 'Type', 'Customer', 'To', 'Status', 'Error', 'Detail', 'Est. cost'], rows, [9])
        : h('p', { class: 'muted' }, 'No message matches.'),
      h('p', {}, query.before ? h('a', { href: `/admin/messages/${Object.keys(first).length ? `?${new URLSearchParams(first)}` : ''}` }, '← Newest') : null, ' ', next)));
}

/** What reported a status, as the timeline's badge says it. */
const SOURCE_NAMES = { callback: 'status callback', status_check: 'status check', send_answer: 'send answer', lost_send_recovery: 'lost-send recovery' };

export async function timeline(id) {
  const t = await api('GET', `/api/staff/messages/${encodeURIComponent(id)}`);
  const m = t.message;
  const facts = [
    ['Type', m.type], ['Channel', m.channel], ['Lane', m.lane], ['Customer', m.customer ?? '–'], ['To', m.destination ?? 'the email address on file'],
    ['Status', m.status], ['Twilio SID', m.twilioSid ?? '–'], ['Attempts', m.attempts],
    ['Segments', m.segments ?? '–'], ['Estimated cost', usd(m.estimatedCostUsd)],
  ];
  page('messages',
    h('p', {}, h('a', { href: '/admin/messages/' }, '← Message log')),
    h('h1', {}, `Message ${m.type} · ${m.status}`),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Message'), h('dl', { class: 'settings' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
        m.body ? [h('h3', {}, 'Text as logged (codes masked)'), h('div', { class: 'preview', id: 'message-body' }, m.body)] : null),
      h('section', { class: 'card' }, h('h2', {}, 'Timeline'),
        h('ol', { class: 'timeline', id: 'timeline' }, t.steps.map((s) => h('li', { class: s.kind, 'data-kind': s.kind, 'data-source': s.source ?? undefined },
          h('time', { datetime: s.at }, when(s.at)), h('div', { class: 'step' }, h('strong', {}, s.title),
            s.source ? [' ', badge(SOURCE_NAMES[s.source] ?? s.source, `source ${s.source}`)] : null,
            s.detail ? h('div', { class: 'muted' }, s.detail) : null)))),
        t.error ? h('div', { class: 'warning', id: 'message-error' }, h('strong', {}, `Error ${t.error.code}: ${t.error.title}`), h('p', {}, t.error.fix)) : null)));
}

export async function audit() {
  const query = queryOf();
  const params = apiQuery(query, ['user', 'action', 'beforeAt', 'beforeId']);
  if (query.from) params.set('from', query.from);
  if (query.to) params.set('to', new Date(new Date(query.to).getTime() + 86_400_000).toISOString().slice(0, 10));
  const result = await api('GET', `/api/staff/audit?${params}`);
  const facts = (value) => (value ? Object.entries(value).map(([k, v]) => `${k}: ${v ?? '–'}`).join('; ') : '–');
  const rows = result.entries.map((e) => h('tr', { 'data-action': e.action },
    h('td', {}, when(e.at)), h('td', {}, e.actor, h('div', { class: 'muted' }, e.actorKind)), h('td', {}, e.action), h('td', {}, e.subject),
    h('td', { class: 'muted' }, facts(e.before)), h('td', {}, facts(e.after))));
  const last = result.entries[result.entries.length - 1];
  const next = result.more && last ? h('a', { id: 'next-page', href: `/admin/audit/?${new URLSearchParams({ ...query, beforeAt: last.at, beforeId: last.id })}` }, 'Older entries →') : null;
  page('audit', h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every change made by staff, and every phone-number change, written with the change itself. Entries cannot be edited or deleted.'),
    filterForm('/admin/audit/', [
      { name: 'user', label: 'Staff member or customer', placeholder: 'username' },
      { name: 'action', label: 'Action', options: ['phone.changed', 'template.saved', 'kyc.reviewed', 'deposit.made', 'unreachable.cleared', 'test_sms.sent'] },
      { name: 'from', label: 'From', type: 'date' }, { name: 'to', label: 'To', type: 'date' },
    ], query),
    h('section', { class: 'card' }, result.entries.length ? table({ id: 'audit-list' }, ['When', 'Who', 'Action', 'What', 'Before', 'After'], rows) : h('p', { class: 'muted' }, 'No entry matches.'), h('p', {}, next)));
}

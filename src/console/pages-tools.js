// Analytics over a chosen date range (charts by Chart.js, every table downloadable as CSV) and
// the Setup page: the checks of `test_twilio_sms --check-setup` with their fixes, the account
// balance, the sender numbers, the webhook URLs to paste into Twilio, and a test SMS form.
/* global URLSearchParams */
import { api, csvButton, h, navigate, page, pct, queryOf, table, usd } from './core.js';
import { chart } from './pages-sms.js';

const TITLES = {
  days: 'Per day', types: 'Per notification type', errors: 'Failures by Twilio error code', months: 'Per month against the spend cap',
  recipients: 'Top recipients', optouts: 'Opt-outs (STOP) and opt-ins (START)', codes: 'Codes sent and codes used',
};

function cell(column, value) {
  if (value === null || value === undefined) return '–';
  if (column.endsWith('_usd')) return usd(value, column.includes('cap') ? 2 : 4);
  if (column === 'delivery_rate' || column === 'conversion') return pct(value);
  return String(value);
}

export async function analytics() {
  const query = queryOf();
  const params = new URLSearchParams({ ...(query.from && { from: query.from }), ...(query.to && { to: query.to }) });
  const a = await api('GET', `/api/staff/analytics?${params}`);
  const from = h('input', { id: 'range-from', type: 'date', value: a.from });
  const to = h('input', { id: 'range-to', type: 'date', value: a.to });
  const range = h('form', { class: 'filters', onsubmit: (event) => {
    event.preventDefault();
    navigate(`/admin/analytics/?${new URLSearchParams({ from: from.value, to: to.value })}`);
  } }, h('label', { for: 'range-from' }, 'From', from), h('label', { for: 'range-to' }, 'To', to), h('button', { type: 'submit' }, 'Show'));
  const days = a.tables.days.rows;
  const types = a.tables.types.rows;
  const charts = h('div', { class: 'two' },
    h('section', { class: 'card', id: 'analytics-daily' }, h('h2', {}, 'SMS and estimated cost per day'),
      chart('analytics-daily-canvas', `SMS per day from ${a.from} to ${a.to}`, {
        type: 'bar',
        data: { labels: days.map((r) => r[0].slice(5)), datasets: [
          { label: 'messages', data: days.map((r) => r[1]), backgroundColor: '#3b6fd8', yAxisID: 'y' },
          { label: 'estimated cost (USD)', data: days.map((r) => r[7]), type: 'line', borderColor: '#b86e00', backgroundColor: '#b86e00', yAxisID: 'cost' },
        ] },
        options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, cost: { beginAtZero: true, position: 'right', grid: { drawOnChartArea: false } } } },
      })),
    h('section', { class: 'card', id: 'analytics-types' }, h('h2', {}, 'SMS per type'),
      chart('analytics-types-canvas', 'SMS per notification type', {
        type: 'bar',
        data: { labels: types.map((r) => r[0]), datasets: [{ label: 'messages', data: types.map((r) => r[1]), backgroundColor: '#2e7d4f' }] },
        options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
      })));
  const cards = h('div', { class: 'grid' },
    h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Messages'), h('div', { class: 'value' }, a.totals.messages)),
    h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Delivery rate'), h('div', { class: 'value' }, pct(a.totals.deliveryRate))),
    h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Segments'), h('div', { class: 'value' }, a.totals.segments)),
    h('div', { class: 'stat' }, h('div', { class: 'label' }, 'Estimated cost'), h('div', { class: 'value' }, usd(a.totals.estimatedCostUsd, 2)),
      h('div', { class: 'muted' }, a.dailySpendCapUsd ? `daily cap ${usd(a.dailySpendCapUsd, 2)}` : 'no daily cap')));
  const tables = Object.entries(a.tables).map(([name, t]) => h('section', { class: 'card', id: `table-${name}` },
    h('div', { class: 'card-head' }, h('h2', {}, TITLES[name] ?? name),
      csvButton({ 'data-csv': name }, `/api/staff/analytics/${name}.csv?${new URLSearchParams({ from: a.from, to: a.to })}`, `dominion-${name}-${a.from}-${a.to}.csv`)),
    t.rows.length
      ? table({}, t.columns.map((c) => c.replaceAll('_', ' ')), t.rows.map((r) => h('tr', {}, r.map((v, i) => h('td', { class: typeof v === 'number' ? 'num' : undefined }, cell(t.columns[i], v))))))
      : h('p', { class: 'muted' }, 'Nothing in this range.')));
  page('analytics', h('h1', {}, 'Analytics'), range, cards, charts, ...tables);
}

export async function setup() {
  const { report, webhooks } = await api('GET', '/api/staff/setup');
  const checks = report.checks.map((c) => h('li', { class: c.ok ? (c.level === 'warn' ? 'warn' : 'pass') : 'fail', 'data-check': c.name },
    h('strong', {}, `${c.ok ? (c.level === 'warn' ? '⚠' : '✓') : '✗'} ${c.title}`), h('div', {}, c.detail), c.fix ? h('div', { class: 'muted' }, `Fix: ${c.fix}`) : null));
  const numbers = report.phoneNumbers ?? [];
  const phone = h('input', { id: 'test-phone', inputmode: 'tel', autocomplete: 'off', 'aria-describedby': 'test-result' });
  const outcome = h('p', { id: 'test-result', role: 'status' });
  const form = h('form', { id: 'test-sms-form', onsubmit: async (event) => {
    event.preventDefault();
    outcome.className = '';
    outcome.textContent = 'Sending…';
    try {
      const sent = await api('POST', '/api/staff/setup/test-sms', { phoneNumber: phone.value });
      outcome.className = 'ok';
      outcome.replaceChildren(`Test SMS queued to ${sent.destination}. `, h('a', { href: `/admin/messages/${sent.messageId}/`, id: 'test-message-link' }, 'Follow it in the message log'));
    } catch (error) {
      outcome.className = 'error';
      outcome.textContent = error.message;
    }
  } }, h('label', { for: 'test-phone' }, 'Send the test SMS to'), phone, h('button', { type: 'submit', id: 'test-submit' }, 'Send test SMS'), outcome);
  page('setup', h('h1', {}, 'Twilio setup'),
    h('p', { class: report.ok ? 'ok' : 'error', id: 'setup-summary' }, report.ok ? `Every check passed (${report.mode} mode).` : `Some checks failed (${report.mode} mode): each says how to fix it.`),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Checks (test_twilio_sms --check-setup)'), h('ul', { class: 'checks', id: 'setup-checks' }, checks)),
      h('section', { class: 'card' }, h('h2', {}, 'Account'),
        report.account ? h('dl', { class: 'settings', id: 'setup-account' }, [
          [h('dt', {}, 'Name'), h('dd', {}, report.account.friendlyName)], [h('dt', {}, 'Account SID'), h('dd', {}, report.account.sid)],
          [h('dt', {}, 'Status'), h('dd', {}, `${report.account.status} (${report.account.type})`)],
          [h('dt', {}, 'Balance'), h('dd', {}, report.account.balance === null ? 'not available' : `${report.account.balance} ${report.account.currency ?? ''}`)],
        ]) : h('p', { class: 'muted' }, 'Not available.'),
        h('h3', {}, 'Webhook URLs to paste into Twilio'),
        h('dl', { class: 'settings', id: 'setup-webhooks' }, [
          [h('dt', {}, 'Status callback'), h('dd', {}, webhooks.statusCallback ?? 'not set')], [h('dt', {}, 'A message comes in (POST)'), h('dd', {}, webhooks.inbound ?? 'not set')],
        ]), h('p', { class: 'muted' }, webhooks.note),
        h('h3', {}, 'Send a test SMS'), form)),
    h('section', { class: 'card' }, h('h2', {}, 'Sender numbers'), numbers.length
      ? table({ id: 'setup-numbers' }, ['Number', 'Name', 'SMS', 'MMS', 'Voice', 'Configured'], numbers.map((n) => h('tr', {},
        h('td', {}, n.phoneNumber), h('td', {}, n.friendlyName ?? ''), h('td', {}, n.sms ? 'yes' : 'no'), h('td', {}, n.mms ? 'yes' : 'no'),
        h('td', {}, n.voice ? 'yes' : 'no'), h('td', {}, n.isSender ? 'yes: TWILIO_PHONE_NUMBER' : '')))) : h('p', { class: 'muted' }, 'No numbers listed.')));
}

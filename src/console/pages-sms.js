// The Overview (charts drawn by Chart.js, served from the app), Templates (grouped by type,
// filtered by language and channel; the editor shows the draft beside the version in force),
// Held & skipped and Settings pages.
/* global window, setTimeout, clearTimeout, URLSearchParams */
import { api, badge, h, navigate, page, pct, queryOf, table, usd, when } from './core.js';

const COLOURS = { delivered: '#2e7d4f', inFlight: '#3b6fd8', undelivered: '#b86e00', failed: '#c0392b', expired: '#6b7785', rate: '#0b4f8a' };
const SERIES = [
  { key: 'delivered', label: 'delivered' }, { key: 'inFlight', label: 'in flight' }, { key: 'undelivered', label: 'undelivered' },
  { key: 'failed', label: 'failed' }, { key: 'expired', label: 'expired' },
];

/** A Chart.js chart in a canvas with a text alternative; no animation, so what is drawn is final. */
export function chart(id, label, config) {
  const canvas = h('canvas', { id, role: 'img', 'aria-label': label });
  const box = h('div', { class: 'chart-box' }, canvas);
  // Drawn once the canvas is in the page, so Chart.js can measure it.
  window.requestAnimationFrame(() => {
    if (!window.Chart || !canvas.isConnected) return;
    new window.Chart(canvas, { ...config, options: { animation: false, responsive: true, maintainAspectRatio: false, ...config.options } });
  });
  return box;
}

function stat(label, value, extra) {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), extra);
}

function meter(fraction) {
  const bar = h('div', { class: fraction > 0.8 ? 'high' : undefined });
  bar.style.width = `${Math.min(100, Math.max(0, (fraction ?? 0) * 100)).toFixed(1)}%`;
  return h('div', { class: 'meter', role: 'meter', 'aria-valuenow': ((fraction ?? 0) * 100).toFixed(1), 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-label': 'share of the daily spend cap' }, bar);
}

export async function overview(days = 14) {
  const stats = await api('GET', `/api/staff/sms/stats?days=${days}`);
  const { spend, totals } = stats;
  const today = stats.days[stats.days.length - 1];
  const cards = h('div', { class: 'grid' },
    stat(`Messages, last ${stats.days.length} days`, String(totals.queued), h('div', { class: 'muted' }, `${totals.sent} accepted by Twilio, ${totals.segments} segments`)),
    stat('Delivery rate', pct(totals.deliveryRate), h('div', { class: 'muted' }, `${totals.delivered} delivered, ${totals.undelivered} undelivered, ${totals.failed} failed`)),
    stat('Cost today', usd(spend.todayUsd), h('div', {},
      h('div', { class: 'muted' }, spend.dailyCapUsd > 0 ? `of the ${usd(spend.dailyCapUsd, 2)} daily spend cap (${(spend.todayFractionOfCap * 100).toFixed(2)}%)` : 'no daily spend cap'),
      spend.dailyCapUsd > 0 ? meter(spend.todayFractionOfCap) : null)),
    stat('Cost, last 7 days', usd(spend.last7DaysUsd), h('div', { class: 'muted' },
      `estimated; ${usd(totals.actualCostUsd)} billed by Twilio for ${totals.pricedMessages} priced messages in the period; 7-day cap ${usd(spend.last7DaysCapUsd, 2)}`)),
  );
  const labels = stats.days.map((d) => d.day.slice(5));
  const messages = h('section', { class: 'card', id: 'messages-chart' }, h('h2', {}, 'Messages per day'),
    chart('messages-canvas', `Messages per day, ${stats.from} to ${stats.to}`, {
      type: 'bar',
      data: { labels, datasets: SERIES.map((s) => ({ label: s.label, data: stats.days.map((d) => d[s.key] ?? 0), backgroundColor: COLOURS[s.key], stack: 'all' })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    }));
  const rate = h('section', { class: 'card', id: 'rate-chart' }, h('h2', {}, `Delivery rate per day (today ${pct(today?.deliveryRate)})`),
    chart('rate-canvas', 'Delivery rate per day', {
      type: 'line',
      data: { labels, datasets: [{ label: 'delivered', data: stats.days.map((d) => (d.deliveryRate === null ? null : d.deliveryRate * 100)), borderColor: COLOURS.rate, backgroundColor: COLOURS.rate, spanGaps: true }] },
      options: { scales: { y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } } },
    }));
  const errors = h('section', { class: 'card', id: 'errors' }, h('h2', {}, 'Failures by Twilio error code'),
    stats.errors.length
      ? table({}, ['Code', 'Meaning', 'Messages'], stats.errors.map((e) => h('tr', {}, h('td', {}, e.errorCode ?? '–'), h('td', {}, e.errorMessage ?? ''), h('td', { class: 'num' }, e.count))), [2])
      : h('p', { class: 'muted' }, 'No failed or undelivered messages in the period.'));
  page('overview', h('h1', {}, 'Overview'), cards, h('div', { class: 'two' }, messages, rate), errors);
}

/**
 * Templates: one collapsed group per type (its summary says what is customised and how long the
 * SMS runs), a type picker, and filters by language and channel, so the page stays short at
 * laptop and phone widths; a group opens to its templates, each opening the editor, where the
 * draft sits beside the version in force.
 */
export async function templates() {
  const { templates: list } = await api('GET', '/api/staff/templates');
  const query = queryOf();
  const languages = [...new Set(list.map((t) => t.language))].sort();
  const types = [...new Map(list.map((t) => [t.type, t.title])).entries()];
  const select = (id, label, options, value, every = 'all') => h('label', { for: id }, label,
    h('select', { id, onchange: apply }, h('option', { value: '' }, every), options.map(([o, text]) => h('option', { value: o, selected: o === value }, text))));
  function apply() {
    const next = new URLSearchParams();
    for (const key of ['type', 'language', 'channel']) { const v = window.document.getElementById(`filter-${key}`).value; if (v) next.set(key, v); }
    navigate(`/admin/templates/${next.size ? `?${next}` : ''}`);
  }
  const shown = list.filter((t) => (!query.type || t.type === query.type) && (!query.language || t.language === query.language) && (!query.channel || t.channel === query.channel));
  const groups = new Map();
  for (const t of shown) groups.set(t.type, [...(groups.get(t.type) ?? []), t]);
  // One group shown (a type picked, or the filters leave one): open at once.
  const open = groups.size === 1;
  const sections = [...groups.entries()].map(([type, rows]) => {
    const customised = rows.filter((t) => !t.isDefault);
    const longest = Math.max(0, ...rows.map((t) => t.segments ?? 0));
    return h('details', { class: 'card template-group', 'data-type': type, open },
      h('summary', {},
        h('span', { class: 'group-title' }, rows[0].title, ' ', h('span', { class: 'muted' }, type)),
        h('span', { class: 'group-facts' },
          `${rows.length} template${rows.length === 1 ? '' : 's'}`,
          customised.length ? badge(`${customised.length} customised`, 'ok') : badge('defaults', 'default'),
          longest > 1 ? badge(`SMS ${longest} segments`, 'held') : null)),
      // data-label: on a phone each row is a small card, its cells labelled (console.css).
      table({}, ['Language', 'Channel', 'In force', 'Segments', 'Cost / send', 'With example values'], rows.map((t) => h('tr', { 'data-template': `${t.type}/${t.language}/${t.channel}` },
        h('td', { 'data-label': 'Language' }, h('a', { href: `/admin/templates/${t.type}/${t.language}/${t.channel}/` }, t.language === t.servedLanguage ? t.language : `${t.language} (uses ${t.servedLanguage})`)),
        h('td', { 'data-label': 'Channel' }, t.channel),
        h('td', { 'data-label': 'In force' }, t.isDefault ? badge('default') : `v${t.version}`),
        h('td', { class: 'num', 'data-label': 'Segments' }, t.segments ?? '–'),
        h('td', { class: 'num', 'data-label': 'Cost / send' }, usd(t.costPerSendUsd)),
        h('td', { class: 'muted example-cell' }, h('div', { class: 'example' }, t.example)))), [3, 4]));
  });
  page('templates', h('h1', {}, 'Templates'),
    h('div', { class: 'filters' },
      select('filter-type', 'Type', types, query.type, 'every type'),
      select('filter-language', 'Language', languages.map((l) => [l, l]), query.language),
      select('filter-channel', 'Channel', [['sms', 'sms'], ['email', 'email']], query.channel),
      h('p', { class: 'muted', id: 'template-count' }, `${shown.length} template${shown.length === 1 ? '' : 's'} in ${groups.size} type${groups.size === 1 ? '' : 's'}`)),
    h('p', { class: 'muted' }, open ? 'Open a template to edit its draft beside the version in force.' : 'Open a type to see its templates; open a template to edit its draft beside the version in force.'),
    ...(sections.length ? sections : [h('p', { class: 'muted' }, 'No template matches.')]));
}

export async function templateEditor(type, language, channel) {
  const path = `/api/staff/templates/${encodeURIComponent(type)}/${encodeURIComponent(language)}/${encodeURIComponent(channel)}`;
  const detail = await api('GET', path);
  const t = detail.template;
  const body = h('textarea', { id: 'template-body', spellcheck: 'false' });
  body.value = t.body;
  const subject = channel === 'email' ? h('input', { id: 'template-subject' }) : null;
  if (subject) subject.value = t.subject ?? '';
  const inForce = h('div', { class: 'preview', id: 'in-force-text' }, t.subject ? `${t.subject}\n\n${t.body}` : t.body);
  const previewText = h('div', { class: 'preview', id: 'preview-text', 'aria-live': 'polite' }, t.example);
  const previewFacts = h('p', { id: 'preview-facts' });
  const previewWarning = h('p', { class: 'warning', id: 'preview-warning', hidden: true });
  const previewError = h('p', { class: 'error', id: 'preview-error', role: 'alert' });
  const saveResult = h('p', { id: 'save-result', role: 'status' });
  const save = h('button', { type: 'button', id: 'save' }, 'Save as new version');
  const sending = h('p', { class: 'muted', id: 'sending' });
  const showSending = (v) => {
    sending.textContent = v.version === 0 ? 'Now sending the repository default (version 0).' : `Now sending version ${v.version}, saved ${when(v.savedAt)}.`;
    inForce.textContent = v.subject ? `${v.subject}\n\n${v.body}` : v.body;
  };
  showSending(t);
  const facts = (p) => (p.segments === null ? 'Email' : `${p.segments} segment${p.segments === 1 ? '' : 's'} · ${p.encoding} · ${usd(p.costPerSendUsd)} per send`);
  previewFacts.textContent = t.segments === null ? 'Email' : facts(t);
  let timer;
  let sequence = 0;
  const draft = () => ({ body: body.value, ...(subject ? { subject: subject.value } : {}) });
  async function refresh() {
    const mine = ++sequence;
    try {
      const preview = await api('POST', `${path}/preview`, draft());
      if (mine !== sequence) return;
      previewError.textContent = '';
      previewText.textContent = preview.subject ? `${preview.subject}\n\n${preview.text}` : preview.text;
      previewFacts.textContent = facts(preview);
      previewWarning.hidden = !preview.warning;
      previewWarning.textContent = preview.warning ?? '';
    } catch (error) {
      if (mine === sequence) previewError.textContent = error.message;
    }
  }
  const onInput = () => { clearTimeout(timer); timer = setTimeout(() => void refresh(), 250); };
  body.addEventListener('input', onInput);
  subject?.addEventListener('input', onInput);
  const versionRow = (v) => h('tr', {}, h('td', {}, `v${v.version}`), h('td', {}, when(v.savedAt)), h('td', {}, v.savedBy ?? '–'), h('td', { class: 'muted' }, v.subject ? `${v.subject} — ${v.body}` : v.body));
  const historyBody = h('tbody', { id: 'history' }, detail.history.map(versionRow));
  save.addEventListener('click', async () => {
    save.disabled = true;
    saveResult.className = '';
    saveResult.textContent = 'Saving…';
    try {
      const saved = await api('PUT', path, draft());
      saveResult.className = 'ok';
      saveResult.textContent = `Saved as version ${saved.version}.` + (saved.segments === null ? '' : ` ${facts(saved)}.`) + (saved.warning ? ` ${saved.warning}` : '');
      const fresh = await api('GET', path);
      historyBody.replaceChildren(...fresh.history.map(versionRow));
      showSending(fresh.template);
    } catch (error) {
      saveResult.className = 'error';
      saveResult.textContent = error.message;
    } finally {
      save.disabled = false;
    }
  });
  page('templates',
    h('p', {}, h('a', { href: '/admin/templates/' }, '← All templates')),
    h('h1', {}, `${t.title} · ${language} · ${channel}`),
    sending,
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Draft'),
        subject ? h('label', { for: 'template-subject' }, 'Subject') : null, subject,
        h('label', { for: 'template-body' }, 'Body'), body,
        save, saveResult,
        h('h3', {}, 'Preview with example values'), previewText, previewFacts, previewWarning, previewError),
      h('section', { class: 'card' }, h('h2', {}, 'In force'), inForce,
        h('h3', {}, 'Variables'),
        h('table', {}, h('tbody', {}, detail.variables.map((v) => h('tr', {}, h('td', {}, h('code', {}, `{${v.name}}`)), h('td', { class: 'muted' }, v.description))))))),
    h('section', { class: 'card' }, h('h2', {}, 'Saved versions'),
      h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, ['Version', 'Saved', 'By', 'Text'].map((c) => h('th', { scope: 'col' }, c)))), historyBody))));
}

export async function notifications() {
  const query = queryOf();
  const status = query.status ?? '';
  const type = query.type ?? '';
  const params = new URLSearchParams({ limit: '200', ...(status && { status }), ...(type && { type }) });
  const [{ notifications: list }, { templates: all }] = await Promise.all([api('GET', `/api/staff/notifications?${params}`), api('GET', '/api/staff/templates')]);
  const typeIds = [...new Set(all.map((t) => t.type))];
  const statusSelect = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'held, skipped and failed'), ['held', 'skipped', 'failed'].map((s) => h('option', { value: s, selected: s === status }, s)));
  const typeSelect = h('select', { id: 'filter-type' }, h('option', { value: '' }, 'every type'), typeIds.map((id) => h('option', { value: id, selected: id === type }, id)));
  const apply = () => {
    const next = new URLSearchParams({ ...(statusSelect.value && { status: statusSelect.value }), ...(typeSelect.value && { type: typeSelect.value }) });
    navigate(`/admin/notifications/${next.size ? `?${next}` : ''}`);
  };
  statusSelect.addEventListener('change', apply);
  typeSelect.addEventListener('change', apply);
  page('notifications', h('h1', {}, 'Held & skipped notifications'),
    h('div', { class: 'filters' }, h('label', { for: 'filter-status' }, 'Status', statusSelect), h('label', { for: 'filter-type' }, 'Type', typeSelect)),
    h('section', { class: 'card' }, list.length
      ? table({ id: 'notification-list' }, ['Updated', 'Type', 'Channel', 'Status', 'Reason', 'Held until', 'Customer', 'Phone'], list.map((n) => h('tr', {},
        h('td', {}, when(n.updatedAt)), h('td', {}, n.type), h('td', {}, n.channel), h('td', {}, badge(n.status)), h('td', {}, n.reason ?? '–'),
        h('td', {}, when(n.holdUntil)), h('td', {}, n.customer.username), h('td', {}, n.customer.phone ?? '–'))))
      : h('p', { class: 'muted' }, 'Nothing held, skipped or failed.')));
}

export async function settings() {
  const s = await api('GET', '/api/staff/settings');
  const rows = [
    ['Mode', s.twilio.mode], ['Account SID', s.twilio.accountSid ?? 'not set'], ['Auth token', s.twilio.authToken ?? 'not set'],
    ['API key SID', s.twilio.apiKeySid ?? 'not used'], ['API key secret', s.twilio.apiKeySecretSet ? 'set' : 'not used'],
    ['Sender number', s.twilio.phoneNumber ?? 'not set'], ['Messaging Service SID', s.twilio.messagingServiceSid ?? 'not used'],
    ['API base URL', s.twilio.apiBaseUrl], ['Timeout', `${s.twilio.timeoutMs} ms`],
    ['Sender rate', s.twilio.senderMps ? `${s.twilio.senderMps} messages/s per sender` : 'no limit'],
    ['Price per segment', usd(s.pricing.pricePerSegmentUsd)],
    ['Country prices', Object.entries(s.pricing.perCountryUsd).map(([c, p]) => `${c} ${usd(p)}`).join(', ') || 'none'],
    ['Allowed countries', s.allowedCountries.join(', ')],
    ['Daily spend cap', s.limits.dailySpendCapUsd ? usd(s.limits.dailySpendCapUsd, 2) : 'none'],
    ['Per customer', `${s.limits.userHourly}/hour, ${s.limits.userDaily}/day`], ['Whole bank', `${s.limits.globalHourly}/hour`],
    ['Codes', `${s.limits.codeNumber} per number and ${s.limits.codeIp} per IP per 10 min; ${s.limits.codeCountryHourly} per prefix per hour`],
    ['Email', `${s.email.smtpConfigured ? 'SMTP configured' : 'developer mailbox (nothing leaves)'}; from ${s.email.from}`],
  ];
  page('settings', h('h1', {}, 'Settings'), h('section', { class: 'card' }, h('h2', {}, 'Twilio and SMS'),
    h('dl', { class: 'settings', id: 'settings' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('p', { class: 'muted' }, 'Credentials show their last 4 characters only. They are changed in the server configuration, not here.')));
}

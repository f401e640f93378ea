// The staff console: sign-in (password, then the SMS code), and the Overview, Templates, Held &
// skipped and Settings pages, all drawn from /api/staff with the session token kept in
// sessionStorage. Text from the server is only ever set as textContent, never parsed as HTML.
/* global document, window, sessionStorage, fetch, setTimeout, clearTimeout, URLSearchParams */
import { rateLineChart, stackedBarChart } from './chart.js';

const TOKEN_KEY = 'dominion.staffToken';
const $ = (id) => document.getElementById(id);

/** Builds an element: h('td', { class: 'num' }, 'text', child, ...). */
function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const usd = (amount, digits = 4) => (amount === null || amount === undefined ? '–' : `$${Number(amount).toFixed(digits)}`);
const pct = (rate) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)}%`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

async function api(method, path, body, token = sessionStorage.getItem(TOKEN_KEY)) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && token && path.startsWith('/api/staff')) {
    sessionStorage.removeItem(TOKEN_KEY);
    showSignIn('Your session has ended: sign in again.');
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// ---- sign-in ----

let challengeId = null;

function showSignIn(message = '') {
  $('nav').hidden = true;
  $('view').hidden = true;
  $('sign-in').hidden = false;
  $('password-form').hidden = false;
  $('code-form').hidden = true;
  $('sign-in-error').textContent = message;
  $('username').focus();
}

$('password-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('sign-in-error').textContent = '';
  $('password-submit').disabled = true;
  try {
    const started = await api('POST', '/api/login', { username: $('username').value, password: $('password').value }, null);
    challengeId = started.challengeId;
    $('password').value = '';
    $('code-sent').textContent = `We sent a 6-digit code by SMS to ${started.destination}.`;
    $('password-form').hidden = true;
    $('code-form').hidden = false;
    $('code').focus();
  } catch (error) {
    $('sign-in-error').textContent = error.message;
  } finally {
    $('password-submit').disabled = false;
  }
});

$('code-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('sign-in-error').textContent = '';
  $('code-submit').disabled = true;
  try {
    const session = await api('POST', '/api/login/verify', { challengeId, code: $('code').value.trim() }, null);
    $('code').value = '';
    if (!session.user.isStaff) {
      // A customer's session has no business here: end it at once.
      await api('POST', '/api/logout', undefined, session.token).catch(() => undefined);
      showSignIn('This console is for bank staff only. Customers use the DominionTrust app.');
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, session.token);
    sessionStorage.setItem(`${TOKEN_KEY}.user`, session.user.username);
    if (!window.location.hash || window.location.hash === '#') window.location.hash = '#/overview';
    else void route();
  } catch (error) {
    $('sign-in-error').textContent = error.message;
  } finally {
    $('code-submit').disabled = false;
  }
});

$('sign-out').addEventListener('click', async () => {
  await api('POST', '/api/logout').catch(() => undefined);
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn('Signed out.');
});

// ---- pages ----

function page(name, ...children) {
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('who').textContent = sessionStorage.getItem(`${TOKEN_KEY}.user`) ?? '';
  for (const link of document.querySelectorAll('nav a')) link.classList.toggle('active', link.dataset.page === name);
  const view = $('view');
  view.replaceChildren(...children);
  view.hidden = false;
  view.dataset.page = name;
}

function failure(error) {
  return h('p', { class: 'error', role: 'alert' }, error.message);
}

const SERIES = [
  { key: 'delivered', label: 'delivered' },
  { key: 'inFlight', label: 'in flight' },
  { key: 'undelivered', label: 'undelivered' },
  { key: 'failed', label: 'failed' },
  { key: 'expired', label: 'expired' },
];

function stat(label, value, extra) {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), extra);
}

function meter(fraction) {
  const bar = h('div', { class: fraction > 0.8 ? 'high' : undefined });
  bar.style.width = `${Math.min(100, Math.max(0, (fraction ?? 0) * 100)).toFixed(1)}%`;
  return h('div', { class: 'meter' }, bar);
}

async function overview(days = 14) {
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
  const legend = h('div', { class: 'legend' }, SERIES.map((s) => h('span', { class: s.key }, s.label)));
  const chart = h('div', { class: 'card', id: 'messages-chart' },
    h('h2', {}, 'Messages per day'),
    stackedBarChart(stats.days, SERIES, `Messages per day, ${stats.from} to ${stats.to}`), legend);
  const rate = h('div', { class: 'card', id: 'rate-chart' },
    h('h2', {}, `Delivery rate per day (today ${pct(today?.deliveryRate)})`),
    rateLineChart(stats.days.map((d) => ({ day: d.day, rate: d.deliveryRate })), 'Delivery rate per day'));
  const errors = h('div', { class: 'card', id: 'errors' }, h('h2', {}, 'Failures by Twilio error code'),
    stats.errors.length
      ? h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Code'), h('th', {}, 'Meaning'), h('th', { class: 'num' }, 'Messages'))),
        h('tbody', {}, stats.errors.map((e) => h('tr', {}, h('td', {}, e.errorCode ?? '–'), h('td', {}, e.errorMessage ?? ''), h('td', { class: 'num' }, e.count)))))
      : h('p', { class: 'muted' }, 'No failed or undelivered messages in the period.'));
  const types = h('div', { class: 'card' }, h('h2', {}, 'By notification type'),
    h('table', {}, h('thead', {}, h('tr', {}, ['Type', 'Messages', 'Delivered', 'Failed', 'Undelivered', 'Segments', 'Est. cost', 'Delivery rate'].map((c, i) => h('th', { class: i ? 'num' : undefined }, c)))),
      h('tbody', {}, stats.byType.map((t) => h('tr', {}, h('td', {}, t.type), h('td', { class: 'num' }, t.queued), h('td', { class: 'num' }, t.delivered),
        h('td', { class: 'num' }, t.failed), h('td', { class: 'num' }, t.undelivered), h('td', { class: 'num' }, t.segments),
        h('td', { class: 'num' }, usd(t.estimatedCostUsd)), h('td', { class: 'num' }, pct(t.deliveryRate)))))));
  page('overview', h('h1', {}, 'Overview'), cards, chart, rate, errors, types);
}

async function templates() {
  const { templates: list } = await api('GET', '/api/staff/templates');
  const rows = list.map((t) => h('tr', {
    class: 'clickable', 'data-template': `${t.type}/${t.language}/${t.channel}`,
    onclick: () => { window.location.hash = `#/templates/${t.type}/${t.language}/${t.channel}`; },
  },
  h('td', {}, h('a', { href: `#/templates/${t.type}/${t.language}/${t.channel}` }, t.title), h('div', { class: 'muted' }, t.type)),
  h('td', {}, t.language === t.servedLanguage ? t.language : `${t.language} (uses ${t.servedLanguage})`),
  h('td', {}, t.channel),
  h('td', {}, t.isDefault ? h('span', { class: 'badge default' }, 'default') : `v${t.version}`),
  h('td', { class: 'num' }, t.segments ?? '–'),
  h('td', { class: 'num' }, usd(t.costPerSendUsd)),
  h('td', { class: 'muted' }, t.example)));
  page('templates', h('h1', {}, 'Templates'), h('div', { class: 'card' },
    h('table', { id: 'template-list' }, h('thead', {}, h('tr', {}, ['Type', 'Language', 'Channel', 'Version', 'Segments', 'Cost / send', 'With example values'].map((c, i) => h('th', { class: i === 4 || i === 5 ? 'num' : undefined }, c)))),
      h('tbody', {}, rows))));
}

async function templateEditor(type, language, channel) {
  const path = `/api/staff/templates/${encodeURIComponent(type)}/${encodeURIComponent(language)}/${encodeURIComponent(channel)}`;
  const detail = await api('GET', path);
  const t = detail.template;
  const body = h('textarea', { id: 'template-body', spellcheck: 'false' });
  body.value = t.body;
  const subject = channel === 'email' ? h('input', { id: 'template-subject' }) : null;
  if (subject) subject.value = t.subject ?? '';
  const previewText = h('div', { class: 'preview', id: 'preview-text' }, t.example);
  const previewFacts = h('p', { id: 'preview-facts' });
  const previewWarning = h('p', { class: 'warning', id: 'preview-warning', hidden: true });
  const previewError = h('p', { class: 'error', id: 'preview-error', role: 'alert' });
  const saveResult = h('p', { id: 'save-result', role: 'status' });
  const save = h('button', { type: 'button', id: 'save' }, 'Save as new version');
  const sending = h('p', { class: 'muted', id: 'sending' });
  const showSending = (v) => { sending.textContent = v.version === 0 ? 'Now sending the repository default (version 0).' : `Now sending version ${v.version}, saved ${when(v.savedAt)}.`; };
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

  const versionRow = (v) => h('tr', {}, h('td', {}, `v${v.version}`), h('td', {}, when(v.savedAt)), h('td', {}, v.savedBy ?? '–'), h('td', { class: 'muted' }, v.subject ? `${v.subject} — ${v.body}` : v.body));
  const historyBody = h('tbody', { id: 'history' }, detail.history.map(versionRow));
  page('templates',
    h('p', {}, h('a', { href: '#/templates' }, '← All templates')),
    h('h1', {}, `${t.title} · ${language} · ${channel}`),
    sending,
    h('div', { class: 'editor' },
      h('div', { class: 'card' },
        subject ? h('label', {}, 'Subject', subject) : null,
        h('label', {}, 'Body', body),
        save, saveResult,
        h('h2', {}, 'Variables'),
        h('table', {}, h('tbody', {}, detail.variables.map((v) => h('tr', {}, h('td', {}, h('code', {}, `{${v.name}}`)), h('td', { class: 'muted' }, v.description)))))),
      h('div', { class: 'card' }, h('h2', {}, 'Preview with example values'), previewText, previewFacts, previewWarning, previewError)),
    h('div', { class: 'card' }, h('h2', {}, 'Saved versions'),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Version'), h('th', {}, 'Saved'), h('th', {}, 'By'), h('th', {}, 'Text'))), historyBody)));
}

async function notifications() {
  const params = new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const status = params.get('status') ?? '';
  const type = params.get('type') ?? '';
  const query = new URLSearchParams({ limit: '200', ...(status && { status }), ...(type && { type }) });
  const [{ notifications: list }, { templates: all }] = await Promise.all([
    api('GET', `/api/staff/notifications?${query}`), api('GET', '/api/staff/templates'),
  ]);
  const typeIds = [...new Set(all.map((t) => t.type))];
  const statusSelect = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'held, skipped and failed'),
    ['held', 'skipped', 'failed'].map((s) => h('option', { value: s, selected: s === status }, s)));
  const typeSelect = h('select', { id: 'filter-type' }, h('option', { value: '' }, 'every type'), typeIds.map((id) => h('option', { value: id, selected: id === type }, id)));
  const apply = () => {
    const next = new URLSearchParams({ ...(statusSelect.value && { status: statusSelect.value }), ...(typeSelect.value && { type: typeSelect.value }) });
    window.location.hash = `#/notifications?${next}`;
  };
  statusSelect.addEventListener('change', apply);
  typeSelect.addEventListener('change', apply);
  page('notifications', h('h1', {}, 'Held & skipped notifications'),
    h('div', { class: 'filters' }, h('label', {}, 'Status ', statusSelect), h('label', {}, 'Type ', typeSelect)),
    h('div', { class: 'card' }, list.length
      ? h('table', { id: 'notification-list' },
        h('thead', {}, h('tr', {}, ['Updated', 'Type', 'Channel', 'Status', 'Reason', 'Held until', 'Customer', 'Phone'].map((c) => h('th', {}, c)))),
        h('tbody', {}, list.map((n) => h('tr', {},
          h('td', {}, when(n.updatedAt)), h('td', {}, n.type), h('td', {}, n.channel),
          h('td', {}, h('span', { class: `badge ${n.status}` }, n.status)), h('td', {}, n.reason ?? '–'),
          h('td', {}, when(n.holdUntil)), h('td', {}, n.customer.username), h('td', {}, n.customer.phone ?? '–')))))
      : h('p', { class: 'muted' }, 'Nothing held, skipped or failed.')));
}

async function settings() {
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
  page('settings', h('h1', {}, 'Settings'), h('div', { class: 'card' }, h('h2', {}, 'Twilio and SMS'),
    h('dl', { class: 'settings', id: 'settings' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('p', { class: 'muted' }, 'Credentials show their last 4 characters only. They are changed in the server configuration, not here.')));
}

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showSignIn();
  const [path] = window.location.hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === 'templates' && parts.length === 4) await templateEditor(parts[1], parts[2], parts[3]);
    else if (parts[0] === 'templates') await templates();
    else if (parts[0] === 'notifications') await notifications();
    else if (parts[0] === 'settings') await settings();
    else await overview();
  } catch (error) {
    if (error.status === 401) return undefined;
    if (error.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignIn(error.message);
    }
    page(parts[0] ?? 'overview', failure(error));
  }
  return undefined;
}

window.addEventListener('hashchange', () => void route());
void route();

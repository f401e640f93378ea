// /admin/accounts/userprofile/ (the address staff knew from the old Django admin): find a customer
// by username, email or the last 4 digits of the phone; the profile page changes the number
// (refusals shown inline), clears an unreachable mark and sends a test SMS.
/* global URLSearchParams */
import { $, api, badge, h, navigate, page, queryOf, table, when } from './core.js';

const LIST = '/admin/accounts/userprofile/';

function flags(p) {
  return [
    p.phone ? (p.phoneVerified ? badge('verified', 'ok') : badge('not verified', 'held')) : badge('no phone', 'skipped'),
    p.optedOutAt ? badge('opted out (STOP)', 'failed') : null,
    p.unreachableAt ? badge('unreachable', 'failed') : null,
  ];
}

export async function profiles() {
  const query = queryOf();
  const params = new URLSearchParams({ limit: '25', ...(query.q && { q: query.q }), ...(query.after && { after: query.after }) });
  const result = await api('GET', `/api/staff/profiles?${params}`);
  const search = h('input', { id: 'profile-search', name: 'q', type: 'search', value: query.q ?? '', placeholder: 'username, email or last 4 digits of the phone' });
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (event) => {
    event.preventDefault();
    navigate(`${LIST}${search.value.trim() ? `?${new URLSearchParams({ q: search.value.trim() })}` : ''}`);
  } }, h('label', { for: 'profile-search' }, 'Find a customer'), search, h('button', { type: 'submit' }, 'Search'));
  const rows = result.profiles.map((p) => h('tr', { 'data-user': p.username },
    h('td', {}, h('a', { href: `${LIST}${p.id}/` }, p.username), p.isStaff ? h('div', { class: 'muted' }, 'staff') : null),
    h('td', {}, p.phone ?? '–'), h('td', {}, flags(p)), h('td', {}, p.language), h('td', {}, p.timeZone), h('td', {}, when(p.lastSmsAt)),
    h('td', { class: 'muted' }, p.email ?? '–')));
  const next = result.nextAfter ? h('a', { href: `${LIST}?${new URLSearchParams({ ...(query.q && { q: query.q }), after: result.nextAfter })}`, id: 'next-page' }, 'Next page →') : null;
  page('profiles', h('h1', {}, 'Customer profiles'), form,
    h('section', { class: 'card' }, result.profiles.length
      ? table({ id: 'profile-list' }, ['Username', 'Phone', 'Status', 'Language', 'Time zone', 'Last SMS', 'Email'], rows)
      : h('p', { class: 'muted' }, 'No customer matches.'), h('p', {}, query.after ? h('a', { href: `${LIST}${query.q ? `?q=${encodeURIComponent(query.q)}` : ''}` }, '← First page') : null, ' ', next)));
}

export async function profile(id) {
  const { profile: p } = await api('GET', `/api/staff/profiles/${encodeURIComponent(id)}`);
  const phone = h('input', { id: 'phone-number', name: 'phoneNumber', inputmode: 'tel', autocomplete: 'off', 'aria-describedby': 'phone-help phone-error', required: true });
  const phoneError = h('p', { class: 'error', id: 'phone-error', role: 'alert' });
  const result = h('p', { id: 'profile-result', role: 'status' });
  const facts = [
    ['Phone', p.phone ?? 'none'], ['Verified', p.phoneVerified ? 'yes' : 'no: the customer confirms it with a code'],
    ['Opted out (STOP)', p.optedOutAt ? `since ${when(p.optedOutAt)}` : 'no'],
    ['Unreachable', p.unreachableAt
      ? `since ${when(p.unreachableAt)} (${p.phoneMarkReason ?? 'failed deliveries'}); ${p.unreachableNotifiedAt ? `customer emailed ${when(p.unreachableNotifiedAt)}` : p.email ? 'customer not emailed yet' : 'customer not emailed: no email address, call them'}`
      : p.permanentFailures ? `no: ${p.permanentFailures} of ${p.unreachableAfter} failures in a row (${p.phoneMarkReason ?? 'failed deliveries'})` : 'no'],
    ['Number changed', p.phoneChangedAt ? when(p.phoneChangedAt) : 'never'],
    ['Cooling-off', p.coolingOffUntil ? `large transfers and new payees wait until ${when(p.coolingOffUntil)}` : 'none'],
    ['Email', p.email ?? 'none'], ['Language', p.language], ['Time zone', p.timeZone], ['Last SMS', when(p.lastSmsAt)],
  ];
  const change = h('form', { id: 'phone-form', novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    phoneError.textContent = '';
    phone.removeAttribute('aria-invalid');
    try {
      await api('PUT', `/api/staff/profiles/${p.id}/phone`, { phoneNumber: phone.value });
      await profile(id);
      $('profile-result').className = 'ok';
      $('profile-result').textContent = 'Number changed. The old number, the new number and the email are being told; the number is unverified until the customer confirms a code, and the change is in the audit log.';
    } catch (error) {
      phone.setAttribute('aria-invalid', 'true');
      phoneError.textContent = error.message;
      phone.focus();
    }
  } },
  h('label', { for: 'phone-number' }, 'New mobile number'), phone,
  h('p', { class: 'muted', id: 'phone-help' }, 'E.164 (+14155552671) or a national form such as (415) 555-2671. The number will be unverified, and large transfers and new payees wait out the cooling-off period.'),
  phoneError, h('button', { type: 'submit', id: 'phone-submit' }, 'Change number'));
  const act = (label, idName, path, done) => h('button', { type: 'button', id: idName, class: 'secondary', onclick: async () => {
    result.className = '';
    try {
      const answer = await api('POST', `/api/staff/profiles/${p.id}/${path}`);
      if (path !== 'test-sms') await profile(id);
      $('profile-result').className = 'ok';
      $('profile-result').textContent = done(answer);
    } catch (error) {
      result.className = 'error';
      result.textContent = error.message;
    }
  } }, label);
  page('profiles',
    h('p', {}, h('a', { href: LIST }, '← All customers')),
    h('h1', {}, `Customer ${p.username}`), h('p', {}, flags(p)),
    h('div', { class: 'two' },
      h('section', { class: 'card' }, h('h2', {}, 'Profile'), h('dl', { class: 'settings', id: 'profile-facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
      h('section', { class: 'card' }, h('h2', {}, 'Change the phone number'), change)),
    h('section', { class: 'card' }, h('h2', {}, 'Actions'), result,
      h('div', { class: 'actions' },
        p.unreachableAt ? act('Clear the unreachable mark', 'clear-unreachable', 'clear-unreachable', () => 'The unreachable mark is cleared: notifications go by SMS again.') : null,
        p.phone ? act('Send a test SMS', 'send-test-sms', 'test-sms', (answer) => `Test SMS queued to ${answer.destination}.`) : null,
        h('a', { href: `/admin/messages/?customer=${encodeURIComponent(p.username)}`, class: 'button-link' }, 'Messages to this customer'),
        h('a', { href: `/admin/audit/?user=${encodeURIComponent(p.username)}`, class: 'button-link' }, 'Audit entries'))));
}

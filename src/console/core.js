// What every console page shares: building elements (text only ever as textContent, never parsed
// as HTML), calling the staff API with the session token kept in sessionStorage, formatting, and
// drawing a page into #view with its title focused for keyboard and screen-reader users.
/* global document, window, sessionStorage, fetch, URL, URLSearchParams, history */

export const TOKEN_KEY = 'dominion.staffToken';
export const $ = (id) => document.getElementById(id);

/** Builds an element: h('td', { class: 'num' }, 'text', child, ...). */
export function h(tag, attributes = {}, ...children) {
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

export const usd = (amount, digits = 4) => (amount === null || amount === undefined ? '–' : `$${Number(amount).toFixed(digits)}`);
export const pct = (rate) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(1)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error;
  }
}

let onSignedOut = () => undefined;
export function whenSignedOut(callback) { onSignedOut = callback; }

async function call(method, path, body, token) {
  const headers = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && token && path.startsWith('/api/staff')) {
    sessionStorage.removeItem(TOKEN_KEY);
    // The server says why a staff session ended (idle, or at its maximum age).
    const reason = await response.clone().json().catch(() => null);
    onSignedOut(reason?.error === 'session_expired' ? reason.message : 'Your session has ended: sign in again.');
  }
  return response;
}

export async function api(method, path, body, token = sessionStorage.getItem(TOKEN_KEY)) {
  const response = await call(method, path, body, token);
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Fetches a CSV with the session and hands it to the browser as a download. */
export async function download(path, filename) {
  const response = await call('GET', path, undefined, sessionStorage.getItem(TOKEN_KEY));
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A "Download CSV" button; a refusal shows beside it. */
export function csvButton(attributes, path, filename) {
  const problem = h('span', { class: 'error', role: 'status' });
  const button = h('button', { type: 'button', class: 'secondary', ...attributes, onclick: async () => {
    problem.textContent = '';
    try {
      await download(typeof path === 'function' ? path() : path, filename);
    } catch (error) {
      problem.textContent = error.message;
    }
  } }, 'Download CSV');
  return h('span', { class: 'csv' }, button, ' ', problem);
}

/** Goes to a console address without reloading the page. */
export function navigate(path) {
  history.pushState(null, '', path);
  window.dispatchEvent(new window.Event('console:navigate'));
}

/** Draws a page: `name` marks the nav entry, the first h1 takes the focus. */
export function page(name, ...children) {
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  $('who').textContent = sessionStorage.getItem(`${TOKEN_KEY}.user`) ?? '';
  for (const link of document.querySelectorAll('nav a[data-page]')) {
    const current = link.dataset.page === name;
    link.classList.toggle('active', current);
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const view = $('view');
  view.replaceChildren(...children);
  view.hidden = false;
  view.dataset.page = name;
  const title = view.querySelector('h1');
  if (title) {
    title.setAttribute('tabindex', '-1');
    document.title = `${title.textContent} · DominionTrust staff console`;
    title.focus({ preventScroll: true });
  }
}

export function failure(error) {
  return h('p', { class: 'error', role: 'alert' }, error.message);
}

/** A table that scrolls sideways on a phone instead of breaking the page. */
export function table(attributes, headers, rows, numeric = []) {
  return h('div', { class: 'table-wrap' }, h('table', attributes,
    h('thead', {}, h('tr', {}, headers.map((c, i) => h('th', { scope: 'col', class: numeric.includes(i) ? 'num' : undefined }, c)))),
    h('tbody', {}, rows)));
}

export function badge(text, kind = text) {
  return h('span', { class: `badge ${kind}` }, text);
}

/** The query string of the current address, as an object. */
export function queryOf() {
  return Object.fromEntries(new URLSearchParams(window.location.search));
}

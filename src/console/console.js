// The staff console: sign-in (password, then the SMS code) and the router of its pages, one
// address per page under /admin (the profile pages at /admin/accounts/userprofile/, as in the old
// Django admin). Every page draws from the staff API with the session token in sessionStorage;
// a customer's session is ended at once and sees nothing.
/* global document, window, sessionStorage, history */
import { $, api, failure, navigate, page, TOKEN_KEY, whenSignedOut } from './core.js';
import { profile, profiles } from './pages-customers.js';
import { audit, messages, timeline } from './pages-log.js';
import { notifications, overview, settings, templateEditor, templates } from './pages-sms.js';
import { analytics, setup } from './pages-tools.js';

let challengeId = null;

function showSignIn(message = '') {
  $('nav').hidden = true;
  $('view').hidden = true;
  $('view').replaceChildren();
  $('sign-in').hidden = false;
  $('password-form').hidden = false;
  $('code-form').hidden = true;
  $('sign-in-error').textContent = message;
  $('username').focus();
}
whenSignedOut(showSignIn);

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
    void route();
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

/** The page of an address: [name, draw]. */
function pageOf(parts) {
  const [first, second, third] = parts;
  if (first === 'accounts' && second === 'userprofile') return third ? ['profiles', () => profile(third)] : ['profiles', profiles];
  if (first === 'messages') return second ? ['messages', () => timeline(second)] : ['messages', messages];
  if (first === 'audit') return ['audit', audit];
  if (first === 'analytics') return ['analytics', analytics];
  if (first === 'setup') return ['setup', setup];
  if (first === 'templates') return parts.length === 4 ? ['templates', () => templateEditor(parts[1], parts[2], parts[3])] : ['templates', templates];
  if (first === 'notifications') return ['notifications', notifications];
  if (first === 'settings') return ['settings', settings];
  return ['overview', overview];
}

async function route() {
  // Addresses of the first console (#/templates) still lead to their page.
  if (window.location.hash.startsWith('#/')) history.replaceState(null, '', `/admin/${window.location.hash.slice(2)}`);
  if (!sessionStorage.getItem(TOKEN_KEY)) return showSignIn();
  const parts = window.location.pathname.replace(/^\/admin\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [name, draw] = pageOf(parts);
  // The address a page was drawn for, set once it is drawn: a test (or a script) waits for the
  // page of an address, not only for the address bar, which changes before the page's data arrives.
  const address = window.location.pathname + window.location.search;
  try {
    await draw();
    $('view').dataset.address = address;
  } catch (error) {
    if (error.status === 401) return undefined;
    if (error.status === 403) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignIn(error.message);
    }
    page(name, failure(error));
  }
  return undefined;
}

// Links inside the console change the page without reloading it.
document.addEventListener('click', (event) => {
  const link = event.target.closest?.('a[href^="/admin"]');
  if (!link || link.hasAttribute('download') || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  navigate(link.getAttribute('href'));
});
window.addEventListener('popstate', () => void route());
window.addEventListener('console:navigate', () => void route());
void route();

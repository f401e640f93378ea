// The developer's inbox: the messages "sent" through the simulator, newest first, as a small
// self-refreshing HTML page (/inbox) and as JSON (/inbox.json?to=+1...&limit=N) for scripts and
// tests. The page also has a reply box, to text the bank as a customer (STOP, HELP...: see
// replies.ts), and lists what customers texted. No auth: it is a local development tool and shows only simulated traffic. Both are
// capped so a page stays quick after a benchmark has sent 100,000 messages.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { formatBalance, messageJson } from './format.ts';
import type { CallBook, SimulatedCall } from './calls.ts';
import type { CustomerReply, ReplyBook } from './replies.ts';
import type { MessageStore, StoredMessage } from './store.ts';

const HTML_LIMIT = 200;
const JSON_DEFAULT_LIMIT = 1000;

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function row(message: StoredMessage): string {
  const error = message.errorCode === null ? '' : ` (${message.errorCode})`;
  const cells = [
    message.dateCreated.toISOString().replace('T', ' ').slice(0, 19),
    message.to,
    message.from,
    message.body,
    `${message.status}${error}`,
    `${message.numSegments} ${message.encoding}`,
  ];
  return `<tr class="${escapeHtml(message.status)}">${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

function replyRow(reply: CustomerReply): string {
  const webhook = reply.webhookStatus !== null ? `webhook ${reply.webhookStatus}` : (reply.webhookError ?? '');
  const cells = [reply.dateCreated.toISOString().replace('T', ' ').slice(0, 19), reply.from, reply.to, reply.body, webhook, reply.replies.join(' / ')];
  return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

function callRow(call: SimulatedCall): string {
  const cells = [call.dateCreated.toISOString().replace('T', ' ').slice(0, 19), call.to, call.from, call.spoken.join('\n'), call.language ?? '', call.status];
  return `<tr class="${escapeHtml(call.status)}">${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`;
}

/** The reply box: the customer's number (one that was texted, or any), the account's number, the text. */
function replyForm(messages: readonly StoredMessage[], ownNumbers: readonly string[]): string {
  const customers = [...new Set(messages.map((m) => m.to))].slice(0, 50);
  const options = customers.map((n) => `<option value="${escapeHtml(n)}"></option>`).join('');
  const senders = ['<option value="">the number that last texted them</option>', ...ownNumbers.map((n) => `<option>${escapeHtml(n)}</option>`)].join('');
  return `<form method="post" action="/dev/reply" class="reply">
<strong>Reply as a customer</strong>
<label>From <input name="From" list="customers" placeholder="+14155552671" value="${escapeHtml(customers[0] ?? '')}" required></label>
<datalist id="customers">${options}</datalist>
<label>To <select name="To">${senders}</select></label>
<label>Text <input name="Body" placeholder="STOP, START, HELP or anything" required></label>
<button>Send</button>
</form>`;
}

const INBOX_STYLE = `
  body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  td:nth-child(4) { white-space: pre-wrap; max-width: 40rem; }
  tr.delivered td:nth-child(5) { color: #17702e; }
  tr.undelivered td:nth-child(5), tr.failed td:nth-child(5) { color: #b00020; }
  .empty { color: #777; }
  form.reply { margin: 1rem 0; display: flex; gap: .8rem; align-items: center; flex-wrap: wrap; }
`;

const INBOX_SCRIPT = `
  // Refreshes every 2 seconds, except while the reply box is being typed in.
  setInterval(() => { if (!document.activeElement?.closest('form')) location.reload(); }, 2000);
`;

const cspHash = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/**
 * Only the page's own inline style and script (by hash) run; its one form posts to this simulator;
 * no other page may frame it.
 */
export const INBOX_CSP = [
  "default-src 'none'", `style-src ${cspHash(INBOX_STYLE)}`, `script-src ${cspHash(INBOX_SCRIPT)}`,
  "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'",
].join('; ');

export function inboxHtml(
  messages: readonly StoredMessage[], balanceMicros: number, replies: readonly CustomerReply[] = [], ownNumbers: readonly string[] = [], calls: readonly SimulatedCall[] = [],
): string {
  const shown = messages.slice(0, HTML_LIMIT);
  const count = messages.length > shown.length ? `newest ${shown.length} of ${messages.length}` : String(messages.length);
  const rows = shown.length > 0
    ? shown.map(row).join('\n')
    : '<tr><td colspan="6" class="empty">No messages yet.</td></tr>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SMS simulator inbox</title>
<style>${INBOX_STYLE}</style>
<script>${INBOX_SCRIPT}</script>
</head>
<body>
<h1>SMS simulator inbox</h1>
<p>${count} message(s), balance $${escapeHtml(formatBalance(balanceMicros))}. Newest first; refreshes every 2 seconds.</p>
${replyForm(messages, ownNumbers)}
<table>
<thead><tr><th>Time (UTC)</th><th>To</th><th>From</th><th>Body</th><th>Status</th><th>Segments</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<h2>Voice calls</h2>
<table>
<thead><tr><th>Time (UTC)</th><th>To</th><th>From</th><th>Spoken</th><th>Language</th><th>Status</th></tr></thead>
<tbody>
${calls.length ? calls.slice(0, HTML_LIMIT).map(callRow).join('\n') : '<tr><td colspan="6" class="empty">No calls yet.</td></tr>'}
</tbody>
</table>
<h2>Texted by customers</h2>
<table>
<thead><tr><th>Time (UTC)</th><th>From</th><th>To</th><th>Text</th><th>Webhook</th><th>Texted back</th></tr></thead>
<tbody>
${replies.length ? replies.slice(0, HTML_LIMIT).map(replyRow).join('\n') : '<tr><td colspan="6" class="empty">No replies yet.</td></tr>'}
</tbody>
</table>
</body>
</html>
`;
}

export function registerInboxRoutes(app: FastifyInstance, store: MessageStore, book: ReplyBook, ownNumbers: readonly string[], calls?: CallBook): void {
  app.get('/inbox', async (_request, reply) => {
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', INBOX_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer')
      .send(inboxHtml(store.newestFirst(), store.balanceMicros, book.newestFirst(), ownNumbers, calls?.newestFirst()));
  });
  app.get('/inbox/calls.json', async () => ({
    calls: (calls?.newestFirst() ?? []).map((c) => ({ sid: c.sid, to: c.to, from: c.from, status: c.status, language: c.language, spoken: c.spoken, dateCreated: c.dateCreated.toISOString() })),
  }));
  app.get('/inbox.json', async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    // An unencoded '+' in a typed URL arrives as a space; read it back as the E.164 plus.
    const to = typeof query.to === 'string' && query.to !== '' ? query.to.replace(/^ /, '+') : null;
    const asked = Number(query.limit);
    const limit = Number.isInteger(asked) && asked > 0 ? asked : JSON_DEFAULT_LIMIT;
    const messages = store.newestFirst().filter((m) => to === null || m.to === to).slice(0, limit);
    return { balance: formatBalance(store.balanceMicros), currency: 'USD', messages: messages.map(messageJson) };
  });
}

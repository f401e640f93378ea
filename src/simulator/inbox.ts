// The developer's inbox: the messages "sent" through the simulator, newest first, as a small
// self-refreshing HTML page (/inbox) and as JSON (/inbox.json?to=+1...&limit=N) for scripts and
// tests. No auth: it is a local development tool and shows only simulated traffic. Both are
// capped so a page stays quick after a benchmark has sent 100,000 messages.
import type { FastifyInstance } from 'fastify';
import { formatBalance, messageJson } from './format.ts';
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

export function inboxHtml(messages: readonly StoredMessage[], balanceMicros: number): string {
  const shown = messages.slice(0, HTML_LIMIT);
  const count = messages.length > shown.length ? `newest ${shown.length} of ${messages.length}` : String(messages.length);
  const rows = shown.length > 0
    ? shown.map(row).join('\n')
    : '<tr><td colspan="6" class="empty">No messages yet.</td></tr>';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>SMS simulator inbox</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; vertical-align: top; }
  td:nth-child(4) { white-space: pre-wrap; max-width: 40rem; }
  tr.delivered td:nth-child(5) { color: #17702e; }
  tr.undelivered td:nth-child(5), tr.failed td:nth-child(5) { color: #b00020; }
  .empty { color: #777; }
</style>
</head>
<body>
<h1>SMS simulator inbox</h1>
<p>${count} message(s), balance $${escapeHtml(formatBalance(balanceMicros))}. Newest first; refreshes every 2 seconds.</p>
<table>
<thead><tr><th>Time (UTC)</th><th>To</th><th>From</th><th>Body</th><th>Status</th><th>Segments</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}

export function registerInboxRoutes(app: FastifyInstance, store: MessageStore): void {
  app.get('/inbox', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').send(inboxHtml(store.newestFirst(), store.balanceMicros));
  });
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

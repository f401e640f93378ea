// The admin web console at /admin: static files from src/console, served by the app itself under
// a strict CSP. Its data comes from the staff API (staff-routes.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/** The console's files, read once: they are part of the release, not user content. */
const CONSOLE_DIR = join(import.meta.dirname, '../console');
const JS = 'text/javascript; charset=utf-8';
const ASSETS: Record<string, string> = {
  'console.js': JS, 'core.js': JS, 'pages-sms.js': JS, 'pages-customers.js': JS, 'pages-log.js': JS, 'pages-tools.js': JS,
  'console.css': 'text/css; charset=utf-8',
};
/** Chart.js, served from the installed package: no CDN, the same origin the CSP allows. */
const CHART_JS = join(import.meta.dirname, '../../node_modules/chart.js/dist/chart.umd.min.js');

/**
 * Only the app's own files run: no inline script or style, no other origin, no framing. The data
 * the pages show comes from /api/staff with the token the console keeps in sessionStorage.
 */
export const CONSOLE_CSP = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "connect-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

function consoleHeaders(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .type(type)
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store');
}

export function consoleRoutes(app: FastifyInstance): void {
  const files = new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(join(CONSOLE_DIR, name), 'utf8')]));
  // Without its source-map comment: the map is not served, and the browser need not ask for it.
  files.set('chart.umd.min.js', readFileSync(CHART_JS, 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/, '\n'));
  const page = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
  const sendPage = async (_request: FastifyRequest, reply: FastifyReply) => consoleHeaders(reply, 'text/html; charset=utf-8').send(page);
  app.get('/admin', sendPage);
  app.get('/admin/', sendPage);
  // Every console address is the same page: console.js draws the one the path names.
  app.get('/admin/*', sendPage);
  app.get('/admin/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const text = files.get(file);
    const type = file === 'chart.umd.min.js' ? JS : ASSETS[file];
    if (text === undefined || type === undefined) throw new AppError('not_found', `No console file "${file}".`);
    return consoleHeaders(reply, type).send(text);
  });
}

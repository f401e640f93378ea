// The admin web console at /admin: static files from src/console, served by the app itself under
// a strict CSP. Its data comes from the staff API (staff-routes.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.ts';

/** The console's files, read once: they are part of the release, not user content. */
const CONSOLE_DIR = join(import.meta.dirname, '../console');
const ASSETS: Record<string, string> = {
  'console.js': 'text/javascript; charset=utf-8',
  'chart.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

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
  const page = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
  const sendPage = async (_request: FastifyRequest, reply: FastifyReply) => consoleHeaders(reply, 'text/html; charset=utf-8').send(page);
  app.get('/admin', sendPage);
  app.get('/admin/', sendPage);
  app.get('/admin/assets/:file', async (request, reply) => {
    const { file } = request.params as { file: string };
    const text = files.get(file);
    const type = ASSETS[file];
    if (text === undefined || type === undefined) throw new AppError('not_found', `No console file "${file}".`);
    return consoleHeaders(reply, type).send(text);
  });
}

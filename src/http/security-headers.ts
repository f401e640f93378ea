// Headers every answer carries, so a page of this server can never be framed, sniffed into
// another type, or leak its URL (tokens, ids) to another site through the Referer header. Pages
// that set their own Content-Security-Policy (the console, Swagger UI) keep it; every other answer
// (a redirect, an error, JSON rendered by a browser) gets the strictest one.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The CSP of an answer that did not bring its own: nothing loads, nothing frames it. */
export const DEFAULT_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function registerSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    void reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('referrer-policy')) void reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('x-frame-options')) void reply.header('x-frame-options', 'DENY');
    if (!reply.hasHeader('content-security-policy')) void reply.header('content-security-policy', DEFAULT_CSP);
    return payload;
  });
}

/** Swagger UI's own CSP lets same-origin pages frame it; nothing should. */
export function forbidFraming(csp: string): string {
  return /frame-ancestors/.test(csp) ? csp.replace(/frame-ancestors [^;]*/, "frame-ancestors 'none'") : `${csp.replace(/;?\s*$/, ';')} frame-ancestors 'none';`;
}

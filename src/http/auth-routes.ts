// Registration, sign-in with an SMS code, and sign-out. Routes only: parse, call, shape.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { completeLogin, resendLoginCode, startLogin } from '../auth/login.ts';
import { deviceOf, revokeSession } from '../auth/sessions.ts';
import type { AppContext } from '../context.ts';
import { completeRegistration, startRegistration } from '../users/registration.ts';
import { parseInput, requireSession, sessionOf } from './session-auth.ts';

const registerBody = z.strictObject({
  username: z.string().min(1).max(150),
  email: z.string().min(3).max(254),
  password: z.string().min(1).max(1024),
  phone: z.string().min(1).max(64),
});

const codeBody = z.strictObject({
  challengeId: z.string().min(1).max(64),
  code: z.string().min(1).max(16),
});

const loginBody = z.strictObject({
  username: z.string().min(1).max(150),
  password: z.string().min(1).max(1024),
  /** The app's own id for the device, if it has one; with the user agent it tells devices apart. */
  deviceId: z.string().min(1).max(200).optional(),
});

const resendBody = z.strictObject({ challengeId: z.string().min(1).max(64) });

export function authRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/register', async (request, reply) => {
    const body = parseInput(registerBody, request.body);
    const started = await startRegistration(ctx, body, { ip: request.ip });
    return reply.status(201).send(started);
  });

  app.post('/api/register/verify', async (request) => {
    const body = parseInput(codeBody, request.body);
    return completeRegistration(ctx, body);
  });

  app.post('/api/login', async (request) => {
    const body = parseInput(loginBody, request.body);
    const device = deviceOf(request.headers['user-agent'], body.deviceId);
    return startLogin(ctx, { username: body.username, password: body.password, device, ip: request.ip });
  });

  app.post('/api/login/resend', async (request) => {
    const body = parseInput(resendBody, request.body);
    return resendLoginCode(ctx, { challengeId: body.challengeId, ip: request.ip });
  });

  app.post('/api/login/verify', async (request) => {
    const body = parseInput(codeBody, request.body);
    const session = await completeLogin(ctx, body);
    return { token: session.token, tokenType: 'Bearer', expiresAt: session.expiresAt, user: session.user, newDevice: session.newDevice };
  });

  app.post('/api/logout', { preHandler: requireSession(ctx) }, async (request, reply) => {
    await revokeSession(ctx.db, sessionOf(request).sessionId, ctx.clock.now());
    return reply.status(204).send();
  });
}

// Registration, sign-in (SMS code, authenticator app or backup code), sign-out, and the signed-in
// customer's own security settings: authenticator, backup codes, password, phone number.
// Routes only: parse, call, shape.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createBackupCodes } from '../auth/backup-codes.ts';
import { countRequestFromIp } from '../auth/ip-limits.ts';
import { completeLogin, resendLoginCode, startLogin } from '../auth/login.ts';
import { deviceOf, revokeSession } from '../auth/sessions.ts';
import { countryFromHeader } from '../auth/suspicious.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../auth/totp.ts';
import type { AppContext } from '../context.ts';
import { changePassword } from '../users/password-change.ts';
import { completePhoneChange, startPhoneChange } from '../users/phone-change.ts';
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
  /** totp or backup_code: the customer will answer with one of those, so no SMS code is sent. Default sms. */
  secondFactor: z.enum(['sms', 'totp', 'backup_code']).optional(),
});

const resendBody = z.strictObject({ challengeId: z.string().min(1).max(64) });

const loginCodeBody = z.strictObject({
  challengeId: z.string().min(1).max(64),
  code: z.string().min(1).max(32),
  /** sms (default): the code of the SMS; totp: the authenticator app's code; backup_code: one of the 10. */
  method: z.enum(['sms', 'totp', 'backup_code']).optional(),
});

const totpConfirmBody = z.strictObject({ code: z.string().min(1).max(16) });

const passwordBody = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword: z.string().min(1).max(1024),
});

const phoneBody = z.strictObject({ phoneNumber: z.string().min(1).max(64) });

const phoneVerifyBody = z.strictObject({
  code: z.string().min(1).max(16),
  /** Optional: the latest phone change's code is checked when absent. */
  challengeId: z.string().min(1).max(64).optional(),
});

/** Secrets shown once must not linger in a cache between the bank and the customer. */
const NO_STORE = 'no-store';

export function authRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/register', async (request, reply) => {
    await countRequestFromIp(ctx, 'register', request.ip);
    const body = parseInput(registerBody, request.body);
    const started = await startRegistration(ctx, body, { ip: request.ip });
    return reply.status(201).send(started);
  });

  app.post('/api/register/verify', async (request) => {
    const body = parseInput(codeBody, request.body);
    return completeRegistration(ctx, body);
  });

  app.post('/api/login', async (request) => {
    await countRequestFromIp(ctx, 'login', request.ip);
    const body = parseInput(loginBody, request.body);
    const device = deviceOf(request.headers['user-agent'], body.deviceId);
    return startLogin(ctx, { username: body.username, password: body.password, device, ip: request.ip, secondFactor: body.secondFactor });
  });

  app.post('/api/login/resend', async (request) => {
    const body = parseInput(resendBody, request.body);
    return resendLoginCode(ctx, { challengeId: body.challengeId, ip: request.ip });
  });

  app.post('/api/login/verify', async (request) => {
    const body = parseInput(loginCodeBody, request.body);
    const header = ctx.config.security.geoCountryHeader;
    const country = header ? countryFromHeader(request.headers[header]) : undefined;
    const session = await completeLogin(ctx, { ...body, country });
    return {
      token: session.token, tokenType: 'Bearer', expiresAt: session.expiresAt, user: session.user, newDevice: session.newDevice,
      method: session.method, ...(session.backupCodesRemaining !== undefined && { backupCodesRemaining: session.backupCodesRemaining }),
    };
  });

  app.post('/api/2fa/totp', { preHandler: requireSession(ctx) }, async (request, reply) => {
    const enrolment = await startTotpEnrolment(ctx, sessionOf(request).userId);
    return reply.status(201).header('cache-control', NO_STORE).send(enrolment);
  });

  app.post('/api/2fa/totp/confirm', { preHandler: requireSession(ctx) }, async (request) => {
    const body = parseInput(totpConfirmBody, request.body);
    const confirmed = await confirmTotpEnrolment(ctx, sessionOf(request).userId, body.code);
    return { active: true, confirmedAt: confirmed.confirmedAt };
  });

  app.post('/api/2fa/backup-codes', { preHandler: requireSession(ctx) }, async (request, reply) => {
    const set = await createBackupCodes(ctx, sessionOf(request).userId);
    return reply.status(201).header('cache-control', NO_STORE).send(set);
  });

  app.post('/api/password', { preHandler: requireSession(ctx) }, async (request) => {
    const body = parseInput(passwordBody, request.body);
    const session = sessionOf(request);
    return changePassword(ctx, { userId: session.userId, sessionId: session.sessionId, ...body });
  });

  app.post('/api/phone', { preHandler: requireSession(ctx) }, async (request, reply) => {
    const body = parseInput(phoneBody, request.body);
    const started = await startPhoneChange(ctx, { userId: sessionOf(request).userId, phoneNumber: body.phoneNumber, ip: request.ip });
    return reply.status(202).send(started);
  });

  app.post('/api/phone/verify', { preHandler: requireSession(ctx) }, async (request) => {
    const body = parseInput(phoneVerifyBody, request.body);
    return completePhoneChange(ctx, { userId: sessionOf(request).userId, ...body });
  });

  app.post('/api/logout', { preHandler: requireSession(ctx) }, async (request, reply) => {
    await revokeSession(ctx.db, sessionOf(request).sessionId, ctx.clock.now());
    return reply.status(204).send();
  });
}

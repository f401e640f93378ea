// Registration, sign-in (SMS code, authenticator app or backup code), sign-out, and the signed-in
// customer's own security settings: authenticator, backup codes, password, phone number.
// Routes only: parse, call, shape.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createBackupCodes } from '../auth/backup-codes.ts';
import { countRequestFromIp } from '../auth/ip-limits.ts';
import { callLoginCode, completeLogin, loginCodeStatus, resendLoginCode, startLogin } from '../auth/login.ts';
import { deviceOf, revokeSession } from '../auth/sessions.ts';
import { countryFromHeader } from '../auth/suspicious.ts';
import { confirmTotpEnrolment, startTotpEnrolment } from '../auth/totp.ts';
import type { AppContext } from '../context.ts';
import { changePassword } from '../users/password-change.ts';
import { completePhoneChange, startPhoneChange } from '../users/phone-change.ts';
import { completeRegistration, startRegistration } from '../users/registration.ts';
import { doc } from './openapi.ts';
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

/** Security changes ask for the password again: a session alone must not add a way in. */
const reauthBody = z.strictObject({ currentPassword: z.string().min(1, 'your current password: security changes ask for it again').max(1024) });

const passwordBody = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword: z.string().min(1).max(1024),
});

const phoneBody = z.strictObject({ phoneNumber: z.string().min(1).max(64), currentPassword: reauthBody.shape.currentPassword });

const phoneVerifyBody = z.strictObject({
  code: z.string().min(1).max(16),
  /** Optional: the latest phone change's code is checked when absent. */
  challengeId: z.string().min(1).max(64).optional(),
});

/** Secrets shown once must not linger in a cache between the bank and the customer. */
const NO_STORE = 'no-store';

export function authRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post('/api/register', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Register with email, password and mobile number; the number gets a verification code by SMS', body: registerBody, responses: { 201: 'the challenge id to verify with', 400: 'invalid input, weak password or invalid phone number', 409: 'the number or username is taken', 429: 'too many registrations from this network' } }) }, async (request, reply) => {
    await countRequestFromIp(ctx, 'register', request.ip);
    const body = parseInput(registerBody, request.body);
    const started = await startRegistration(ctx, body, { ip: request.ip });
    return reply.status(201).send(started);
  });

  app.post('/api/register/verify', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Verify the phone with its code: the account becomes active and the welcome message goes out', body: codeBody, responses: { 200: 'the active user', 400: 'wrong code', 410: 'code expired or used', 429: 'too many attempts' } }) }, async (request) => {
    const body = parseInput(codeBody, request.body);
    return completeRegistration(ctx, body);
  });

  app.post('/api/login', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Sign in, step 1: password; sends the SMS code (or expects an authenticator or backup code)', body: loginBody, responses: { 200: 'the challenge id and where the code went (last 4 digits)', 401: 'wrong username or password', 423: 'account locked: try again later', 429: 'too many sign-ins from this network' } }) }, async (request) => {
    await countRequestFromIp(ctx, 'login', request.ip);
    const body = parseInput(loginBody, request.body);
    const device = deviceOf(request.headers['user-agent'], body.deviceId);
    return startLogin(ctx, { username: body.username, password: body.password, device, ip: request.ip, secondFactor: body.secondFactor });
  });

  app.post('/api/login/resend', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Send a new login code (after 30 s, at most 3 times in 10 minutes)', body: resendBody, responses: { 200: 'the new challenge', 429: 'too soon or too many: see Retry-After' } }) }, async (request) => {
    const body = parseInput(resendBody, request.body);
    return resendLoginCode(ctx, { challengeId: body.challengeId, ip: request.ip });
  });

  app.post('/api/login/call', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Call me instead: a new login code read by a voice call (the previous code stops working)', description: 'For a number that cannot take SMS (opted out, unreachable, refused by Twilio) or a customer who prefers a call. The digits are read slowly, twice, in your language. Same limits, expiry and attempts as an SMS code; no wait when the SMS could not arrive, else 30 seconds after the last code.', body: resendBody, responses: { 200: 'the new challenge, with delivery.channel voice', 429: 'too soon or too many: see Retry-After' } }) }, async (request) => {
    const body = parseInput(resendBody, request.body);
    return callLoginCode(ctx, { challengeId: body.challengeId, ip: request.ip });
  });

  app.post('/api/login/status', { schema: doc({ tag: 'auth', auth: 'none', summary: 'What became of the login code: sent, delivered, refused by Twilio (e.g. 21610 after a STOP), being read by a call; and the choices when it will not arrive', description: 'The code SMS is sent by a background job, so Twilio may refuse it after the sign-in answered: ask here while waiting for it.', body: resendBody, responses: { 200: 'the delivery', 400: 'no such sign-in' } }) }, async (request) => {
    const body = parseInput(resendBody, request.body);
    return loginCodeStatus(ctx, body.challengeId);
  });

  app.post('/api/login/verify', { schema: doc({ tag: 'auth', auth: 'none', summary: 'Sign in, step 2: the SMS code, an authenticator code or a backup code; answers the session token', body: loginCodeBody, responses: { 200: 'the session token (Bearer) and its expiry', 400: 'wrong code', 410: 'code expired or used', 423: 'account locked', 429: 'too many attempts' } }) }, async (request) => {
    const body = parseInput(loginCodeBody, request.body);
    const header = ctx.config.security.geoCountryHeader;
    const country = header ? countryFromHeader(request.headers[header]) : undefined;
    const session = await completeLogin(ctx, { ...body, country });
    return {
      token: session.token, tokenType: 'Bearer', expiresAt: session.expiresAt, user: session.user, newDevice: session.newDevice,
      method: session.method, ...(session.backupCodesRemaining !== undefined && { backupCodesRemaining: session.backupCodesRemaining }),
    };
  });

  app.post('/api/2fa/totp', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Enrol an authenticator app (asks for the password again): answers the otpauth:// URI and secret, once', body: reauthBody, responses: { 201: 'the URI and secret', 403: 'wrong current password', 409: 'an authenticator is already active' } }) }, async (request, reply) => {
    const { currentPassword } = parseInput(reauthBody, request.body);
    const enrolment = await startTotpEnrolment(ctx, sessionOf(request).userId, currentPassword);
    return reply.status(201).header('cache-control', NO_STORE).send(enrolment);
  });

  app.post('/api/2fa/totp/confirm', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Activate the authenticator with its first code', body: totpConfirmBody }) }, async (request) => {
    const body = parseInput(totpConfirmBody, request.body);
    const confirmed = await confirmTotpEnrolment(ctx, sessionOf(request).userId, body.code);
    return { active: true, confirmedAt: confirmed.confirmedAt };
  });

  app.post('/api/2fa/backup-codes', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Make 10 single-use backup codes, shown once (asks for the password again; replaces the old set)', body: reauthBody, responses: { 201: 'the codes', 403: 'wrong current password' } }) }, async (request, reply) => {
    const { currentPassword } = parseInput(reauthBody, request.body);
    const set = await createBackupCodes(ctx, sessionOf(request).userId, currentPassword);
    return reply.status(201).header('cache-control', NO_STORE).send(set);
  });

  app.post('/api/password', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Change the password: signs out other sessions and sends the password-changed notice', body: passwordBody, responses: { 200: 'changed', 400: 'weak new password', 403: 'wrong current password' } }) }, async (request) => {
    const body = parseInput(passwordBody, request.body);
    const session = sessionOf(request);
    return changePassword(ctx, { userId: session.userId, sessionId: session.sessionId, ...body });
  });

  app.post('/api/phone', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Change the mobile number, step 1 (asks for the password again): a code goes to the new number', body: phoneBody, responses: { 202: 'the code was sent', 400: 'Invalid Phone Number', 403: 'wrong current password', 409: 'the number belongs to another customer' } }) }, async (request, reply) => {
    const body = parseInput(phoneBody, request.body);
    const started = await startPhoneChange(ctx, { userId: sessionOf(request).userId, phoneNumber: body.phoneNumber, currentPassword: body.currentPassword, ip: request.ip });
    return reply.status(202).send(started);
  });

  app.post('/api/phone/verify', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Change the mobile number, step 2: the code; both the old and the new number are told', body: phoneVerifyBody }) }, async (request) => {
    const body = parseInput(phoneVerifyBody, request.body);
    return completePhoneChange(ctx, { userId: sessionOf(request).userId, ...body });
  });

  app.post('/api/logout', { preHandler: requireSession(ctx), schema: doc({ tag: 'auth', summary: 'Sign out: revokes this session', responses: { 204: 'signed out' } }) }, async (request, reply) => {
    await revokeSession(ctx.db, sessionOf(request).sessionId, ctx.clock.now());
    return reply.status(204).send();
  });
}

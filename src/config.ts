// One validated configuration object. Every setting, its default and its meaning live here;
// start-up reads the environment (and an untracked .env) once and stops on any bad value,
// listing every problem at once with an example of a right value.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { isSupportedCountry } from 'libphonenumber-js/max';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { DEFAULT_ALLOWED_COUNTRIES, type CountryCode } from './sms/phone.ts';
import type { TwilioAuth } from './sms/twilio-provider.ts';

const E164 = /^\+[1-9]\d{7,14}$/;
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const COUNTRY = /^[A-Z]{2}$/;


/**
 * Credentials the in-process simulator uses when no Twilio account is configured.
 * They are not secrets: they only open the local simulator.
 */
export const SIMULATOR_DEFAULTS = {
  accountSid: 'AC00000000000000000000000000000000',
  authToken: 'simulator-auth-token',
  phoneNumber: '+15005550006',
} as const;

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const countryList = z
  .string()
  .transform((v) => v.split(',').map((c) => c.trim().toUpperCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(COUNTRY, 'each entry must be a two-letter ISO country code')
    .refine(isSupportedCountry, 'each entry must be a country libphonenumber knows (a two-letter ISO code such as US or CA)')).min(1));

const priceOverrides = z
  .string()
  .transform((v, ctx) => {
    const out: Record<string, number> = {};
    for (const pair of v.split(',').map((p) => p.trim()).filter(Boolean)) {
      const [country, price] = pair.split('=').map((s) => s.trim());
      const n = Number(price);
      if (!country || !COUNTRY.test(country.toUpperCase()) || !Number.isFinite(n) || n < 0) {
        ctx.addIssue({ code: 'custom', message: `"${pair}" is not COUNTRY=PRICE` });
        return z.NEVER;
      }
      out[country.toUpperCase()] = n;
    }
    return out;
  });

/** One E.164 sender number, or several separated by commas (each keeps its own TWILIO_SENDER_MPS). */
const senderNumbers = z
  .string()
  .transform((v) => [...new Set(v.split(',').map((n) => n.trim()).filter(Boolean))])
  .pipe(z.array(z.string().regex(E164, 'must be in E.164 format: a plus sign, the country code and the number, no spaces; separate several numbers with commas')).min(1));

/** PUBLIC_BASE_URL=off turns status callbacks off even in simulator mode (status is then polled only). */
const publicBaseUrl = optionalText.pipe(z.union([
  z.literal('off'),
  z.url({ protocol: /^https?$/, error: 'must be the http(s) URL Twilio reaches this server at, with no path, or off' })
    // Webhook signatures cover the whole URL; the routes live at the root, so a path could never match.
    .refine((u) => !URL.canParse(u) || (new URL(u).pathname === '/' && new URL(u).search === ''), 'must be the origin only, with no path or query, e.g. https://bank.example.com'),
]).optional());

/** One trusted proxy: an address, a CIDR range, or proxy-addr's names for the private ranges. */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (!family || rest.length) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/**
 * TRUST_PROXY: the reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or
 * ranges), or a number of hops. "true" is refused: trusting every peer lets any client pick its IP.
 */
const trustProxy = optionalText.pipe(z.union([
  z.string().regex(/^\d{1,2}$/).transform(Number),
  z.string()
    .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(isProxyAddress, 'each entry must be an IP address or CIDR range of your reverse proxy (or loopback, linklocal, uniquelocal), or the whole value a number of proxy hops; "true" is refused because it lets any client choose its IP')).min(1)),
]).optional());

const envSchema = z.object({
  TWILIO_ACCOUNT_SID: optionalText.pipe(z.string().regex(ACCOUNT_SID, "must be 'AC' followed by 32 hex characters").optional()),
  TWILIO_AUTH_TOKEN: optionalText.pipe(z.string().min(16, 'looks too short for a Twilio auth token (32 characters)').optional()),
  TWILIO_AUTH_TOKEN_PREVIOUS: optionalText.pipe(z.string().min(16, 'looks too short for a Twilio auth token (32 characters)').optional()),
  TWILIO_API_KEY_SID: optionalText.pipe(z.string().regex(/^SK[0-9a-fA-F]{32}$/, "must be 'SK' followed by 32 hex characters").optional()),
  TWILIO_API_KEY_SECRET: optionalText,
  TWILIO_PHONE_NUMBER: optionalText.pipe(senderNumbers.optional()),
  TWILIO_MESSAGING_SERVICE_SID: optionalText.pipe(z.string().regex(/^MG[0-9a-fA-F]{32}$/, "must be 'MG' followed by 32 hex characters").optional()),
  TWILIO_API_BASE_URL: optionalText.pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional()),
  TWILIO_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  TWILIO_SENDER_MPS: z.coerce.number().min(0).max(10_000).default(1),
  TWILIO_BREAKER_FAILURES: z.coerce.number().int().min(0).max(10_000).default(5),
  TWILIO_BREAKER_OPEN_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  SMS_PROVIDER: optionalText.pipe(z.enum(['twilio', 'simulator']).optional()),
  PUBLIC_BASE_URL: publicBaseUrl,
  SIMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(8001),
  DATABASE_URL: optionalText.pipe(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// connection URL').optional()),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8000),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  LOG_DIR: z.string().trim().min(1).default('./logs'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Checked against libphonenumber's regions: an unknown one (ZZ) would refuse every national number.
  DEFAULT_REGION: z.string().trim().toUpperCase().regex(COUNTRY, 'must be a two-letter ISO country code')
    .refine(isSupportedCountry, 'is not a country libphonenumber knows, so no national number could be read').default('US'),
  SMS_ALLOWED_COUNTRIES: countryList.optional(),
  SMS_PRICE_PER_SEGMENT: z.coerce.number().min(0).max(10).default(0.0075),
  SMS_PRICE_OVERRIDES: priceOverrides.optional(),
  VOICE_PRICE_PER_MINUTE: z.coerce.number().min(0).max(10).default(0.014),
  CODE_SEND_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(1500),
  SMS_UNREACHABLE_AFTER: z.coerce.number().int().min(1).max(100).default(3),
  SMS_USER_HOURLY_LIMIT: z.coerce.number().int().min(0).default(10),
  SMS_USER_DAILY_LIMIT: z.coerce.number().int().min(0).default(30),
  SMS_GLOBAL_HOURLY_LIMIT: z.coerce.number().int().min(0).default(10_000),
  SMS_DAILY_SPEND_CAP_USD: z.coerce.number().min(0).max(1_000_000).default(100),
  CODE_NUMBER_LIMIT: z.coerce.number().int().min(0).default(5),
  CODE_IP_LIMIT: z.coerce.number().int().min(0).default(10),
  CODE_COUNTRY_HOURLY_LIMIT: z.coerce.number().int().min(0).default(200),
  SMTP_URL: optionalText.pipe(z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }).optional()),
  EMAIL_FROM: z.string().trim().min(3).default('DominionTrust Bank <alerts@dominiontrust.example>'),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(512).default(16),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(15_000),
  DATA_ENCRYPTION_KEY: optionalText.pipe(z.string()
    .refine((v) => /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, 'base64').length === 32, 'must be 32 random bytes in base64 (44 characters); make one with `openssl rand -base64 32`')
    .optional()),
  GEO_COUNTRY_HEADER: optionalText.pipe(z.string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name, e.g. cf-ipcountry').optional()),
  SUSPICIOUS_TRANSFER_MINOR: z.coerce.number().int().min(1).default(100_000),
  LOGIN_IP_LIMIT: z.coerce.number().int().min(0).default(20),
  REGISTER_IP_LIMIT: z.coerce.number().int().min(0).default(20),
  PHONE_CHANGE_COOLING_OFF: z.string().trim().toLowerCase().default('24h')
    .pipe(z.string().regex(/^\d{1,6}(ms|s|m|h|d)?$/, 'must be a duration: a number with s, m, h or d, e.g. 24h, 90m, or 0 for none'))
    .transform(durationMs),
  TRUST_PROXY: trustProxy,
  STAFF_SESSION_IDLE_MINUTES: z.coerce.number().int().min(1).max(720).default(30),
  // Shorter than a customer's 12 hours (src/auth/sessions.ts SESSION_TTL_MS): staff see every customer.
  STAFF_SESSION_MAX_HOURS: z.coerce.number().int().min(1).max(11, 'must be shorter than a customer session (12 hours)').default(8),
  PASSWORD_HASH_COST: z.coerce.number().int().min(10).max(20).default(15),
  TEST_CLOCK_OFFSET_MS: z.coerce.number().int().default(0),
  NODE_ENV: optionalText,
});

/** "24h", "90m", "30s", "2d", "500ms" or bare seconds, as milliseconds. */
function durationMs(text: string): number {
  const [, digits, unit] = /^(\d+)([a-z]*)$/.exec(text) ?? [];
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit || 's'] ?? 1000;
  return Number(digits) * factor;
}

const EXAMPLES: Record<string, string> = {
  TWILIO_ACCOUNT_SID: 'AC0123456789abcdef0123456789abcdef',
  TWILIO_AUTH_TOKEN: 'the 32-character Auth Token shown at console.twilio.com',
  TWILIO_AUTH_TOKEN_PREVIOUS: 'the auth token being rotated out, until no callback is signed with it',
  TWILIO_API_KEY_SID: 'SK0123456789abcdef0123456789abcdef',
  TWILIO_PHONE_NUMBER: '+14155552671',
  PUBLIC_BASE_URL: 'https://bank.example.com',
  TWILIO_MESSAGING_SERVICE_SID: 'MG0123456789abcdef0123456789abcdef',
  TWILIO_API_BASE_URL: 'http://127.0.0.1:8001',
  TWILIO_TIMEOUT_MS: '10000',
  TWILIO_SENDER_MPS: '1',
  TWILIO_BREAKER_FAILURES: '5',
  TWILIO_BREAKER_OPEN_MS: '10000',
  SMS_PROVIDER: 'simulator',
  SIMULATOR_PORT: '8001',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/dominion',
  PORT: '8000',
  LOG_LEVEL: 'info',
  DEFAULT_REGION: 'US',
  SMS_ALLOWED_COUNTRIES: 'US,CA,PR',
  SMS_PRICE_PER_SEGMENT: '0.0075',
  SMS_PRICE_OVERRIDES: 'CA=0.0083,GB=0.0400',
  VOICE_PRICE_PER_MINUTE: '0.014',
  CODE_SEND_WAIT_MS: '1500',
  SMS_UNREACHABLE_AFTER: '3',
  SMS_USER_HOURLY_LIMIT: '10',
  SMS_USER_DAILY_LIMIT: '30',
  SMS_GLOBAL_HOURLY_LIMIT: '10000',
  SMS_DAILY_SPEND_CAP_USD: '100',
  CODE_NUMBER_LIMIT: '5',
  CODE_IP_LIMIT: '10',
  CODE_COUNTRY_HOURLY_LIMIT: '200',
  SMTP_URL: 'smtp://user:password@smtp.example.com:587',
  EMAIL_FROM: 'DominionTrust Bank <alerts@dominiontrust.example>',
  WORKER_CONCURRENCY: '16',
  SHUTDOWN_TIMEOUT_MS: '15000',
  DATA_ENCRYPTION_KEY: 'the output of `openssl rand -base64 32`',
  GEO_COUNTRY_HEADER: 'cf-ipcountry',
  SUSPICIOUS_TRANSFER_MINOR: '100000',
  LOGIN_IP_LIMIT: '20',
  REGISTER_IP_LIMIT: '20',
  PHONE_CHANGE_COOLING_OFF: '24h',
  TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
  STAFF_SESSION_IDLE_MINUTES: '30',
  STAFF_SESSION_MAX_HOURS: '8',
  PASSWORD_HASH_COST: '15',
};

/** Variables whose values must never be echoed back, not even in a validation error. */
const SECRET_VARS = new Set(['TWILIO_AUTH_TOKEN', 'TWILIO_AUTH_TOKEN_PREVIOUS', 'TWILIO_API_KEY_SECRET', 'DATABASE_URL', 'SMTP_URL', 'DATA_ENCRYPTION_KEY']);

export interface Config {
  smsProvider: 'twilio' | 'simulator';
  twilio: {
    accountSid: string;
    /** The auth token; also the key that signs Twilio's webhooks. */
    authToken: string;
    /**
     * The auth token being rotated out (TWILIO_AUTH_TOKEN_PREVIOUS): webhook signatures made with
     * it are still accepted until it is removed, so a rotation loses no callback. Default none.
     */
    previousAuthToken: string | undefined;
    /** Credentials for REST calls: API key when given (rotatable), else the auth token. */
    auth: TwilioAuth;
    /** The first of phoneNumbers: the number shown where one sender is meant. */
    phoneNumber: string | undefined;
    /**
     * Every sender number (TWILIO_PHONE_NUMBER, comma-separated). The sender throttle spreads
     * messages over them, each within senderMps; empty only when no number is configured.
     */
    phoneNumbers: readonly string[];
    messagingServiceSid: string | undefined;
    apiBaseUrl: string;
    timeoutMs: number;
    /**
     * Messages per second each sender (number or Messaging Service) may send, across all workers:
     * about 1 for a US long code, 3 for toll-free, 100+ for a short code. 0 = no limit.
     */
    senderMps: number;
    /**
     * The circuit breaker of the account (src/sms/provider-breaker.ts): after `failures` retryable
     * failures in a row (429, 5xx, timeouts, resets; TWILIO_BREAKER_FAILURES, default 5, 0 = off)
     * no request goes to Twilio for `openMs` (TWILIO_BREAKER_OPEN_MS, default 10000, or the
     * Retry-After Twilio asked for when longer); sends wait, rescheduled, then one probe goes.
     */
    breaker: { failures: number; openMs: number };
  };
  /**
   * The URL Twilio reaches this server at (PUBLIC_BASE_URL, no trailing slash): sends ask for
   * status callbacks at <url>/webhooks/twilio/status, and webhook signatures are checked against
   * it. In simulator mode it defaults to http://127.0.0.1:PORT (when PORT is not 0); undefined
   * means no callbacks, status is polled.
   */
  publicBaseUrl: string | undefined;
  /** Port of the in-process simulator started in simulator mode (0 = any free port). */
  simulatorPort: number;
  /** PostgreSQL URL; undefined means embedded PGlite in dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  host: string;
  logDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  defaultRegion: CountryCode;
  smsAllowedCountries: readonly CountryCode[];
  pricing: { pricePerSegment: number; perCountry: Record<string, number> };
  voice: {
    /** Estimated USD per started minute of a code call (Twilio US outbound: about 0.014); a code call is counted as one minute, in the daily spend too. */
    pricePerMinute: number;
    /**
     * How long sign-in and transfer confirmation wait for Twilio's answer to the code SMS before
     * answering (0 = not at all), so a refused code (21610) is told at once; the client can
     * always ask again at POST /api/login/status. Default 1500.
     */
    codeSendWaitMs: number;
  };
  /** Limits of notification SMS and codes, counted in PostgreSQL so they hold across workers. 0 = no limit. */
  limits: SmsLimits;
  /**
   * Permanent failures in a row (invalid, landline, unknown to the carrier: 21211, 30005, 30006...)
   * after which a number is marked unreachable (SMS_UNREACHABLE_AFTER, default 3): its alerts go by
   * email, sign-in offers a call or the other factor, and the customer is emailed once how to fix it.
   */
  smsUnreachableAfter: number;
  email: {
    /** smtp(s)://user:pass@host:port; undefined = the in-memory developer mailbox, nothing leaves. */
    smtpUrl: string | undefined;
    /** The From header of every email, e.g. "DominionTrust Bank <alerts@dominiontrust.example>". */
    from: string;
  };
  workerConcurrency: number;
  shutdownTimeoutMs: number;
  /** Milliseconds added to the system clock (TEST_CLOCK_OFFSET_MS); 0 except in test suites (NODE_ENV=test). */
  testClockOffsetMs: number;
  /**
   * The key that encrypts secrets stored in the database (TOTP secrets), AES-256-GCM. Required with
   * DATABASE_URL, where every process must share it; undefined on the embedded database, which
   * keeps a generated one in DATA_DIR (src/auth/data-key.ts).
   */
  dataEncryptionKey: Buffer | undefined;
  security: SecurityRules;
  /**
   * The reverse proxies whose X-Forwarded-For names the client (addresses or CIDR ranges), or how
   * many proxy hops to believe; undefined: the TCP peer is the client and X-Forwarded-For is ignored,
   * so per-IP limits cannot be dodged by sending that header.
   */
  trustProxy: readonly string[] | number | undefined;
}

export interface SecurityRules {
  /**
   * A header a trusted proxy in front of the server sets to the client's ISO country (e.g.
   * cf-ipcountry), lower-case; undefined switches the 'login from a new country' alert off.
   */
  geoCountryHeader: string | undefined;
  /** A transfer of at least this many minor units within 24 hours of a password change raises a suspicious-activity alert. Default 100000. */
  suspiciousTransferMinor: number;
  /** POST /api/login requests per IP address per 10 minutes. Default 20; 0 = no limit. */
  loginIpLimit: number;
  /** POST /api/register requests per IP address per 10 minutes. Default 20; 0 = no limit. */
  registerIpLimit: number;
  /**
   * After a phone number changes, large transfers and transfers to new payees wait this long
   * (PHONE_CHANGE_COOLING_OFF, default 24h; 0 = none): the usual defence against SIM swaps.
   */
  phoneChangeCoolingOffMs: number;
  /** Cost of new argon2id password hashes: 15 is OWASP's minimum (19 MiB, 2 passes), each step doubles the memory; below 15 only with NODE_ENV=test. */
  passwordHashCost: number;
  /** How long a staff member's session lives; a customer's lasts 12 hours from sign-in. */
  staffSession: StaffSessionRules;
}

export interface StaffSessionRules {
  /** A staff session unused this long ends (STAFF_SESSION_IDLE_MINUTES, default 30). */
  idleMs: number;
  /** A staff session ends this long after sign-in, however busy (STAFF_SESSION_MAX_HOURS, default 8; below 12). */
  maxAgeMs: number;
}

export interface SmsLimits {
  /** Notification SMS per customer per clock hour (UTC); past it, email or hold. Default 10. */
  userHourly: number;
  /** Notification SMS per customer per UTC day. Default 30. */
  userDaily: number;
  /** Notification SMS of the whole bank per clock hour. Default 10,000. */
  globalHourly: number;
  /** Estimated USD spent on SMS per UTC day (codes included) before non-urgent SMS stop. Default 100. */
  dailySpendCapUsd: number;
  /** Codes to one phone number per 10 minutes (Twilio Verify's limit, error 60203). Default 5. */
  codeNumber: number;
  /** Codes requested from one IP address per 10 minutes. Default 10. */
  codeIp: number;
  /**
   * Codes per hour to one number prefix (country calling code and the next three digits, e.g.
   * +1415): SMS pumping rings use ranges of numbers under one prefix. Default 200.
   */
  codeCountryHourly: number;
}

/** One bad setting: the variable and what is wrong with it (never its secret value). */
export interface ConfigIssue {
  variable: string;
  /** What is wrong, with the value seen (unless secret) and an example of a right one. */
  problem: string;
}

/** AppError('config_invalid') that also lists each bad variable, so a command can show them one by one. */
export class ConfigError extends AppError {
  readonly issues: readonly ConfigIssue[];

  constructor(message: string, issues: readonly ConfigIssue[]) {
    super('config_invalid', message);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Reads KEY=value lines from a .env file; missing file means no values. */
export function readDotEnv(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  return parseEnv(text) as Record<string, string>;
}

/**
 * Builds the configuration from environment variables, over values from `.env` in cwd.
 * Throws ConfigError (AppError 'config_invalid') listing every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, dotEnvPath = resolve('.env')): Config {
  const merged = { ...readDotEnv(dotEnvPath), ...env };
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(environment)');
      const raw = merged[variable];
      const got = raw === undefined || SECRET_VARS.has(variable) ? '' : ` (got "${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}")`;
      const example = EXAMPLES[variable] ? `; example: ${variable}=${EXAMPLES[variable]}` : '';
      return { variable, problem: `${issue.message}${got}${example}` };
    });
    const lines = issues.map((i) => `  - ${i.variable}: ${i.problem}`);
    throw new ConfigError(`Configuration is invalid:\n${lines.join('\n')}\nSet these in the environment or in .env (see .env.example).`, issues);
  }
  return toConfig(parsed.data);
}

function toConfig(e: z.infer<typeof envSchema>): Config {
  const hasTwilio = Boolean(e.TWILIO_ACCOUNT_SID && (e.TWILIO_AUTH_TOKEN || (e.TWILIO_API_KEY_SID && e.TWILIO_API_KEY_SECRET)) && e.TWILIO_PHONE_NUMBER);
  const smsProvider = e.SMS_PROVIDER ?? (hasTwilio ? 'twilio' : 'simulator');
  const issues: ConfigIssue[] = [];
  if (e.TWILIO_API_KEY_SID && !e.TWILIO_API_KEY_SECRET) issues.push({ variable: 'TWILIO_API_KEY_SECRET', problem: 'required when TWILIO_API_KEY_SID is set' });
  // Every process on a shared database must decrypt what another encrypted: one key, given to all.
  if (e.DATABASE_URL && !e.DATA_ENCRYPTION_KEY) {
    issues.push({ variable: 'DATA_ENCRYPTION_KEY', problem: 'required when DATABASE_URL is set (the same key for every server and worker); make one with `openssl rand -base64 32`' });
  }
  // Twilio signs webhooks with the auth token only; an API key cannot check them.
  if (e.PUBLIC_BASE_URL && e.PUBLIC_BASE_URL !== 'off' && smsProvider === 'twilio' && !e.TWILIO_AUTH_TOKEN) {
    issues.push({ variable: 'TWILIO_AUTH_TOKEN', problem: 'required when PUBLIC_BASE_URL is set: Twilio signs its webhooks (X-Twilio-Signature) with the auth token' });
  }
  // Below OWASP's argon2id minimum only where nothing real is stored: the test suite's fast hashes.
  if (e.PASSWORD_HASH_COST < 15 && e.NODE_ENV !== 'test') {
    issues.push({ variable: 'PASSWORD_HASH_COST', problem: `${e.PASSWORD_HASH_COST} is below OWASP's password-hash minimum of 15 (argon2id, 19 MiB; allowed only with NODE_ENV=test)` });
  }
  // A shifted clock lets a test suite's worker processes share its held daytime; never elsewhere.
  if (e.TEST_CLOCK_OFFSET_MS !== 0 && e.NODE_ENV !== 'test') {
    issues.push({ variable: 'TEST_CLOCK_OFFSET_MS', problem: 'allowed only with NODE_ENV=test (it moves the clock every limit and quiet hour is decided by)' });
  }
  if (e.STAFF_SESSION_IDLE_MINUTES > e.STAFF_SESSION_MAX_HOURS * 60) {
    issues.push({ variable: 'STAFF_SESSION_IDLE_MINUTES', problem: `${e.STAFF_SESSION_IDLE_MINUTES} minutes is longer than STAFF_SESSION_MAX_HOURS (${e.STAFF_SESSION_MAX_HOURS} hours), so it would never apply; example: STAFF_SESSION_IDLE_MINUTES=30` });
  }
  if (issues.length) {
    throw new ConfigError(`Configuration is invalid:\n${issues.map((i) => `  - ${i.variable}: ${i.problem}`).join('\n')}`, issues);
  }

  const simulator = smsProvider === 'simulator';
  const phoneNumbers = simulator ? (e.TWILIO_PHONE_NUMBER ?? [SIMULATOR_DEFAULTS.phoneNumber]) : (e.TWILIO_PHONE_NUMBER ?? []);
  const localServerUrl = e.PORT === 0 ? undefined : `http://${urlHost(e.HOST)}:${e.PORT}`;
  const publicUrl = e.PUBLIC_BASE_URL === 'off' ? undefined : (e.PUBLIC_BASE_URL ?? (simulator ? localServerUrl : undefined));
  const accountSid = simulator ? (e.TWILIO_ACCOUNT_SID ?? SIMULATOR_DEFAULTS.accountSid) : (e.TWILIO_ACCOUNT_SID ?? '');
  const authToken = simulator ? (e.TWILIO_AUTH_TOKEN ?? SIMULATOR_DEFAULTS.authToken) : (e.TWILIO_AUTH_TOKEN ?? '');
  const auth: TwilioAuth = e.TWILIO_API_KEY_SID && e.TWILIO_API_KEY_SECRET
    ? { kind: 'apiKey', apiKeySid: e.TWILIO_API_KEY_SID, apiKeySecret: e.TWILIO_API_KEY_SECRET }
    : { kind: 'token', authToken };
  return {
    smsProvider,
    twilio: {
      accountSid,
      authToken,
      previousAuthToken: e.TWILIO_AUTH_TOKEN_PREVIOUS,
      auth,
      phoneNumber: phoneNumbers[0],
      phoneNumbers,
      messagingServiceSid: e.TWILIO_MESSAGING_SERVICE_SID,
      apiBaseUrl: (e.TWILIO_API_BASE_URL ?? (simulator ? `http://127.0.0.1:${e.SIMULATOR_PORT}` : 'https://api.twilio.com')).replace(/\/+$/, ''),
      timeoutMs: e.TWILIO_TIMEOUT_MS,
      senderMps: e.TWILIO_SENDER_MPS,
      breaker: { failures: e.TWILIO_BREAKER_FAILURES, openMs: e.TWILIO_BREAKER_OPEN_MS },
    },
    publicBaseUrl: publicUrl?.replace(/\/+$/, ''),
    simulatorPort: e.SIMULATOR_PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: resolve(e.DATA_DIR),
    port: e.PORT,
    host: e.HOST,
    logDir: resolve(e.LOG_DIR),
    logLevel: e.LOG_LEVEL,
    defaultRegion: e.DEFAULT_REGION,
    smsAllowedCountries: e.SMS_ALLOWED_COUNTRIES ?? DEFAULT_ALLOWED_COUNTRIES,
    pricing: { pricePerSegment: e.SMS_PRICE_PER_SEGMENT, perCountry: e.SMS_PRICE_OVERRIDES ?? {} },
    voice: { pricePerMinute: e.VOICE_PRICE_PER_MINUTE, codeSendWaitMs: e.CODE_SEND_WAIT_MS },
    limits: {
      userHourly: e.SMS_USER_HOURLY_LIMIT,
      userDaily: e.SMS_USER_DAILY_LIMIT,
      globalHourly: e.SMS_GLOBAL_HOURLY_LIMIT,
      dailySpendCapUsd: e.SMS_DAILY_SPEND_CAP_USD,
      codeNumber: e.CODE_NUMBER_LIMIT,
      codeIp: e.CODE_IP_LIMIT,
      codeCountryHourly: e.CODE_COUNTRY_HOURLY_LIMIT,
    },
    smsUnreachableAfter: e.SMS_UNREACHABLE_AFTER,
    email: { smtpUrl: e.SMTP_URL, from: e.EMAIL_FROM },
    workerConcurrency: e.WORKER_CONCURRENCY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    testClockOffsetMs: e.TEST_CLOCK_OFFSET_MS,
    dataEncryptionKey: e.DATA_ENCRYPTION_KEY ? Buffer.from(e.DATA_ENCRYPTION_KEY, 'base64') : undefined,
    security: {
      geoCountryHeader: e.GEO_COUNTRY_HEADER?.toLowerCase(),
      suspiciousTransferMinor: e.SUSPICIOUS_TRANSFER_MINOR,
      loginIpLimit: e.LOGIN_IP_LIMIT,
      registerIpLimit: e.REGISTER_IP_LIMIT,
      phoneChangeCoolingOffMs: e.PHONE_CHANGE_COOLING_OFF,
      passwordHashCost: e.PASSWORD_HASH_COST,
      staffSession: { idleMs: e.STAFF_SESSION_IDLE_MINUTES * 60_000, maxAgeMs: e.STAFF_SESSION_MAX_HOURS * 3_600_000 },
    },
    trustProxy: e.TRUST_PROXY,
  };
}

/** A listening address as a URL host: any-interface addresses are reached on loopback. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Shows a secret as its last four characters only, e.g. "••••••••a1b2". */
export function maskSecret(value: string | undefined): string {
  if (!value) return '(not set)';
  return `${'•'.repeat(8)}${value.slice(-4)}`;
}

// The local half of `--check-setup`: each setting present and well-formed, without any network
// call. Secrets are shown as their last four characters only.
import { maskSecret, type Config, type ConfigIssue } from '../config.ts';
import { MAGIC_SENDER } from '../sms/phone-policy.ts';
import { statusCallbackUrl } from '../sms/delivery.ts';
import { inboundSmsUrl } from '../sms/inbound.ts';
import { maskPhoneNumber } from '../sms/phone.ts';
import { failed, passed, warning, type Check, type Problem } from './report.ts';

const CREDENTIAL_VARIABLES: ReadonlySet<string> = new Set(['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_KEY_SID', 'TWILIO_API_KEY_SECRET']);
const SENDER_VARIABLES: ReadonlySet<string> = new Set(['TWILIO_PHONE_NUMBER', 'TWILIO_MESSAGING_SERVICE_SID']);

export const CREDENTIALS_FIX =
  'Copy the Account SID (AC followed by 32 hex characters) and the Auth Token from console.twilio.com (Account Info on the dashboard) ' +
  'into .env as TWILIO_ACCOUNT_SID=... and TWILIO_AUTH_TOKEN=..., with no quotes or spaces.';
export const SENDER_FIX =
  'Buy or pick an SMS-capable number (console: Phone Numbers → Manage → Active numbers) and set it in .env in E.164 format, ' +
  'e.g. TWILIO_PHONE_NUMBER=+14155550100. `npx dominion test_twilio_sms --phone-numbers` lists the account\'s numbers.';

function problemOfVariable(variable: string): Problem {
  if (CREDENTIAL_VARIABLES.has(variable)) return 'invalid_credentials';
  if (SENDER_VARIABLES.has(variable)) return 'phone_not_configured';
  return 'invalid_configuration';
}

/** One failed check per bad variable, when the configuration could not even be loaded. */
export function checksFromConfigIssues(issues: readonly ConfigIssue[]): Check[] {
  return issues.map((issue) => {
    const problem = problemOfVariable(issue.variable);
    const fix = problem === 'invalid_credentials' ? CREDENTIALS_FIX
      : problem === 'phone_not_configured' ? SENDER_FIX
        : `Correct ${issue.variable} in .env or the environment (see docs/setup-twilio.md).`;
    return failed(`settings.${issue.variable.toLowerCase()}`, problem, `${issue.variable}: ${issue.problem}`, fix);
  });
}

/** Checks of the loaded configuration: what would be used, and anything missing. */
export function settingsChecks(config: Config): Check[] {
  const { twilio } = config;
  const simulator = config.smsProvider === 'simulator';
  const checks: Check[] = [];

  checks.push(simulator
    ? warning('settings.provider', 'SMS provider', `simulator at ${twilio.apiBaseUrl}: no real SMS is sent; messages appear in the developer inbox (/dev/inbox of the running server)`,
      'To send real SMS, set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER in .env (SMS_PROVIDER=twilio).')
    : passed('settings.provider', 'SMS provider', `Twilio at ${twilio.apiBaseUrl} (real SMS)`));

  if (twilio.accountSid === '') {
    checks.push(failed('settings.twilio_account_sid', 'invalid_credentials', 'TWILIO_ACCOUNT_SID is not set.', CREDENTIALS_FIX));
  } else {
    checks.push(passed('settings.twilio_account_sid', 'Account SID', `TWILIO_ACCOUNT_SID ${maskSecret(twilio.accountSid)}`));
  }

  if (twilio.auth.kind === 'apiKey') {
    checks.push(passed('settings.twilio_auth', 'Credentials', `API key ${maskSecret(twilio.auth.apiKeySid)} with secret ${maskSecret(twilio.auth.apiKeySecret)}`));
  } else if (twilio.auth.authToken === '') {
    checks.push(failed('settings.twilio_auth', 'invalid_credentials', 'TWILIO_AUTH_TOKEN is not set.', CREDENTIALS_FIX));
  } else {
    checks.push(passed('settings.twilio_auth', 'Auth Token', `TWILIO_AUTH_TOKEN ${maskSecret(twilio.auth.authToken)}`));
  }

  if (twilio.messagingServiceSid) {
    checks.push(passed('settings.sender', 'Sender', `Messaging Service ${twilio.messagingServiceSid} (it picks the sending number)`));
  } else if (!twilio.phoneNumbers.length) {
    checks.push(failed('settings.sender', 'phone_not_configured', 'TWILIO_PHONE_NUMBER is not set, so there is no number to send from.', SENDER_FIX));
  } else if (twilio.phoneNumbers.includes(MAGIC_SENDER) && !simulator) {
    checks.push(warning('settings.sender', 'Sender', `TWILIO_PHONE_NUMBER ${MAGIC_SENDER} is Twilio's magic test number: it only works with test credentials, which send nothing.`,
      SENDER_FIX));
  } else if (twilio.phoneNumbers.length > 1) {
    checks.push(passed('settings.sender', 'Senders', `TWILIO_PHONE_NUMBER ${twilio.phoneNumbers.join(', ')}: messages spread over ${twilio.phoneNumbers.length} numbers, a customer keeps theirs while it is free`));
  } else {
    checks.push(passed('settings.sender', 'Sender', `TWILIO_PHONE_NUMBER ${twilio.phoneNumber}`));
  }

  checks.push(config.publicBaseUrl === undefined
    ? warning('settings.callbacks', 'Status callbacks', 'PUBLIC_BASE_URL is not set: delivery status is polled, and STOP/HELP replies are not received',
      'Set PUBLIC_BASE_URL to the https URL Twilio reaches this server at, and set the numbers\' "A message comes in" webhook to <PUBLIC_BASE_URL>/webhooks/twilio/inbound.')
    : passed('settings.callbacks', 'Status callbacks', `${statusCallbackUrl(config)}; replies at ${inboundSmsUrl(config)}`));

  checks.push(passed('settings.countries', 'Destinations',
    `SMS to ${config.smsAllowedCountries.join(', ')}; numbers without a country code are read as ${config.defaultRegion}`));
  return checks;
}

/** True when a failed setting makes calling Twilio pointless (nothing to authenticate with). */
export function blocksTwilioCalls(checks: readonly Check[]): boolean {
  return checks.some((c) => !c.ok && (c.code === 'invalid_credentials' || c.code === 'invalid_configuration'));
}

/** Last 4 characters of a credential, enough to tell which one is configured. */
function lastFour(value: string | undefined): string | null {
  return value ? `…${value.slice(-4)}` : null;
}

/** A URL as it may be shown: any user:password@ in it removed. */
function withoutUserInfo(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString().replace(/\/$/, '');
}

/** What is configured, as staff screens may show it: credentials and numbers by their last 4 characters only. */
export function publicSettings(config: Config) {
  const { twilio, limits, email } = config;
  return {
    twilio: {
      mode: config.smsProvider,
      accountSid: lastFour(twilio.accountSid),
      authToken: lastFour(twilio.authToken),
      apiKeySid: twilio.auth.kind === 'apiKey' ? lastFour(twilio.auth.apiKeySid) : null,
      apiKeySecretSet: twilio.auth.kind === 'apiKey',
      phoneNumber: twilio.phoneNumber ? maskPhoneNumber(twilio.phoneNumber) : null,
      messagingServiceSid: lastFour(twilio.messagingServiceSid),
      apiBaseUrl: withoutUserInfo(twilio.apiBaseUrl),
      timeoutMs: twilio.timeoutMs,
      senderMps: twilio.senderMps,
    },
    pricing: { pricePerSegmentUsd: config.pricing.pricePerSegment, perCountryUsd: config.pricing.perCountry },
    allowedCountries: config.smsAllowedCountries,
    limits,
    email: { smtpConfigured: Boolean(email.smtpUrl), from: email.from },
  };
}

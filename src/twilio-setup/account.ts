// The Twilio half of the setup checks: the credentials against the account, the configured
// sender among the account's numbers, the balance; and the account and number listings.
import { maskSecret, type Config } from '../config.ts';
import type { AppContext } from '../context.ts';
import { SmsProviderError, type ProviderAccount, type ProviderBalance, type SenderNumber } from '../sms/provider.ts';
import { MAGIC_SENDER } from '../sms/phone-policy.ts';
import { checkFromError, failed, passed, warning, type Check } from './report.ts';
import { SENDER_FIX } from './settings.ts';

export type TwilioContext = Pick<AppContext, 'config' | 'provider'>;

export interface AccountInfo {
  friendlyName: string;
  /** Masked to its last four characters. */
  sid: string;
  status: string;
  type: 'Trial' | 'Full';
  /** ISO 8601, or null when Twilio did not say. */
  createdAt: string | null;
  balance: number | null;
  currency: string | null;
}

export interface AccountNumber {
  phoneNumber: string;
  friendlyName: string;
  sms: boolean;
  mms: boolean;
  voice: boolean;
  /** One of the numbers in TWILIO_PHONE_NUMBER. */
  isSender: boolean;
}

/** Each Twilio resource is asked for once per run, however many flags need it. */
export class TwilioLookups {
  readonly #ctx: TwilioContext;
  #account?: Promise<ProviderAccount>;
  #balance?: Promise<ProviderBalance>;
  #numbers?: Promise<SenderNumber[]>;

  constructor(ctx: TwilioContext) {
    this.#ctx = ctx;
  }

  account(): Promise<ProviderAccount> {
    return (this.#account ??= this.#ctx.provider.fetchAccount());
  }

  balance(): Promise<ProviderBalance> {
    return (this.#balance ??= this.#ctx.provider.fetchBalance());
  }

  numbers(): Promise<SenderNumber[]> {
    return (this.#numbers ??= this.#ctx.provider.listSenderNumbers());
  }
}

/** Twilio's test credentials may not read balances or numbers (20008): not a failure of the setup. */
function notReadableWithTestCredentials(error: unknown): boolean {
  return error instanceof SmsProviderError && error.twilioCode === 20008;
}

export async function checkCredentials(lookups: TwilioLookups): Promise<Check> {
  try {
    const account = await lookups.account();
    const what = `accepted: account "${account.friendlyName}" (${maskSecret(account.sid)}, ${account.type})`;
    if (account.status === 'active') return passed('twilio.credentials', 'Twilio credentials', `${what} is active`);
    return failed('twilio.credentials', 'insufficient_funds', `${what} is ${account.status}`,
      'A suspended account usually ran out of funds: add credit in the Twilio console (Billing). A closed account cannot send: use another.',
      { title: 'Account not active' });
  } catch (error) {
    if (notReadableWithTestCredentials(error)) {
      return warning('twilio.credentials', 'Twilio credentials', 'accepted as test credentials: they send nothing, and the account cannot be read with them',
        'Use the live Account SID and Auth Token to send real SMS.');
    }
    return checkFromError('twilio.credentials', error, 'Twilio refused the credentials');
  }
}

/** The sender against the account; undefined without one (the settings check already failed for it). */
export async function checkSender(config: Config, lookups: TwilioLookups): Promise<Check | undefined> {
  const { phoneNumbers, messagingServiceSid } = config.twilio;
  if (messagingServiceSid) return passed('twilio.sender', 'Sender', `Messaging Service ${messagingServiceSid} picks the number`);
  if (!phoneNumbers.length) return undefined;
  const listed = phoneNumbers.join(', ');
  let numbers: SenderNumber[];
  try {
    numbers = await lookups.numbers();
  } catch (error) {
    if (notReadableWithTestCredentials(error)) {
      return warning('twilio.sender', 'Sender', `${listed} could not be checked: test credentials cannot list numbers`);
    }
    return checkFromError('twilio.sender', error, "Listing the account's phone numbers failed");
  }
  // Every configured number must be able to send: the throttle spreads messages over all of them.
  const owned: SenderNumber[] = [];
  for (const phoneNumber of phoneNumbers) {
    const found = numbers.find((n) => n.phoneNumber === phoneNumber);
    if (!found && phoneNumber === MAGIC_SENDER && config.smsProvider === 'twilio') {
      return warning('twilio.sender', 'Sender', `${phoneNumber} is Twilio's magic test number, valid only with test credentials (nothing is delivered)`, SENDER_FIX);
    }
    if (!found) {
      const has = numbers.length ? `it has ${numbers.map((n) => n.phoneNumber).join(', ')}` : 'it has no phone numbers';
      return failed('twilio.sender', 'phone_not_configured', `TWILIO_PHONE_NUMBER ${phoneNumber} is not a number of this Twilio account (${has}).`, SENDER_FIX);
    }
    if (!found.capabilities.sms) {
      return failed('twilio.sender', 'phone_not_configured', `${phoneNumber} is on the account but cannot send SMS (voice only).`,
        'Use an SMS-capable number: buy one with "SMS" checked under Phone Numbers → Buy a number, and set TWILIO_PHONE_NUMBER to it.');
    }
    owned.push(found);
  }
  if (owned.length === 1) return passed('twilio.sender', 'Sender', `${owned[0]!.phoneNumber} ("${owned[0]!.friendlyName}") is on the account and SMS-capable`);
  const rate = config.twilio.senderMps > 0 ? `, ${config.twilio.senderMps} msg/s each` : '';
  return passed('twilio.sender', 'Senders', `${owned.length} numbers, all on the account and SMS-capable: ${listed}${rate}`);
}

/** How many single-segment messages below which the balance is worth a warning. */
const LOW_BALANCE_MESSAGES = 100;

export async function checkBalance(config: Config, lookups: TwilioLookups): Promise<Check> {
  let balance: ProviderBalance;
  try {
    balance = await lookups.balance();
  } catch (error) {
    if (notReadableWithTestCredentials(error)) return warning('twilio.balance', 'Balance', 'not readable with test credentials');
    return checkFromError('twilio.balance', error, 'Reading the balance failed');
  }
  const price = config.pricing.pricePerSegment;
  const amount = `${balance.balance.toFixed(2)} ${balance.currency}`;
  const covers = price > 0 ? Math.floor(balance.balance / price) : Number.POSITIVE_INFINITY;
  if (balance.balance <= 0 || covers < 1) {
    return failed('twilio.balance', 'insufficient_funds', `The balance is ${amount}: not enough for one message (${price} USD per segment).`,
      'Add credit in the Twilio console (Billing → Add funds), and consider auto-recharge so codes never stop.');
  }
  const detail = `${amount}, about ${Number.isFinite(covers) ? covers.toLocaleString('en-US') : 'unlimited'} single-segment messages at ${price} USD`;
  if (covers < LOW_BALANCE_MESSAGES) {
    return warning('twilio.balance', 'Balance low', detail, 'Add credit in the Twilio console (Billing → Add funds) before it runs out.');
  }
  return passed('twilio.balance', 'Balance', detail);
}

/** `--account-info`: the account, and its balance judged as `--check-setup` judges it. */
export async function accountInfo(config: Config, lookups: TwilioLookups): Promise<{ checks: Check[]; account?: AccountInfo }> {
  let account: ProviderAccount;
  try {
    account = await lookups.account();
  } catch (error) {
    if (notReadableWithTestCredentials(error)) return { checks: [warning('twilio.account', 'Account', 'not readable with test credentials')] };
    return { checks: [checkFromError('twilio.account', error, 'Reading the account failed')] };
  }
  const checks: Check[] = [];
  // The same verdict as --check-setup: a balance that cannot pay one message is Insufficient Funds.
  const balanceCheck = await checkBalance(config, lookups);
  if (balanceCheck.level !== 'ok') checks.push(balanceCheck);
  const balance: ProviderBalance | null = await lookups.balance().catch(() => null);
  const info: AccountInfo = {
    friendlyName: account.friendlyName,
    sid: maskSecret(account.sid),
    status: account.status,
    type: account.type,
    createdAt: account.dateCreated?.toISOString() ?? null,
    balance: balance?.balance ?? null,
    currency: balance?.currency ?? null,
  };
  checks.unshift(account.status === 'active'
    ? passed('twilio.account', 'Account', `"${info.friendlyName}" is active`)
    : failed('twilio.account', 'insufficient_funds', `"${info.friendlyName}" is ${account.status}`, 'Add credit in the Twilio console (Billing), or contact Twilio Support.', { title: 'Account not active' }));
  return { checks, account: info };
}

export async function listNumbers(config: Config, lookups: TwilioLookups): Promise<{ checks: Check[]; numbers?: AccountNumber[] }> {
  let numbers: SenderNumber[];
  try {
    numbers = await lookups.numbers();
  } catch (error) {
    if (notReadableWithTestCredentials(error)) return { checks: [warning('twilio.numbers', 'Phone numbers', 'not readable with test credentials')] };
    return { checks: [checkFromError('twilio.numbers', error, "Listing the account's phone numbers failed")] };
  }
  const senders = config.twilio.phoneNumbers;
  const listed: AccountNumber[] = numbers.map((n) => ({
    phoneNumber: n.phoneNumber, friendlyName: n.friendlyName, ...n.capabilities, isSender: senders.includes(n.phoneNumber),
  }));
  const checks: Check[] = [passed('twilio.numbers', 'Phone numbers', `${listed.length} on the account`)];
  if (config.twilio.messagingServiceSid) {
    // The service chooses among its own numbers: nothing to mark.
  } else if (!senders.length) {
    checks.push(warning('twilio.numbers', 'No sender configured', 'TWILIO_PHONE_NUMBER is not set', SENDER_FIX));
  } else {
    for (const sender of senders) {
      const configured = listed.find((n) => n.phoneNumber === sender);
      if (!configured) {
        checks.push(warning('twilio.numbers', 'Sender not on the account', `TWILIO_PHONE_NUMBER ${sender} is not among these numbers`, SENDER_FIX));
      } else if (!configured.sms) {
        checks.push(warning('twilio.numbers', 'Sender cannot send SMS', `TWILIO_PHONE_NUMBER ${sender} has no SMS capability`, SENDER_FIX));
      }
    }
  }
  return { checks, numbers: listed };
}

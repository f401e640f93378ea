// The JSON shapes of Twilio's 2010-04-01 resources (field names, string-typed numbers, RFC 2822
// dates, relative URIs), as described in Twilio's OpenAPI document. Every field is always present,
// null when empty, because that is what Twilio sends and what the SDK expects.
import { createHash } from 'node:crypto';
import type { SimulatedMessage } from './store.ts';

export const API_VERSION = '2010-04-01';

/** Twilio's date format: RFC 2822 in UTC, e.g. "Thu, 30 Jul 2015 20:00:00 +0000". */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function rfc2822OrNull(date: Date | null): string | null {
  return date ? rfc2822(date) : null;
}

/** Micro-dollars as a USD string with at least 2 and at most 6 decimals, e.g. "14.9925". */
export function formatBalance(micros: number): string {
  const fixed = (micros / 1_000_000).toFixed(6);
  return fixed.replace(/(\.\d\d\d*?)0+$/, '$1');
}

/** A message price as Twilio shows it: what was charged, negative, 5 decimals ("-0.00750"). */
export function formatPrice(usd: number | null): string | null {
  return usd === null ? null : usd.toFixed(5);
}

export function accountPath(accountSid: string): string {
  return `/${API_VERSION}/Accounts/${accountSid}`;
}

const ACCOUNT_SUBRESOURCES: Record<string, string> = {
  available_phone_numbers: 'AvailablePhoneNumbers',
  calls: 'Calls',
  conferences: 'Conferences',
  incoming_phone_numbers: 'IncomingPhoneNumbers',
  notifications: 'Notifications',
  outgoing_caller_ids: 'OutgoingCallerIds',
  recordings: 'Recordings',
  transcriptions: 'Transcriptions',
  addresses: 'Addresses',
  signing_keys: 'SigningKeys',
  connect_apps: 'ConnectApps',
  sip: 'SIP',
  authorized_connect_apps: 'AuthorizedConnectApps',
  usage: 'Usage',
  keys: 'Keys',
  applications: 'Applications',
  short_codes: 'SMS/ShortCodes',
  queues: 'Queues',
  messages: 'Messages',
  balance: 'Balance',
};

export interface AccountView {
  sid: string;
  friendlyName: string;
  type: 'Trial' | 'Full';
  dateCreated: Date;
  /** Only shown to a caller who authenticated with it, as Twilio does; null for API keys. */
  authToken: string | null;
}

export function accountJson(account: AccountView) {
  const base = accountPath(account.sid);
  const subresourceUris: Record<string, string> = {};
  for (const [key, name] of Object.entries(ACCOUNT_SUBRESOURCES)) subresourceUris[key] = `${base}/${name}.json`;
  return {
    auth_token: account.authToken,
    date_created: rfc2822(account.dateCreated),
    date_updated: rfc2822(account.dateCreated),
    friendly_name: account.friendlyName,
    owner_account_sid: account.sid,
    sid: account.sid,
    status: 'active',
    subresource_uris: subresourceUris,
    type: account.type,
    uri: `${base}.json`,
  };
}

export function balanceJson(accountSid: string, balanceMicros: number) {
  return { account_sid: accountSid, balance: formatBalance(balanceMicros), currency: 'USD' };
}

export function messageJson(message: SimulatedMessage) {
  const path = `${accountPath(message.accountSid)}/Messages/${message.sid}`;
  return {
    account_sid: message.accountSid,
    api_version: API_VERSION,
    body: message.body,
    date_created: rfc2822(message.dateCreated),
    date_sent: rfc2822OrNull(message.dateSent),
    date_updated: rfc2822(message.dateUpdated),
    direction: message.direction,
    error_code: message.errorCode,
    error_message: message.errorMessage,
    from: message.from,
    messaging_service_sid: message.messagingServiceSid,
    num_media: '0',
    num_segments: String(message.numSegments),
    price: formatPrice(message.price),
    price_unit: 'USD',
    sid: message.sid,
    status: message.status,
    subresource_uris: { media: `${path}/Media.json`, feedback: `${path}/Feedback.json` },
    to: message.to,
    uri: `${path}.json`,
  };
}

/** A stable 'PN' SID per number, so the same number keeps its SID across restarts. */
export function phoneNumberSid(accountSid: string, phoneNumber: string): string {
  return `PN${createHash('sha256').update(`${accountSid}:${phoneNumber}`).digest('hex').slice(0, 32)}`;
}

/** Twilio names a North American number "(415) 555-0100"; others keep their E.164 form. */
export function phoneFriendlyName(phoneNumber: string): string {
  const nanp = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(phoneNumber);
  return nanp ? `(${nanp[1]}) ${nanp[2]}-${nanp[3]}` : phoneNumber;
}

export function incomingPhoneNumberJson(accountSid: string, phoneNumber: string, dateCreated: Date) {
  const sid = phoneNumberSid(accountSid, phoneNumber);
  const date = rfc2822(dateCreated);
  return {
    account_sid: accountSid,
    address_requirements: 'none',
    address_sid: null,
    api_version: API_VERSION,
    beta: false,
    capabilities: { voice: true, sms: true, mms: true, fax: false },
    date_created: date,
    date_updated: date,
    emergency_status: 'Inactive',
    emergency_address_sid: null,
    emergency_address_status: 'unregistered',
    friendly_name: phoneFriendlyName(phoneNumber),
    identity_sid: null,
    origin: 'twilio',
    phone_number: phoneNumber,
    sid,
    sms_application_sid: null,
    sms_fallback_method: 'POST',
    sms_fallback_url: '',
    sms_method: 'POST',
    sms_url: '',
    status_callback: '',
    status_callback_method: 'POST',
    trunk_sid: null,
    uri: `${accountPath(accountSid)}/IncomingPhoneNumbers/${sid}.json`,
    voice_application_sid: null,
    voice_caller_id_lookup: false,
    voice_fallback_method: 'POST',
    voice_fallback_url: null,
    voice_method: 'POST',
    voice_url: null,
    bundle_sid: null,
    voice_receive_mode: 'voice',
    status: 'in-use',
    type: 'local',
  };
}

// Which phone numbers this deployment texts: its default region, its allowed countries, and
// whether Twilio's magic test numbers (+1 500 555 xxxx) count as phones at all.
import type { Config } from '../config.ts';
import type { NormalisePhoneOptions } from './phone.ts';

/** Twilio's magic "From" number: always accepted with test credentials, never on a live account. */
export const MAGIC_SENDER = '+15005550006';

/**
 * Magic test numbers only work in the simulator or with Twilio's test credentials. Test
 * credentials cannot be told apart by their shape, but they are the only ones that can send from
 * the magic sender +15005550006, so a deployment configured with it is running on test
 * credentials; on a live account a magic number is never a customer's phone.
 */
export function acceptsTwilioTestNumbers(config: Config): boolean {
  return config.smsProvider === 'simulator' || config.twilio.phoneNumber === MAGIC_SENDER;
}

/** The options every normalisePhoneNumber call of this deployment uses. */
export function phonePolicyFor(config: Config): NormalisePhoneOptions {
  return {
    defaultRegion: config.defaultRegion,
    allowedCountries: config.smsAllowedCountries,
    allowTwilioTestNumbers: acceptsTwilioTestNumbers(config),
  };
}

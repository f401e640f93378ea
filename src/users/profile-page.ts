// Where staff fix a customer's profile (phone number, unreachable mark): the console page of this
// server, at the address the old Django admin used, so the setup guide and every "User has no
// phone number" message can name it.
import { urlHost, type Config } from '../config.ts';

export const PROFILE_PAGE_PATH = '/admin/accounts/userprofile/';

/** The profile list, or one customer's profile page, as a full URL of this server. */
export function profilePageUrl(config: Pick<Config, 'publicBaseUrl' | 'host' | 'port'>, userId?: string): string {
  const origin = config.publicBaseUrl ?? `http://${urlHost(config.host)}:${config.port || 8000}`;
  return `${origin}${PROFILE_PAGE_PATH}${userId ? `${userId}/` : ''}`;
}

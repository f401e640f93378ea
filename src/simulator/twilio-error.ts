// Errors in the exact shape Twilio's REST API returns, so clients (and the official SDK's
// RestException) read the same code, message and status they would get from Twilio.

export interface TwilioErrorBody {
  code: number;
  message: string;
  more_info: string;
  status: number;
}

/** A request Twilio would refuse: `code` is Twilio's error code, `status` the HTTP status. */
export class TwilioApiError extends Error {
  readonly code: number;
  readonly status: number;

  constructor(code: number, status: number, message: string) {
    super(message);
    this.name = 'TwilioApiError';
    this.code = code;
    this.status = status;
  }

  toBody(): TwilioErrorBody {
    return twilioErrorBody(this.code, this.status, this.message);
  }
}

export function twilioErrorBody(code: number, status: number, message: string): TwilioErrorBody {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

/** Twilio's answer to a bad or missing credential; the message really is just "Authenticate". */
export function authenticateError(): TwilioApiError {
  return new TwilioApiError(20003, 401, 'Authenticate');
}

/** Twilio's 404, naming the requested path (without its query string), e.g. from request.url. */
export function notFoundError(url: string): TwilioApiError {
  const path = url.split('?')[0] ?? url;
  return new TwilioApiError(20404, 404, `The requested resource ${path} was not found`);
}

/** A 400 for a rejected request parameter (the 21xxx family). */
export function badRequest(code: number, message: string): TwilioApiError {
  return new TwilioApiError(code, 400, message);
}

// English default templates. Each SMS fits one GSM-7 segment (160 characters) with its example
// values; critical alerts end with HELP, the rest with the opt-out hint; code messages carry no link.
import type { NotificationTypeId } from '../catalogue.ts';

export interface DefaultTemplate {
  /** Absent for types sent by email only (a number that cannot receive texts). */
  sms?: string;
  /** Absent for types sent by SMS only (one-time codes). */
  email?: { subject: string; body: string };
}

const STOP = 'Reply STOP to opt out.';
const NOT_YOU = 'Not you? Call the number on the back of your card now.';
const SIGN_OFF = '\n\nDominionTrust Bank\nWe will never ask for your password or a code by email, text or phone.';

const email = (subject: string, body: string) => ({ subject, body: `${body}${SIGN_OFF}` });

export const ENGLISH: Record<NotificationTypeId, DefaultTemplate> = {
  two_factor_code: {
    sms: 'DominionTrust: your login code is {code}. It expires in {minutes} minutes. We will never ask you for this code. Reply HELP for help.',
  },
  phone_verification_code: {
    sms: 'DominionTrust: your code to verify this phone is {code}. It expires in {minutes} minutes. We will never ask you for this code.',
  },
  transfer_confirmation_code: {
    sms: 'DominionTrust: code {code} confirms your transfer of {amount} to {payee}. Expires in {minutes} min. We will never ask you for this code.',
  },
  suspicious_activity: {
    sms: `DominionTrust: we noticed {activity} on {time}. ${NOT_YOU}`,
    email: email('Unusual activity on your account',
      'We noticed {activity} on {time}.\n\n' +
      'If this was not you, call the number on the back of your card now and change your password.'),
  },
  new_device_login: {
    sms: `DominionTrust: new sign-in from {device} near {location} on {time}. ${NOT_YOU}`,
    email: email('New sign-in to your account',
      'Your account was signed in to from a new device: {device}, near {location}, on {time}.\n\n' +
      'If this was not you, call the number on the back of your card now and change your password.'),
  },
  account_lockout: {
    sms: 'DominionTrust: online banking is locked after too many failed sign-in attempts. To unlock it, call the number on the back of your card.',
    email: email('Your online banking is locked',
      'Online banking is locked after too many failed sign-in attempts.\n\nTo unlock it, call the number on the back of your card.'),
  },
  transaction: {
    sms: `DominionTrust: transaction {amount}, {merchant}, account ending {account_last4}. Balance {balance}. ${STOP}`,
    email: email('Transaction on your account',
      'A transaction of {amount} ({merchant}) was made on your account ending {account_last4}.\n\nYour balance is {balance}.'),
  },
  low_balance: {
    sms: `DominionTrust: account ending {account_last4} is at {balance}, below your {threshold} alert. ${STOP}`,
    email: email('Low balance',
      'The balance of your account ending {account_last4} is {balance}, below the {threshold} you asked us to watch for.'),
  },
  large_transaction: {
    sms: `DominionTrust: large transaction {amount}, {merchant}, account ending {account_last4}. Not you? Call the number on your card. ${STOP}`,
    email: email('Large transaction on your account',
      'A large transaction of {amount} ({merchant}) was made on your account ending {account_last4}.\n\n' +
      'If you did not make it, call the number on the back of your card now.'),
  },
  transfer_sent: {
    sms: `DominionTrust: you sent {amount} to {payee} from account ending {account_last4}. Not you? Call the number on your card. ${STOP}`,
    email: email('Transfer sent',
      'You sent {amount} to {payee} from your account ending {account_last4}.\n\nIf you did not, call the number on the back of your card now.'),
  },
  transfer_received: {
    sms: `DominionTrust: you received {amount} from {payer} in account ending {account_last4}. ${STOP}`,
    email: email('Money received', 'You received {amount} from {payer} in your account ending {account_last4}.'),
  },
  welcome: {
    sms: 'DominionTrust: welcome, {first_name}! Your account is active. Reply HELP for help, STOP to opt out.',
    email: email('Welcome to DominionTrust', 'Welcome, {first_name}!\n\nYour account is active. We are glad to have you with us.'),
  },
  password_changed: {
    sms: `DominionTrust: your password was changed on {time}. ${NOT_YOU} ${STOP}`,
    email: email('Your password was changed',
      'Your online banking password was changed on {time}.\n\nIf you did not change it, call the number on the back of your card now.'),
  },
  two_factor_changed: {
    sms: `DominionTrust: new authenticator app or backup codes for your sign-in, {time}. Not you? Call the number on your card. ${STOP}`,
    email: email('Your sign-in settings changed',
      'An authenticator app or a new set of backup codes was set up for signing in to your account on {time}.\n\n' +
      'If you did not do this, call the number on the back of your card now.'),
  },
  phone_changed: {
    sms: 'DominionTrust: your phone number was changed to one ending {phone_last4} on {time}. Not you? Call the number on your card now.',
    email: email('Your phone number was changed',
      'The mobile number on your account was changed to one ending {phone_last4} on {time}.\n\n' +
      'If you did not change it, call the number on the back of your card now.'),
  },
  card_created: {
    sms: 'DominionTrust: your new card ending {card_last4} is ready. Reply HELP for help, STOP to opt out.',
    email: email('Your new card', 'Your new card ending {card_last4} is ready.'),
  },
  card_blocked: {
    sms: `DominionTrust: card ending {card_last4} is blocked. Not you? Call the number on your card. ${STOP}`,
    email: email('Your card is blocked',
      'Your card ending {card_last4} is blocked and cannot be used.\n\nIf you did not ask for this, call the number on the back of your card.'),
  },
  card_expiring: {
    sms: `DominionTrust: card ending {card_last4} expires {expires}. Watch for your replacement in the mail. ${STOP}`,
    email: email('Your card expires soon', 'Your card ending {card_last4} expires {expires}. Your replacement is on its way by mail.'),
  },
  kyc_status: {
    sms: `DominionTrust: there is an update on your identity check. Sign in to the DominionTrust app to see it. ${STOP}`,
    email: email('Update on your identity check',
      'There is an update on your identity check.\n\nSign in to the DominionTrust app or online banking to see it.'),
  },
  test_message: {
    sms: 'DominionTrust: test message. If you can read this, SMS works. No action needed.',
    email: email('Test message', 'This is a test message. If you can read it, email works. No action needed.'),
  },
  preferences_changed: {
    sms: `DominionTrust: your notification settings were changed on {time}. Not you? Call the number on your card. ${STOP}`,
    email: email('Your notification settings changed',
      'Your notification settings (channels, quiet hours, digest, language, SMS consent or how codes reach you) were changed on {time}.\n\n' +
      'If you did not do this, call the number on the back of your card now.'),
  },
  phone_unreachable: {
    email: email('Our texts cannot reach your phone',
      'Since {time}, our text messages to your phone number ending {phone_last4} have not been delivered, so we have stopped texting it.\n\n' +
      'Until this is fixed:\n' +
      '- your alerts come to you by email;\n' +
      '- to sign in, ask for your code by voice call, or use your authenticator app or a backup code.\n\n' +
      'To fix it:\n' +
      '1. Check the number: if it has changed, change it in the DominionTrust app (Profile > Mobile number).\n' +
      '2. Make sure it is a mobile number that can receive texts (not a landline), with text messaging switched on, and ask your carrier whether texts from businesses are blocked.\n' +
      '3. If you replied STOP to us, reply START.\n' +
      '4. Call the number on the back of your card so we can check the number and start texting it again.'),
  },
};

// `dominion test_twilio_sms` (alias test-twilio-sms): the setup guide's command with its flags.
// The work is the domain's runTwilioSetup, done by the running server when it owns the embedded
// database, else in this process (test-twilio-sms-report.ts); this file parses flags and prints.
import { InvalidArgumentError, type Command } from 'commander';
import type { TwilioSetupRequest } from '../twilio-setup/run.ts';
import { exitCodeOfReport, reportJson, reportText } from './twilio-report.ts';

interface Flags {
  checkSetup?: boolean;
  accountInfo?: boolean;
  phoneNumbers?: boolean;
  phone?: string;
  wait?: boolean;
  test2fa?: string;
  voice?: boolean;
  testNotification?: string;
  timeout: number;
  json?: boolean;
}

const EXAMPLES = `
Examples (the setup guide's steps):
  npx dominion test_twilio_sms --check-setup
  npx dominion test_twilio_sms --account-info
  npx dominion test_twilio_sms --phone-numbers
  npx dominion test_twilio_sms --phone +14155552671 --wait
  npx dominion test_twilio_sms --test-2fa testuser
  npx dominion test_twilio_sms --test-2fa testuser --voice
  npx dominion test_twilio_sms --test-notification testuser

With no flag, --check-setup runs. While \`npm start\` runs on the embedded database, the server
does the work, so messages land in its simulator inbox. Exit codes and every error message with
its fix: docs/setup-twilio.md.
Exit codes: 0 ok, 1 unexpected, 2 usage, 3 invalid credentials/configuration, 4 authentication error,
  5 phone number not configured, 6 unknown user / no phone number, 7 invalid phone number,
  8 insufficient funds, 9 message delivery failed, 10 network, 11 rate limited, 12 database.`;

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 600) throw new InvalidArgumentError('give whole seconds from 1 to 600.');
  return n;
}

function toRequest(flags: Flags): TwilioSetupRequest {
  if (flags.voice && flags.test2fa === undefined) throw new InvalidArgumentError('--voice goes with --test-2fa USERNAME: it places the login code by call.');
  const request: TwilioSetupRequest = {
    checkSetup: flags.checkSetup ?? false,
    accountInfo: flags.accountInfo ?? false,
    phoneNumbers: flags.phoneNumbers ?? false,
    phone: flags.phone,
    wait: flags.wait ?? false,
    test2fa: flags.test2fa,
    voice: flags.voice ?? false,
    testNotification: flags.testNotification,
    timeoutSeconds: flags.timeout,
  };
  const sends = request.phone !== undefined || request.test2fa !== undefined || request.testNotification !== undefined;
  const asked = request.checkSetup || request.accountInfo || request.phoneNumbers || sends;
  return asked ? request : { ...request, checkSetup: true };
}

export function testTwilioSmsCommand(program: Command): void {
  program
    .command('test_twilio_sms')
    .alias('test-twilio-sms')
    .description('check the Twilio SMS setup and send test messages, as in the setup guide (docs/setup-twilio.md)')
    .option('--check-setup', 'check each setting, the credentials against Twilio, the sender number, the balance and the database')
    .option('--account-info', "show the Twilio account: name, SID (masked), status, type, creation date, balance")
    .option('--phone-numbers', "list the account's numbers with their SMS / MMS / voice capabilities, marking the sender")
    .option('--phone <number>', 'send a test SMS to this number (E.164, e.g. +14155552671; national forms are normalised)')
    .option('--test-2fa <username>', 'send a real login code to this user, through the login path (the code is never shown)')
    .option('--voice', 'with --test-2fa: the code read by a voice call (the fallback when SMS cannot reach the number), through the same path')
    .option('--test-notification <username>', 'send a sample security notification to this user')
    .option('--wait', 'follow each sent message until Twilio reports it delivered, undelivered or failed')
    .option('--timeout <seconds>', 'how long to wait for each message', seconds, 30)
    .option('--json', 'print one JSON object instead of text: {ok, exitCode, checks: [{name, ok, level, title, detail, fix?, code?}], ...}')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: Flags) => {
      const request = toRequest(flags);
      const progress = (line: string) => {
        if (!flags.json) process.stderr.write(`${line}\n`);
      };
      // Loaded here, not at the top: `--help` and a bad flag should not wait for the database drivers.
      const { produceReport } = await import('./test-twilio-sms-report.ts');
      const { report, venue } = await produceReport(request, progress);
      console.log(flags.json ? reportJson(report, venue) : reportText(report, venue));
      process.exitCode = exitCodeOfReport(report);
    });
}

// The secrets scan can fail: synthetic records fed to its rules (test/helpers/secrets-scan.ts),
// each leak it exists for found, and the owner's own views, typed input and documented examples
// let through. The scan itself (secrets-scan.check.ts) runs over the whole suite's records.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordLine } from '../helpers/recorder.ts';
import { findingsIn, issuedCodes, issuedCredentials, phoneNumbersIn, scan, typedNumbers, type FindingClass, type ScanRules } from '../helpers/secrets-scan.ts';

const ALICE = { userId: 'a1', staff: false, phone: '+14155550111' };
const BOB = { userId: 'b2', staff: false, phone: '+14155550222' };
const STAFF = { userId: 's3', staff: true, phone: '+14155550333' };
const CODE = '482913';

const rules: ScanRules = {
  secrets: { 'the Twilio auth token': 'auth-token-0123456789abcdef' },
  publicDefaults: [{ name: "the simulator's default auth token", value: 'simulator-auth-token', usage: /Usage: dominion twilio-sim/ }],
  codes: new Set([CODE, '844860']),
  notCustomers: new Map([['+14155550100', "the bank's sender"]]),
  magic: /^\+1500555\d{4}$/,
  example: '+14155552671',
  demo: ['+14155552671', '+14155552672'],
};

function classes(record: RecordLine): FindingClass[] {
  return findingsIn(record, rules).map((f) => f.class);
}

const answer = (text: string, extra: Partial<RecordLine> = {}): RecordLine => ({ kind: 'http', side: 'bank', where: 'GET /api/me', status: 200, input: '/api/me ', text, ...extra });

let tried = 0;
function found(record: RecordLine, expected: FindingClass[]) {
  tried++;
  assert.deepEqual(classes(record), expected, `${record.kind} ${record.where}: ${record.text}`);
}

describe('secrets scan rules', () => {
  it('finds a code in a log, a full number in a staff answer, a card number in CLI output, a customer\'s number in another customer\'s answer', () => {
    found({ kind: 'log', where: 'dominion.log', text: `{"level":30,"msg":"sending login code ${CODE}."}` }, ['code']);
    found(answer('{"customers":[{"phoneNumber":"+14155550111"}]}', { where: 'GET /api/staff/customers', viewer: STAFF }), ['phone']);
    found({ kind: 'cli', where: 'dominion users', text: 'card 4111 1111 1111 1111 active' }, ['card']);
    found(answer('{"payee":{"phone":"+14155550222"}}', { viewer: ALICE }), ['phone']);
    // And the forms a number or code takes elsewhere: URL-encoded in a logged URL, spaced, national, spoken.
    found({ kind: 'log', where: 'dominion.log', text: '{"req":{"url":"/api/x?to=%2B14155550222"}}' }, ['phone']);
    found(answer('{"to":"+1 415 555 0222"}', { viewer: ALICE }), ['phone']);
    found(answer('{"to":"(415) 555-0222"}', { viewer: ALICE }), ['phone']);
    found(answer('<Say>8, 4, 4, 8, 6, 0.</Say>', { where: 'POST /webhooks/twilio/voice' }), ['code']);
    found(answer('{"card":"4111111111111111"}', { viewer: ALICE }), ['card']);
    found({ kind: 'log', where: 'dominion.log', text: '{"msg":"auth auth-token-0123456789abcdef"}' }, ['secret']);
  });

  it("lets through the owner's own number in their own answer, what the requester or operator typed, and numbers that are nobody's", () => {
    found(answer('{"phoneNumber":"+14155550111"}', { viewer: ALICE }), []);
    found(answer('{"phoneNumber":"+14155550111"}', { viewer: BOB }), ['phone']); // the same answer to someone else
    found(answer('{"destination":"+14155550444"}', { where: 'POST /api/register', input: '/api/register {"phone":"(415) 555-0444"}' }), []);
    found({ kind: 'cli', where: 'dominion users set-phone frank +1 415 555 0555', text: "frank's phone number is now +14155550555" }, []);
    found({ kind: 'cli', where: 'dominion users set-phone frank', text: "frank's phone number is +14155550555" }, ['phone']);
    found({ kind: 'cli', where: 'dominion start', text: 'testuser phone +14155552671, admin phone +14155552672' }, []);
    found({ kind: 'log', where: 'dominion.log', text: '{"from":"+14155550100","to":"+15005550009"}' }, []);
    // The simulator's answers are Twilio's and the handset's: the SMS there carries its code.
    found({ kind: 'http', side: 'phone', where: 'GET /inbox.json', status: 200, text: `{"to":"+14155550111","body":"your code is ${CODE}"}` }, []);
  });

  it('staff: their own number, or a quote of what they sent in a refusal; a number they set answers masked', () => {
    found(answer('{"phoneNumber":"+14155550333"}', { where: 'GET /api/me', viewer: STAFF }), []);
    const setPhone = { where: 'PUT /api/staff/profiles/x/phone', input: '/api/staff/profiles/x/phone {"phone":"+14155550666"}', viewer: STAFF };
    found(answer('{"phoneNumber":"+14155550666"}', setPhone), ['phone']);
    found(answer('{"message":"+14155550666 is not a mobile number"}', { ...setPhone, status: 400 }), []);
  });

  it('the documented example only as the example; the public default token only in its usage text', () => {
    found(answer('{"message":"Use E.164 format: +14155552671 (plus sign)"}', { status: 400 }), []);
    found({ kind: 'cli', where: 'dominion createuser --help', text: '--phone <number>  (E.164, e.g.\n                +14155552671; national forms)' }, []);
    found(answer('{"phoneNumber":"+14155552671"}', { where: 'GET /api/staff/customers/x', viewer: STAFF }), ['phone']);
    found({ kind: 'cli', where: 'dominion twilio-sim --help', text: 'Usage: dominion twilio-sim [options]\n --auth-token (default: "simulator-auth-token")' }, []);
    found({ kind: 'log', where: 'dominion.log', text: '{"authToken":"simulator-auth-token"}' }, ['secret']);
  });

  it('no false finds: hex ids, fractions, exponents, timestamps, account endings, numbers that are not codes', () => {
    found({ kind: 'log', where: 'dominion.log', text: '{"time":1764000000123,"pid":482913,"sid":"SMa26019980543342b4a2906cbae440d4e","v":0.004347823576748247,"w":7.29939703786281e+210,"u":"%2B301"}' }, []);
    found(answer(`{"balance":"1,482,913.00","last4":"2671","id":"${CODE}7"}`, { viewer: ALICE }), []);
    found(answer('{"card":"4111111111111112"}', { viewer: ALICE }), []); // fails Luhn
  });

  it('harvests the backup codes and authenticator secret shown once, and finds them anywhere but that answer', () => {
    const backup = answer('{"codes":["k7qm-x3tz","p2wd-9hfa"],"createdAt":"2026-12-03T12:00:00Z"}', { where: 'POST /api/2fa/backup-codes', status: 201, viewer: ALICE });
    const totp = answer('{"uri":"otpauth://totp/DominionTrust:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=DominionTrust","secret":"JBSWY3DPEHPK3PXPJBSWY3DP"}', { where: 'POST /api/2fa/totp', status: 201, viewer: ALICE });
    const refused = answer('{"codes":["zzzz-zzzz"]}', { where: 'POST /api/2fa/backup-codes', status: 403, viewer: ALICE });
    const credentials = issuedCredentials([backup, totp, refused]);
    assert.deepEqual([...credentials.keys()].sort(), ['JBSWY3DPEHPK3PXPJBSWY3DP', 'k7qm-x3tz', 'p2wd-9hfa']);
    const withCredentials = { ...rules, credentials };
    const judged = (record: RecordLine) => findingsIn(record, withCredentials).map((f) => `${f.class}: ${f.what}`);
    assert.deepEqual(judged(backup), [], 'the answer that shows them');
    assert.deepEqual(judged(totp), []);
    assert.deepEqual(judged({ kind: 'log', where: 'dominion.log', text: '{"msg":"login","body":{"code":"k7qm-x3tz"}}' }), ['credential: a backup code']);
    assert.deepEqual(judged(answer('{"secret":"JBSWY3DPEHPK3PXPJBSWY3DP"}', { where: 'GET /api/2fa', viewer: ALICE })), ["credential: an authenticator app's secret"]);
    assert.deepEqual(judged({ kind: 'cli', where: 'dominion users show alice', text: 'backup codes: p2wd-9hfa' }), ['credential: a backup code']);
    tried += 5;
  });

  it('harvests the codes the bank sent from SMS bodies and voice TwiML, and reads numbers as typed', () => {
    const sent: RecordLine[] = [
      { kind: 'http', side: 'phone', where: 'POST /Messages.json', status: 201, input: '{"Body":"DominionTrust: your login code is 512993. It expires"}', text: '{}' },
      { kind: 'http', side: 'phone', where: 'POST /Messages.json', status: 201, input: '{"Body":"su clave para ingresar es 334455."}', text: '{}' },
      { kind: 'http', side: 'phone', where: 'POST /Calls.json', status: 201, input: '{"Twiml":"<Say>Your code is</Say><Say>8, 4, 4, 8, 6, 0.</Say>"}', text: '{}' },
      { kind: 'http', side: 'phone', where: 'POST /Messages.json', status: 201, input: '{"Body":"transaction 123456 at Corner Cafe"}', text: '{}' },
    ];
    assert.deepEqual([...issuedCodes(sent)].sort(), ['334455', '512993', '844860']);
    assert.deepEqual([...typedNumbers('dominion users set-phone frank (415) 555-2676 4155552677 +44 7700 900123 +33 6 12 34 56 78')].sort(), ['+14155552676', '+14155552677', '+33612345678', '+447700900123']);
    assert.deepEqual(phoneNumbersIn('a +14155552671 b %2B14155552672 c (415) 555-2673 d 415-555-2674 e +1 415 555 2675').map((p) => p.e164),
      ['+14155552671', '+14155552672', '+14155552673', '+14155552674', '+14155552675']);
    const all = scan(sent, rules);
    assert.deepEqual(all, []);
    console.log(`secrets scan rules: ${tried} synthetic records judged as expected; 3 codes harvested from 4 sends`);
  });
});

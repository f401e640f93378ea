// The new-device alert names the browser and system ("Chrome (Windows)"), not the "Mozilla/5.0"
// every browser sends first, and the alert stays one SMS segment in every language with the
// longest label, the longest IPv4 address as the place and the longest time (12:00 p.m.).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deviceLabel, deviceOf } from '../../src/auth/sessions.ts';
import { notificationType } from '../../src/notifications/catalogue.ts';
import { DEFAULT_LANGUAGES, defaultTemplate } from '../../src/notifications/templates/defaults.ts';
import { renderTemplate } from '../../src/notifications/templates/render.ts';
import { analyseSmsBody } from '../../src/sms/segments.ts';

const AGENTS: [string, string][] = [
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36', 'Chrome (Windows)'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1', 'Safari (iOS)'],
  ['Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0', 'Firefox (Linux)'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0', 'Edge (macOS)'],
  ['Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36', 'Samsung Internet'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0', 'Edge (Windows)'],
  ['DominionApp/1.0', 'DominionApp/1.0'],
  ['Mozilla/5.0', 'an unknown device'],
  ['', 'an unknown device'],
];

describe('device labels', () => {
  for (const [agent, label] of AGENTS) {
    it(`${agent.slice(0, 60) || '(no user agent)'} → ${label}`, () => {
      assert.equal(deviceLabel(agent), label);
      assert.equal(deviceOf(agent, 'device-1').label, label);
      assert.ok(label.length <= 22);
    });
  }

  it('keeps every new-device alert to one segment, in every default language', () => {
    const spec = notificationType('new_device_login');
    // The longest label deviceLabel may give (22 characters), whatever the browser.
    const longest = 'Yandex Browser (Linux)';
    assert.equal(longest.length, 22);
    for (const language of DEFAULT_LANGUAGES) {
      const template = defaultTemplate('new_device_login', language, 'sms')!;
      const body = renderTemplate(spec, template.body, { device: longest, location: '203.000.113.255', time: new Date('2026-12-25T20:00:00Z') },
        { locale: language === 'es' ? 'es-US' : 'en-US', timeZone: 'America/Los_Angeles' });
      assert.ok(!body.includes('Mozilla'));
      assert.equal(analyseSmsBody(body, { pricePerSegment: 0.0075, perCountry: {} }).segments, 1, `${language}: ${body} (${body.length})`);
    }
  });
});

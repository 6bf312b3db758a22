import { describe, expect, it } from 'vitest';
import { chooseLanguage, formatDateTime, translate } from '../src/i18n';
import { en } from '../src/messages/en';
import { mn } from '../src/messages/mn';

describe('the interface language', () => {
  it('follows a remembered choice, then the browser, then English', () => {
    expect(chooseLanguage(['en-US'], 'mn')).toBe('mn');
    expect(chooseLanguage(['mn-MN', 'en'], null)).toBe('mn');
    expect(chooseLanguage(['de-DE', 'en-GB'], null)).toBe('en');
    expect(chooseLanguage(['fr'], null)).toBe('en');
    expect(chooseLanguage([], 'xx')).toBe('en');
  });

  it('has every message in Mongolian, in Cyrillic, with the same placeholders', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      const placeholders = (text: string) => (text.match(/\{\w+\}/g) ?? []).sort();
      expect(placeholders(mn[key]), key).toEqual(placeholders(en[key]));
      expect(mn[key].trim(), key).not.toBe('');
    }
    expect(mn['sign.next']).toMatch(/[\u0400-\u04FF]/);
  });

  it('fills placeholders', () => {
    expect(translate('en', 'sign.fields.left', { count: 3 })).toBe('3 required fields left');
    expect(translate('mn', 'sign.code.wrong', { count: 2 })).toContain('2');
  });

  it("writes dates and times as the language's locale does", () => {
    const locales = { en: 'en-GB', mn: 'mn-MN' } as const;
    for (const language of ['en', 'mn'] as const) {
      const reference = new Intl.DateTimeFormat(locales[language], { dateStyle: 'medium', timeStyle: 'short' });
      for (let month = 0; month < 12; month += 1) {
        for (const [day, hour, minute] of [[1, 0, 7], [9, 13, 45], [28, 23, 59]] as const) {
          const date = new Date(2026, month, day, hour, minute);
          expect(formatDateTime(language, date.toISOString())).toBe(reference.format(date));
        }
      }
    }
    expect(formatDateTime('en', 'not a date')).toBe('not a date');
  });
});

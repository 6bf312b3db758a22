import { describe, expect, it } from 'vitest';
import { chooseLanguage, translate } from '../src/i18n';
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
});

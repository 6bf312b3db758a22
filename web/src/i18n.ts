// The interface's languages: English and Mongolian (the seeds' market). The language is the
// one chosen with the switch (remembered in this browser), else the browser's first language
// we have, else English. Every message exists in both: `mn` is typed by `en`'s keys.

import { createContext, useContext } from 'react';
import { en } from './messages/en';
import { mn } from './messages/mn';

export type Language = 'en' | 'mn';
export type MessageKey = keyof typeof en;
export const LANGUAGES: { code: Language; name: string }[] = [
  { code: 'en', name: 'English' },
  { code: 'mn', name: 'Монгол' },
];

const catalogs: Record<Language, Record<MessageKey, string>> = { en, mn };
const STORAGE_KEY = 'gsign.language';

/** The language for `preferred` browser languages and a remembered choice. */
export function chooseLanguage(preferred: readonly string[], remembered: string | null): Language {
  if (remembered === 'en' || remembered === 'mn') return remembered;
  for (const tag of preferred) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'mn' || primary === 'en') return primary;
  }
  return 'en';
}

/** The language the reader chose with the switch (or `?lang=`), if any. */
export function chosenLanguage(): Language | null {
  let remembered: string | null = null;
  try {
    remembered = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage may be off (private mode, sandboxed iframe): the browser's language decides.
  }
  const choice = new URLSearchParams(window.location.search).get('lang') ?? remembered;
  return choice === 'en' || choice === 'mn' ? choice : null;
}

/** The language this browser should start in. */
export function initialLanguage(): Language {
  return chooseLanguage(navigator.languages ?? [navigator.language], chosenLanguage());
}

/** Remembers the reader's choice. */
export function rememberLanguage(language: Language): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // Not remembered; the switch still works for this page.
  }
}

/** `key`'s message in `language`, with `{name}` placeholders filled from `vars`. */
export function translate(
  language: Language,
  key: MessageKey,
  vars: Record<string, string | number> = {},
): string {
  const template = catalogs[language][key] ?? en[key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export interface I18n {
  language: Language;
  /** The reader's choice (remembered). */
  setLanguage: (language: Language) => void;
  /** A default a page learned (the envelope's language): used unless the reader chose. */
  suggestLanguage: (language: Language) => void;
  t: Translate;
}

export const I18nContext = createContext<I18n>({
  language: 'en',
  setLanguage: () => undefined,
  suggestLanguage: () => undefined,
  t: (key, vars) => translate('en', key, vars),
});

/** The current language and its translator. */
export function useI18n(): I18n {
  return useContext(I18nContext);
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sept', 'Oct', 'Nov', 'Dec'];

/**
 * A date and time in the reader's time zone as the reader's language writes it: what
 * `Intl.DateTimeFormat` (en-GB / mn-MN, medium date, short time) gives, written by hand
 * because building the first formatter loads the browser's locale data, which cost 145 ms at
 * 4x CPU throttling on the signing page's first screen (the unit tests hold the two equal).
 */
export function formatDateTime(language: Language, iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const time = `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
  const [year, month, day] = [date.getFullYear(), date.getMonth(), date.getDate()];
  return language === 'mn'
    ? `${year} оны ${month + 1}-р сарын ${day} ${time}`
    : `${day} ${MONTHS_EN[month]} ${year}, ${time}`;
}

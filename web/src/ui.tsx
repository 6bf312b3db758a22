// Small pieces every page uses: the document title, in-app links, and a refusal in words.

import { useEffect, type ReactNode } from 'react';
import { ApiError } from './api';
import { navigate } from './app';
import { useI18n, type MessageKey } from './i18n';

/** Sets the tab's title to the message `key`. */
export function usePageTitle(key: MessageKey) {
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${t(key)} · GSign`;
  }, [t, key]);
}

/** A link inside the app (no reload). */
export function Link({ to, children }: { to: string; children: ReactNode }) {
  return (
    <a
      href={to}
      onClick={(event) => {
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

/** What a refusal says to a person. */
export function useDescribe() {
  const { t } = useI18n();
  return (err: unknown): string => {
    if (!(err instanceof ApiError)) return t('common.networkError');
    const { problem } = err;
    if (problem.status === 0) return t('common.networkError');
    if (problem.status === 429) return t('common.tooMany');
    if (problem.errors?.length) {
      return t('errors.validation', { detail: problem.errors.map((e) => e.detail).join('; ') });
    }
    return problem.detail ?? problem.title;
  };
}


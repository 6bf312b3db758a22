// Small pieces every page uses: the document title, in-app links, and a refusal in words.

import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
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


/** A message about what just happened on a page. */
export type Notice = { kind: 'success' | 'error'; text: string } | null;

/**
 * What `fetch` answers, loaded when the component mounts and again on `reload` (and when
 * `key` changes); a failure becomes an error notice in the reader's language.
 */
export function useLoaded<T>(fetch: () => Promise<T>, key = '') {
  const describe = useDescribe();
  const [data, setData] = useState<T | null>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const latest = useRef({ fetch, describe });
  latest.current = { fetch, describe };
  const reload = useCallback(async () => {
    try {
      setData(await latest.current.fetch());
    } catch (err) {
      setNotice({ kind: 'error', text: latest.current.describe(err) });
    }
  }, []);
  useEffect(() => {
    void reload();
  }, [reload, key]);
  /** Runs `work` (a change), then loads again; says `done` on success, the refusal on failure. */
  const run = useCallback(
    async (work: () => Promise<unknown>, done?: string) => {
      try {
        await work();
        setNotice(done ? { kind: 'success', text: done } : null);
      } catch (err) {
        setNotice({ kind: 'error', text: latest.current.describe(err) });
      }
      await reload();
    },
    [reload],
  );
  return { data, notice, setNotice, reload, run };
}

/** A page's sections as toggle buttons, the choice kept in the address (`?tab=`). */
export function useSection<T extends string>(ids: readonly T[], fallback: T): [T, (id: T) => void] {
  const [section, setSection] = useState<T>(() => {
    const asked = new URLSearchParams(window.location.search).get('tab');
    return ids.includes(asked as T) ? (asked as T) : fallback;
  });
  const choose = useCallback((id: T) => {
    setSection(id);
    window.history.replaceState(null, '', `${window.location.pathname}?tab=${id}`);
  }, []);
  return [section, choose];
}

export function SectionSwitch<T extends string>({
  sections,
  current,
  onChoose,
  label,
}: {
  sections: { id: T; label: MessageKey }[];
  current: T;
  onChoose: (id: T) => void;
  label: string;
}) {
  const { t } = useI18n();
  return (
    <div className="view-switch" role="group" aria-label={label}>
      {sections.map((x) => (
        <button key={x.id} type="button" className="secondary" aria-pressed={current === x.id} onClick={() => onChoose(x.id)}>
          {t(x.label)}
        </button>
      ))}
    </div>
  );
}

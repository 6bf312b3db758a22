// The app's shell: the language (and its switch), the header, and the page for the path.
// Paths are the ones GSign's mails link to (`/sign`, `/verify-email`, `/accept-invitation`,
// `/reset-password`), sign-in and sign-up, and the signed-in workspace (home, `/documents`,
// `/envelopes`, `/envelopes/{id}`, `/library`, `/organization`, `/account`).

import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import {
  I18nContext,
  LANGUAGES,
  chosenLanguage,
  initialLanguage,
  rememberLanguage,
  translate,
  useI18n,
  type I18n,
  type Language,
} from './i18n';
import { SignPage } from './pages/Sign';
import {
  AcceptInvitationPage,
  NotFoundPage,
  RegisterPage,
  ResetPasswordPage,
  SignInPage,
  VerifyEmailPage,
} from './pages/Account';

/** Moves to `path` inside the app without a reload. */
export function navigate(path: string): void {
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

function usePath(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return path;
}

/** The workspace's paths: their pages come in a chunk of their own (src/workspace.tsx). */
const WORKSPACE = new Set(['/', '/home', '/documents', '/envelopes', '/library', '/organization', '/account']);
type WorkspaceModule = typeof import('./workspace');
let workspaceModule: WorkspaceModule | null = null;

/**
 * The workspace chunk, rendered once it has arrived (not through Suspense, whose reveal
 * throttling held the builder back by a third of a second).
 */
function LazyWorkspace({ path }: { path: string }) {
  const { t } = useI18n();
  const [module, setModule] = useState(workspaceModule);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (module) return;
    import('./workspace').then(
      (loaded) => {
        workspaceModule = loaded;
        setModule(loaded);
      },
      () => setFailed(true),
    );
  }, [module]);
  if (module) return <module.default path={path} />;
  return (
    <p className={failed ? 'notice error' : 'notice'} role={failed ? 'alert' : 'status'}>
      {failed ? t('common.networkError') : t('common.loading')}
    </p>
  );
}

function page(path: string): ReactNode {
  const clean = path.replace(/\/+$/, '') || '/';
  switch (clean) {
    case '/sign':
    case '/embed/sign':
      return <SignPage />;
    case '/verify-email':
      return <VerifyEmailPage />;
    case '/accept-invitation':
      return <AcceptInvitationPage />;
    case '/reset-password':
      return <ResetPasswordPage />;
    case '/sign-in':
      return <SignInPage />;
    case '/register':
      return <RegisterPage />;
    default:
      if (WORKSPACE.has(clean) || /^\/envelopes\/[0-9a-f-]{36}$/i.test(clean)) {
        return <LazyWorkspace path={clean} />;
      }
      return <NotFoundPage />;
  }
}

function LanguageSwitch() {
  const { language, setLanguage, t } = useI18n();
  return (
    <label className="language">
      <span className="visually-hidden">{t('nav.language')}</span>
      <select
        value={language}
        onChange={(event) => setLanguage(event.target.value as Language)}
        aria-label={t('nav.language')}
      >
        {LANGUAGES.map((l) => (
          <option key={l.code} value={l.code} lang={l.code}>
            {l.name}
          </option>
        ))}
      </select>
    </label>
  );
}

export function App() {
  const [language, setLanguageState] = useState<Language>(initialLanguage);
  const path = usePath();
  const setLanguage = useCallback((next: Language) => {
    rememberLanguage(next);
    setLanguageState(next);
  }, []);
  const suggestLanguage = useCallback((suggested: Language) => {
    if (!chosenLanguage()) setLanguageState(suggested);
  }, []);
  const i18n = useMemo<I18n>(
    () => ({
      language,
      setLanguage,
      suggestLanguage,
      t: (key, vars) => translate(language, key, vars),
    }),
    [language, setLanguage, suggestLanguage],
  );
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);
  const embedded =
    (path.startsWith('/sign') || path.startsWith('/embed/')) && window.self !== window.top;
  return (
    <I18nContext.Provider value={i18n}>
      <a className="skip-link" href="#main">
        {i18n.t('nav.skip')}
      </a>
      {!embedded && (
        <header className="top">
          <a className="brand" href="/">
            GSign
          </a>
          <LanguageSwitch />
        </header>
      )}
      <main id="main" tabIndex={-1}>
        {page(path)}
      </main>
    </I18nContext.Provider>
  );
}

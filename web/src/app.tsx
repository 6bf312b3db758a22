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
  HomePage,
  NotFoundPage,
  RegisterPage,
  ResetPasswordPage,
  SignInPage,
  VerifyEmailPage,
} from './pages/Account';
import { DocumentsPage } from './pages/Documents';
import { EnvelopesPage } from './pages/Envelopes';
import { EnvelopePage } from './pages/Envelope';
import { Workspace } from './components/Workspace';
import { OrganizationPage } from './pages/Organization';
import { AccountSettingsPage } from './pages/Profile';
import { LibraryPage } from './pages/Library';

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
    case '/':
    case '/home':
      return (
        <Workspace path={clean}>
          <HomePage />
        </Workspace>
      );
    case '/documents':
      return (
        <Workspace path={clean}>
          <DocumentsPage />
        </Workspace>
      );
    case '/envelopes':
      return (
        <Workspace path={clean}>
          <EnvelopesPage />
        </Workspace>
      );
    case '/organization':
      return (
        <Workspace path={clean}>
          <OrganizationPage />
        </Workspace>
      );
    case '/library':
      return (
        <Workspace path={clean}>
          <LibraryPage />
        </Workspace>
      );
    case '/account':
      return (
        <Workspace path={clean}>
          <AccountSettingsPage />
        </Workspace>
      );
    default: {
      const envelope = /^\/envelopes\/([0-9a-f-]{36})$/i.exec(clean)?.[1];
      if (envelope) {
        return (
          <Workspace path={clean}>
            <EnvelopePage key={envelope} id={envelope} />
          </Workspace>
        );
      }
      return <NotFoundPage />;
    }
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

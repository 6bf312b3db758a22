// The signed-in workspace's frame: the sections (home, documents, envelopes) as a navigation
// bar that wraps on a phone, and sign-out. Without a session it sends the reader to sign-in.

import { useEffect, type ReactNode } from 'react';
import { accounts } from '../api';
import { navigate } from '../app';
import { whenSignedOut } from '../client';
import { useI18n, type MessageKey } from '../i18n';
import { currentSession, endSession } from '../session';

const SECTIONS: { path: string; label: MessageKey }[] = [
  { path: '/', label: 'nav.home' },
  { path: '/documents', label: 'nav.documents' },
  { path: '/envelopes', label: 'nav.envelopes' },
];

/** Ends the session here and on the server, then shows sign-in. */
export function signOut(): void {
  const session = currentSession();
  endSession();
  if (session) void accounts.logout(session.access_token, session.refresh_token).catch(() => undefined);
  navigate('/sign-in');
}

export function Workspace({ path, children }: { path: string; children: ReactNode }) {
  const { t } = useI18n();
  const session = currentSession();
  useEffect(() => {
    whenSignedOut(() => navigate('/sign-in'));
    if (!session) navigate('/sign-in');
  }, [session]);
  if (!session) return null;
  const current = SECTIONS.filter((s) => s.path === '/' ? path === '/' || path === '/home' : path.startsWith(s.path));
  return (
    <>
      <nav className="workspace-nav" aria-label={t('nav.workspace')}>
        <ul>
          {SECTIONS.map((section) => (
            <li key={section.path}>
              <a
                href={section.path}
                aria-current={current.includes(section) ? 'page' : undefined}
                onClick={(event) => {
                  event.preventDefault();
                  navigate(section.path);
                }}
              >
                {t(section.label)}
              </a>
            </li>
          ))}
        </ul>
        <button type="button" className="secondary" onClick={signOut}>
          {t('nav.signOut')}
        </button>
      </nav>
      {children}
    </>
  );
}

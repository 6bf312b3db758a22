// The signed-in workspace's frame: the sections as a navigation bar that wraps on a phone,
// only those the member's role may use (the API refuses the rest anyway; the menu should not
// offer them), and sign-out. Without a session it sends the reader to sign-in. The profile
// (`GET /v1/me`) is read once and shared with the pages through `useMe`.

import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { accounts } from '../api';
import { navigate } from '../app';
import { call, client, whenSignedOut, type Schema } from '../client';
import { useI18n, type MessageKey } from '../i18n';
import { may, type Capability } from '../roles';
import { currentSession, endSession } from '../session';

type Profile = Schema<'Profile'>;

const MeContext = createContext<Profile | null>(null);

/** The signed-in member's profile (`null` until it arrives). */
export function useMe(): Profile | null {
  return useContext(MeContext);
}

/** Whether the signed-in member's role allows `capability` (`false` until the profile arrives). */
export function useMay(capability: Capability): boolean {
  const me = useMe();
  return me ? may(me.role, capability) : false;
}

const SECTIONS: { path: string; label: MessageKey; needs?: Capability }[] = [
  { path: '/', label: 'nav.home' },
  { path: '/documents', label: 'nav.documents' },
  { path: '/envelopes', label: 'nav.envelopes' },
  { path: '/library', label: 'nav.library' },
  { path: '/organization', label: 'nav.organization', needs: 'organization:manage' },
  { path: '/account', label: 'nav.account' },
];

/** Ends the session here and on the server (with `everywhere`, every device's), then shows sign-in. */
export async function signOut(everywhere = false): Promise<void> {
  const session = currentSession();
  endSession();
  if (session) await accounts.logout(session.access_token, everywhere).catch(() => undefined);
  navigate('/sign-in');
}

export function Workspace({ path, children }: { path: string; children: ReactNode }) {
  const { t } = useI18n();
  const session = currentSession();
  const [me, setMe] = useState<Profile | null>(null);
  useEffect(() => {
    whenSignedOut(() => navigate('/sign-in'));
    if (!session) {
      navigate('/sign-in');
      return;
    }
    void call(client.GET('/v1/me'))
      .then(setMe)
      .catch(() => undefined);
    // Once per signed-in visit.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session?.refresh_token]);
  if (!session) return null;
  const visible = SECTIONS.filter((s) => !s.needs || (me !== null && may(me.role, s.needs)));
  const isCurrent = (s: (typeof SECTIONS)[number]) =>
    s.path === '/' ? path === '/' || path === '/home' : path.startsWith(s.path);
  return (
    <MeContext.Provider value={me}>
      <nav className="workspace-nav" aria-label={t('nav.workspace')}>
        <ul>
          {visible.map((section) => (
            <li key={section.path}>
              <a
                href={section.path}
                aria-current={isCurrent(section) ? 'page' : undefined}
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
        <button type="button" className="secondary" onClick={() => void signOut()}>
          {t('nav.signOut')}
        </button>
      </nav>
      {children}
    </MeContext.Provider>
  );
}

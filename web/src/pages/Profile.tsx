// The member's own account: names, a password change (which ends every other session), and
// signing out of this session or of every one (a lost phone, a shared computer).

import { useEffect, useState } from 'react';
import { ApiError } from '../api';
import { call, client } from '../client';
import { Status } from '../components/Status';
import { signOut, useMe } from '../components/Workspace';
import { useI18n, type MessageKey } from '../i18n';
import { useDescribe, usePageTitle } from '../ui';

export function AccountSettingsPage() {
  const { t } = useI18n();
  usePageTitle('account.title');
  const describe = useDescribe();
  const me = useMe();
  const [names, setNames] = useState({ first: '', last: '' });
  const [password, setPassword] = useState({ current: '', next: '' });
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; key?: MessageKey; text?: string } | null>(null);
  useEffect(() => {
    if (me) setNames({ first: me.first_name ?? '', last: me.last_name ?? '' });
  }, [me]);
  if (!me) return <Status kind="info">{t('common.loading')}</Status>;
  return (
    <section className="card" aria-labelledby="account-title">
      <h1 id="account-title">{t('account.title')}</h1>
      <p>
        {me.email} · {t(`role.member.${me.role}` as MessageKey)} · {me.organization.name}
      </p>
      <form
        className="stack"
        aria-labelledby="names-title"
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            await call(client.PATCH('/v1/me', { body: { first_name: names.first.trim(), last_name: names.last.trim() } }));
            setNotice({ kind: 'success', key: 'account.saved' });
          } catch (err) {
            setNotice({ kind: 'error', text: describe(err) });
          }
        }}
      >
        <h2 id="names-title">{t('account.names')}</h2>
        <label htmlFor="first-name">{t('invite.firstName')}</label>
        <input id="first-name" autoComplete="given-name" value={names.first} onChange={(e) => setNames({ ...names, first: e.target.value })} />
        <label htmlFor="last-name">{t('invite.lastName')}</label>
        <input id="last-name" autoComplete="family-name" value={names.last} onChange={(e) => setNames({ ...names, last: e.target.value })} />
        <button type="submit" className="secondary">
          {t('account.saveNames')}
        </button>
      </form>
      <form
        className="stack"
        aria-labelledby="password-title"
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            await call(client.PATCH('/v1/me', { body: { password: { current: password.current, new: password.next } } }));
            setPassword({ current: '', next: '' });
            setNotice({ kind: 'success', key: 'account.passwordChanged' });
          } catch (err) {
            const wrong = err instanceof ApiError && err.problem.status === 401;
            setNotice({ kind: 'error', ...(wrong ? { key: 'account.wrongPassword' as const } : { text: describe(err) }) });
          }
        }}
      >
        <h2 id="password-title">{t('account.password')}</h2>
        <label htmlFor="current-password">{t('account.currentPassword')}</label>
        <input
          id="current-password"
          type="password"
          autoComplete="current-password"
          required
          value={password.current}
          onChange={(e) => setPassword({ ...password, current: e.target.value })}
        />
        <label htmlFor="new-password">{t('reset.newPassword')}</label>
        <input
          id="new-password"
          type="password"
          autoComplete="new-password"
          minLength={8}
          required
          aria-describedby="new-password-hint"
          value={password.next}
          onChange={(e) => setPassword({ ...password, next: e.target.value })}
        />
        <p id="new-password-hint" className="hint">
          {t('account.passwordHint')}
        </p>
        <button type="submit" className="secondary">
          {t('account.changePassword')}
        </button>
      </form>
      {notice && <Status kind={notice.kind}>{notice.key ? t(notice.key) : notice.text}</Status>}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => void signOut()}>
          {t('nav.signOut')}
        </button>
        <button type="button" className="secondary danger" onClick={() => void signOut(true)}>
          {t('account.signOutEverywhere')}
        </button>
      </div>
      <p className="hint">{t('account.signOutEverywhereHint')}</p>
    </section>
  );
}

// The pages a mailed link opens besides signing (verify the address, accept an invitation,
// reset the password), sign-in and sign-up, and the signed-in home.

import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { accounts, ApiError, type EnvelopeListItem } from '../api';
import { navigate } from '../app';
import { formatDateTime, useI18n } from '../i18n';
import { currentSession, endSession, saveSession } from '../session';
import { Link, useDescribe, usePageTitle } from '../ui';
import { Status } from '../components/Status';

function tokenFromUrl(): string | null {
  const token = new URLSearchParams(window.location.search).get('token');
  return token && token.length > 0 ? token : null;
}

function Card({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section className="card narrow" aria-labelledby="card-title">
      <h1 id="card-title">{title}</h1>
      {children}
    </section>
  );
}

function PasswordInput({
  id,
  label,
  value,
  onChange,
  autoComplete,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  autoComplete: string;
}) {
  const { t } = useI18n();
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="password"
        autoComplete={autoComplete}
        value={value}
        minLength={8}
        required
        aria-describedby={`${id}-hint`}
        onChange={(event) => onChange(event.target.value)}
      />
      <p id={`${id}-hint`} className="hint">
        {t('password.hint')}
      </p>
    </>
  );
}

// ---------------------------------------------------------------- verify email

export function VerifyEmailPage() {
  const { t } = useI18n();
  usePageTitle('verify.title');
  const token = useMemo(tokenFromUrl, []);
  const [state, setState] = useState<'working' | 'done' | 'failed' | 'missing'>(
    token ? 'working' : 'missing',
  );
  const started = useRef(false);
  useEffect(() => {
    // The token is single-use: StrictMode's second effect run must not spend it twice.
    if (!token || started.current) return;
    started.current = true;
    accounts
      .verifyEmail(token)
      .then(() => setState('done'))
      .catch(() => setState('failed'));
  }, [token]);
  return (
    <Card title={t('verify.title')}>
      {state === 'working' && <Status kind="info">{t('verify.working')}</Status>}
      {state === 'done' && (
        <>
          <Status kind="success">{t('verify.done')}</Status>
          <Link to="/sign-in">{t('signin.title')}</Link>
        </>
      )}
      {state === 'failed' && <Status kind="error">{t('verify.failed')}</Status>}
      {state === 'missing' && <Status kind="error">{t('link.missing')}</Status>}
    </Card>
  );
}

// ---------------------------------------------------------------- accept an invitation

export function AcceptInvitationPage() {
  const { t } = useI18n();
  usePageTitle('invite.title');
  const describe = useDescribe();
  const token = useMemo(tokenFromUrl, []);
  const [first, setFirst] = useState('');
  const [last, setLast] = useState('');
  const [password, setPassword] = useState('');
  const [state, setState] = useState<'form' | 'busy' | 'done'>('form');
  const [error, setError] = useState<string | null>(null);
  if (!token) {
    return (
      <Card title={t('invite.title')}>
        <Status kind="error">{t('link.missing')}</Status>
      </Card>
    );
  }
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setState('busy');
    setError(null);
    try {
      await accounts.acceptInvitation({
        token,
        password,
        first_name: first.trim() || undefined,
        last_name: last.trim() || undefined,
      });
      setState('done');
    } catch (err) {
      setError(err instanceof ApiError && err.problem.status === 401 ? t('invite.failed') : describe(err));
      setState('form');
    }
  };
  return (
    <Card title={t('invite.title')}>
      {state === 'done' ? (
        <>
          <Status kind="success">{t('invite.done')}</Status>
          <Link to="/sign-in">{t('signin.title')}</Link>
        </>
      ) : (
        <form className="stack" onSubmit={submit}>
          <p>{t('invite.body')}</p>
          <label htmlFor="first-name">{t('invite.firstName')}</label>
          <input id="first-name" autoComplete="given-name" value={first} onChange={(e) => setFirst(e.target.value)} />
          <label htmlFor="last-name">{t('invite.lastName')}</label>
          <input id="last-name" autoComplete="family-name" value={last} onChange={(e) => setLast(e.target.value)} />
          <PasswordInput
            id="new-password"
            label={t('invite.password')}
            value={password}
            onChange={setPassword}
            autoComplete="new-password"
          />
          {error && <Status kind="error">{error}</Status>}
          <button type="submit" className="primary" disabled={state === 'busy'}>
            {t('invite.submit')}
          </button>
        </form>
      )}
    </Card>
  );
}

// ---------------------------------------------------------------- reset the password

export function ResetPasswordPage() {
  const token = useMemo(tokenFromUrl, []);
  return token ? <ConfirmReset token={token} /> : <RequestReset />;
}

function RequestReset() {
  const { t } = useI18n();
  usePageTitle('reset.title');
  const describe = useDescribe();
  const [email, setEmail] = useState('');
  const [state, setState] = useState<'form' | 'busy' | 'sent'>('form');
  const [error, setError] = useState<string | null>(null);
  return (
    <Card title={t('reset.title')}>
      {state === 'sent' ? (
        <Status kind="success">{t('reset.sent')}</Status>
      ) : (
        <form
          className="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            setState('busy');
            setError(null);
            try {
              await accounts.requestReset(email.trim());
              setState('sent');
            } catch (err) {
              setError(describe(err));
              setState('form');
            }
          }}
        >
          <p>{t('reset.requestBody')}</p>
          <label htmlFor="reset-email">{t('common.email')}</label>
          <input
            id="reset-email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          {error && <Status kind="error">{error}</Status>}
          <button type="submit" className="primary" disabled={state === 'busy'}>
            {t('reset.send')}
          </button>
        </form>
      )}
    </Card>
  );
}

function ConfirmReset({ token }: { token: string }) {
  const { t } = useI18n();
  usePageTitle('reset.newTitle');
  const describe = useDescribe();
  const [password, setPassword] = useState('');
  const [state, setState] = useState<'form' | 'busy' | 'done'>('form');
  const [error, setError] = useState<string | null>(null);
  return (
    <Card title={t('reset.newTitle')}>
      {state === 'done' ? (
        <>
          <Status kind="success">{t('reset.done')}</Status>
          <Link to="/sign-in">{t('signin.title')}</Link>
        </>
      ) : (
        <form
          className="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            setState('busy');
            setError(null);
            try {
              await accounts.confirmReset(token, password);
              setState('done');
            } catch (err) {
              setError(err instanceof ApiError && err.problem.status === 401 ? t('reset.failed') : describe(err));
              setState('form');
            }
          }}
        >
          <PasswordInput
            id="reset-password"
            label={t('reset.newPassword')}
            value={password}
            onChange={setPassword}
            autoComplete="new-password"
          />
          {error && <Status kind="error">{error}</Status>}
          <button type="submit" className="primary" disabled={state === 'busy'}>
            {t('reset.save')}
          </button>
        </form>
      )}
    </Card>
  );
}

// ---------------------------------------------------------------- sign in, register

export function SignInPage() {
  const { t } = useI18n();
  usePageTitle('signin.title');
  const describe = useDescribe();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <Card title={t('signin.title')}>
      <form
        className="stack"
        onSubmit={async (event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          try {
            saveSession(await accounts.login(email.trim(), password));
            navigate('/');
          } catch (err) {
            if (err instanceof ApiError && err.slug === 'invalid-credentials') setError(t('signin.invalid'));
            else if (err instanceof ApiError && err.slug === 'email-not-verified') setError(t('signin.notVerified'));
            else setError(describe(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="signin-email">{t('common.email')}</label>
        <input
          id="signin-email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor="signin-password">{t('signin.password')}</label>
        <input
          id="signin-password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error && <Status kind="error">{error}</Status>}
        <button type="submit" className="primary" disabled={busy}>
          {t('signin.submit')}
        </button>
      </form>
      <p>
        <Link to="/reset-password">{t('signin.forgot')}</Link>
      </p>
      <p>
        <Link to="/register">{t('signin.register')}</Link>
      </p>
    </Card>
  );
}

export function RegisterPage() {
  const { t } = useI18n();
  usePageTitle('register.title');
  const describe = useDescribe();
  const [organization, setOrganization] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [state, setState] = useState<'form' | 'busy' | 'sent'>('form');
  const [error, setError] = useState<string | null>(null);
  return (
    <Card title={t('register.title')}>
      {state === 'sent' ? (
        <Status kind="success">{t('register.sent', { email: email.trim() })}</Status>
      ) : (
        <form
          className="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            setState('busy');
            setError(null);
            try {
              await accounts.register({ organization_name: organization.trim(), email: email.trim(), password });
              setState('sent');
            } catch (err) {
              setError(describe(err));
              setState('form');
            }
          }}
        >
          <label htmlFor="register-org">{t('register.org')}</label>
          <input
            id="register-org"
            autoComplete="organization"
            required
            value={organization}
            onChange={(e) => setOrganization(e.target.value)}
          />
          <label htmlFor="register-email">{t('common.email')}</label>
          <input
            id="register-email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <PasswordInput
            id="register-password"
            label={t('signin.password')}
            value={password}
            onChange={setPassword}
            autoComplete="new-password"
          />
          {error && <Status kind="error">{error}</Status>}
          <button type="submit" className="primary" disabled={state === 'busy'}>
            {t('register.submit')}
          </button>
        </form>
      )}
      <p>
        <Link to="/sign-in">{t('register.haveAccount')}</Link>
      </p>
    </Card>
  );
}

// ---------------------------------------------------------------- home

export function HomePage() {
  const { t, language } = useI18n();
  usePageTitle('home.heading');
  const session = currentSession();
  const [name, setName] = useState<string | null>(null);
  const [waiting, setWaiting] = useState<EnvelopeListItem[] | null>(null);
  const [envelopes, setEnvelopes] = useState<EnvelopeListItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const describe = useDescribe();
  useEffect(() => {
    if (!session) {
      navigate('/sign-in');
      return;
    }
    Promise.all([
      accounts.me(session.access_token),
      accounts.waitingForMe(session.access_token),
      accounts.inProgress(session.access_token),
    ])
      .then(([me, mine, all]) => {
        setName(me.first_name ?? me.email);
        setWaiting(mine.data);
        setEnvelopes(all.data);
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.problem.status === 401) {
          endSession();
          navigate('/sign-in');
        } else {
          setError(describe(err));
        }
      });
    // Once per visit of the page.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  if (!session) return null;
  return (
    <section className="card" aria-labelledby="home-title">
      <h1 id="home-title">{name ? t('home.title', { name }) : t('home.heading')}</h1>
      {error && <Status kind="error">{error}</Status>}
      <h2>{t('home.waitingForYou')}</h2>
      {waiting === null && !error ? (
        <Status kind="info">{t('common.loading')}</Status>
      ) : waiting && waiting.length === 0 ? (
        <p>{t('home.noneForYou')}</p>
      ) : (
        <>
          <ul className="envelopes" aria-label={t('home.waitingForYou')}>
            {waiting?.map((e) => (
              <li key={e.id}>{e.name ?? t('sign.untitled')}</li>
            ))}
          </ul>
          <p className="muted">{t('home.openFromMail')}</p>
        </>
      )}
      <h2>{t('home.waiting')}</h2>
      {envelopes === null && !error ? (
        <Status kind="info">{t('common.loading')}</Status>
      ) : envelopes && envelopes.length === 0 ? (
        <p>{t('home.none')}</p>
      ) : (
        <ul className="envelopes">
          {envelopes?.map((e) => (
            <li key={e.id}>
              <span>{e.name ?? t('sign.untitled')}</span>
              {e.sent_at && <span className="muted"> · {formatDateTime(language, e.sent_at)}</span>}
            </li>
          ))}
        </ul>
      )}
      <p>
        <Link to="/documents">{t('home.upload')}</Link>
      </p>
    </section>
  );
}

export function NotFoundPage() {
  const { t } = useI18n();
  usePageTitle('notFound.title');
  return (
    <Card title={t('notFound.title')}>
      <p>{t('notFound.body')}</p>
      <Link to="/sign-in">{t('signin.title')}</Link>
    </Card>
  );
}

// The signing page (`/sign?token=…`): everything a recipient does from the mailed link.
// The link's token is the credential; the page reads `GET /v1/signing/{token}` and shows the
// one state that applies: a problem with the link, the access code, the consent, the
// document with this recipient's fields (guided, counted), the wait while the worker puts the
// signature in the PDF, and the end states. Inside an iframe it tells the parent window every
// terminal state by postMessage.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiError, signing, type Field, type SigningView } from '../api';
import { AdoptSignature, type Adopted } from '../components/AdoptSignature';
import { Dialog } from '../components/Dialog';
import { Status } from '../components/Status';
import { DocumentView, type DocumentHandle } from '../components/DocumentView';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { overlayStyle } from '../geometry';
import { prefetchPdf, warmPdf } from '../pdf';

type Phase =
  | { kind: 'loading' }
  | { kind: 'no-token' }
  | { kind: 'problem'; error: ApiError }
  | { kind: 'view'; view: SigningView }
  | { kind: 'finished'; outcome: 'completed-elsewhere' | 'declined' };

/** Terminal states the embedding page is told about. */
type Terminal = 'signed' | 'declined' | 'completed' | 'expired' | 'error';

function tell(terminal: Terminal, envelopeId: string | null) {
  if (window.parent === window) return;
  // The parent's origin is not known to the page; frame-ancestors limits who can embed it,
  // and the message carries no secret.
  window.parent.postMessage({ source: 'gsign', event: terminal, envelope_id: envelopeId }, '*');
}

function tokenFromUrl(): string | null {
  const token = new URLSearchParams(window.location.search).get('token');
  return token && token.length >= 32 ? token : null;
}

/**
 * A single-use ticket: an embedded view URL's (`/embed/sign?ticket=…`) or a signing link the
 * sender handed out instead of mail (`/sign?ticket=…`).
 */
function ticketFromUrl(): string | null {
  const ticket = new URLSearchParams(window.location.search).get('ticket');
  return ticket && ticket.length >= 32 ? ticket : null;
}

/**
 * Where this tab keeps its signing token once the page has it: the token leaves the address
 * bar and the tab's history at once (nobody reads it over a shoulder, from a shared screen or
 * with the back button), and a reload still finds it. A handed-out link opens only once, so
 * its token lives nowhere else.
 */
const SIGNING_TOKEN = 'gsign:signing-token';

function keep(token: string): void {
  try {
    window.sessionStorage.setItem(SIGNING_TOKEN, token);
  } catch {
    // Private modes without storage: the page works until it is reloaded.
  }
}

function isEmbedded(): boolean {
  return window.location.pathname.startsWith('/embed/');
}

function initialToken(): string | null {
  const fromUrl = tokenFromUrl();
  if (isEmbedded() || ticketFromUrl()) return fromUrl;
  if (fromUrl) {
    keep(fromUrl);
    window.history.replaceState(null, '', window.location.pathname);
    return fromUrl;
  }
  try {
    return window.sessionStorage.getItem(SIGNING_TOKEN);
  } catch {
    return null;
  }
}

/**
 * Starts the signing page's two slow steps before React starts: the signing view is asked for
 * and pdf.js's worker loads on its own thread, both while the app's code runs.
 */
export function startSigningPage(): void {
  void warmPdf();
  const token = tokenFromUrl();
  if (token && !window.location.pathname.startsWith('/embed/')) signing.prefetchView(token);
}

export function SignPage() {
  const { t } = useI18n();
  const ticket = useMemo(ticketFromUrl, []);
  // The signing token: from the mailed link (then kept by the tab, see SIGNING_TOKEN), or
  // traded for a ticket (an embedded page holds it in memory only: the URL opens once).
  const [token, setToken] = useState<string | null>(initialToken);
  const [phase, setPhase] = useState<Phase>(token || ticket ? { kind: 'loading' } : { kind: 'no-token' });
  const told = useRef<Terminal | null>(null);
  const traded = useRef(false);

  useEffect(() => {
    if (!ticket || traded.current) return;
    traded.current = true;
    signing
      .openEmbedded(ticket)
      .then((opened) => {
        window.history.replaceState(null, '', window.location.pathname);
        // An embedded page holds its token in memory only.
        if (!isEmbedded()) keep(opened.token);
        setToken(opened.token);
      })
      .catch((err: unknown) => setPhase({ kind: 'problem', error: toApiError(err) }));
  }, [ticket]);

  // `acted` is `true` right after this recipient's own submission was accepted.
  const load = useCallback(async (acted?: unknown) => {
    if (!token) return;
    try {
      const view = await signing.view(token);
      performance.mark('gsign:view-received');
      // The PDF's first and last bytes are on their way while the page renders.
      if (view.document) prefetchPdf(view.document.url);
      setPhase({ kind: 'view', view });
    } catch (err) {
      const error = toApiError(err);
      setPhase((previous) => {
        // The last signature completes the envelope, and completion replaces every link by
        // the completion mail's: a link that stops working right after this recipient acted
        // means the envelope is done, not that something broke.
        const done =
          acted === true ||
          (previous.kind === 'view' && ['signed', 'approved'].includes(previous.view.recipient.status));
        if (done && error.slug === 'signing-link-invalid') {
          return { kind: 'finished', outcome: 'completed-elsewhere' };
        }
        return { kind: 'problem', error };
      });
    }
  }, [token]);

  useEffect(() => {
    void load();
  }, [load]);

  // Tell an embedding page about the state it ended in (once per state).
  useEffect(() => {
    const terminal = terminalOf(phase);
    if (terminal && told.current !== terminal) {
      told.current = terminal;
      tell(terminal, phase.kind === 'view' ? phase.view.envelope.id : null);
    }
  }, [phase]);

  useEffect(() => {
    document.title = `${t('sign.documentTitle')} · GSign`;
  }, [t]);

  switch (phase.kind) {
    case 'no-token':
      return <Message title={t('sign.invalid.title')} body={t('sign.invalid.body')} />;
    case 'loading':
      return (
        <p className="notice" role="status">
          {t('common.loading')}
        </p>
      );
    case 'problem':
      return <LinkProblem error={phase.error} token={token ?? ''} onRetry={load} />;
    case 'finished':
      return phase.outcome === 'declined' ? (
        <Message title={t('sign.declined.title')} body={t('sign.declined.body')} />
      ) : (
        <Message title={t('sign.done.completedTitle')} body={t('sign.done.completedBody')} />
      );
    case 'view':
      return (
        <Envelope
          token={token ?? ''}
          view={phase.view}
          reload={load}
          finish={(outcome) => setPhase({ kind: 'finished', outcome })}
        />
      );
  }
}

function terminalOf(phase: Phase): Terminal | null {
  if (phase.kind === 'finished') return phase.outcome === 'declined' ? 'declined' : 'completed';
  if (phase.kind === 'problem') {
    const slug = phase.error.slug;
    if (slug === 'embedded-link-expired' || slug === 'signing-link-expired') return 'expired';
    if (slug === 'envelope-closed') {
      const status = String(phase.error.problem.envelope_status ?? '');
      if (status === 'declined') return 'declined';
      if (status === 'expired') return 'expired';
      return 'error';
    }
    return 'error';
  }
  if (phase.kind === 'view') {
    const { envelope, recipient } = phase.view;
    if (envelope.status === 'completed') return 'completed';
    if (recipient.status === 'signed' || recipient.status === 'approved') return 'signed';
  }
  return null;
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError({
    type: 'about:blank/client',
    title: 'Error',
    status: 0,
    detail: err instanceof Error ? err.message : String(err),
  });
}

function Message({ title, body, children }: { title: string; body?: string; children?: React.ReactNode }) {
  return (
    <section className="card" aria-labelledby="message-title">
      <h1 id="message-title">{title}</h1>
      {body && <p>{body}</p>}
      {children}
    </section>
  );
}

// ---------------------------------------------------------------- problems with the link

function LinkProblem({ error, token, onRetry }: { error: ApiError; token: string; onRetry: () => void }) {
  const { t, language } = useI18n();
  const [renewal, setRenewal] = useState<'idle' | 'sending' | 'sent' | 'failed'>('idle');
  switch (error.slug) {
    case 'signing-link-invalid':
      return <Message title={t('sign.invalid.title')} body={t('sign.invalid.body')} />;
    case 'embedded-link-invalid':
      return isEmbedded() ? (
        <Message title={t('sign.embedded.invalidTitle')} body={t('sign.embedded.invalidBody')} />
      ) : (
        <Message title={t('sign.handedOut.usedTitle')} body={t('sign.handedOut.body')} />
      );
    case 'embedded-link-expired':
      return isEmbedded() ? (
        <Message title={t('sign.embedded.expiredTitle')} body={t('sign.embedded.invalidBody')} />
      ) : (
        <Message title={t('sign.handedOut.expiredTitle')} body={t('sign.handedOut.body')} />
      );
    case 'envelope-closed': {
      const state = String(error.problem.envelope_status ?? '');
      const key = (['voided', 'expired', 'declined'].includes(state) ? state : 'other') as
        | 'voided'
        | 'expired'
        | 'declined'
        | 'other';
      return (
        <Message
          title={t(`sign.closed.${key}.title` as MessageKey)}
          body={t(`sign.closed.${key}.body` as MessageKey)}
        />
      );
    }
    case 'signing-link-expired':
      return (
        <Message title={t('sign.linkExpired.title')} body={t('sign.linkExpired.body')}>
          {renewal === 'sent' ? (
            <p role="status" className="notice success">
              {t('sign.linkExpired.sent')}
            </p>
          ) : (
            <button
              type="button"
              className="primary"
              disabled={renewal === 'sending'}
              onClick={async () => {
                setRenewal('sending');
                try {
                  await signing.newLink(token);
                  setRenewal('sent');
                } catch {
                  setRenewal('failed');
                }
              }}
            >
              {t('sign.linkExpired.button')}
            </button>
          )}
          {renewal === 'failed' && (
            <Status kind="error">{t('common.tryLater')}</Status>
          )}
        </Message>
      );
    case 'access-code-locked':
      return (
        <Message
          title={t('sign.code.lockedTitle')}
          body={t('sign.code.locked', {
            time: error.problem.locked_until ? formatDateTime(language, error.problem.locked_until) : '—',
          })}
        />
      );
    default:
      return (
        <Message title={t('common.errorTitle')} body={describe(error, t)}>
          <button type="button" className="primary" onClick={onRetry}>
            {t('common.retry')}
          </button>
        </Message>
      );
  }
}

function describe(error: ApiError, t: ReturnType<typeof useI18n>['t']): string {
  if (error.problem.status === 0) return t('common.networkError');
  if (error.problem.status === 429) return t('common.tooMany');
  if (error.problem.errors?.length) {
    return t('errors.validation', {
      detail: error.problem.errors.map((e) => e.detail).join('; '),
    });
  }
  return error.problem.detail ?? error.problem.title;
}

// ---------------------------------------------------------------- the envelope

interface EnvelopeProps {
  token: string;
  view: SigningView;
  /** Asks for the view again; `true` when this recipient has just acted. */
  reload: (acted?: true) => Promise<void>;
  finish: (outcome: 'completed-elsewhere' | 'declined') => void;
}

function Envelope({ token, view, reload, finish }: EnvelopeProps) {
  const { t, language, suggestLanguage } = useI18n();
  const { envelope, recipient } = view;
  useEffect(() => {
    if (envelope.language) suggestLanguage(envelope.language);
  }, [envelope.language, suggestLanguage]);
  const heading = (
    <header className="envelope-head">
      <h1>{envelope.name ?? t('sign.untitled')}</h1>
      <p className="muted">
        {t('sign.from', { sender: envelope.sender.name, organization: envelope.sender.organization })}
      </p>
      {envelope.expires_at && envelope.status === 'sent' && (
        <p className="muted">
          {t(
            recipient.role === 'approver'
              ? 'sign.expires.approve'
              : recipient.role === 'viewer' || recipient.role === 'cc'
                ? 'sign.expires.view'
                : 'sign.expires',
            { date: formatDateTime(language, envelope.expires_at) },
          )}
        </p>
      )}
      {envelope.message && (
        <blockquote aria-label={t('sign.messageHeading')}>{envelope.message}</blockquote>
      )}
    </header>
  );

  if (recipient.access_code_required) {
    return (
      <>
        {heading}
        <AccessCode token={token} lockedUntil={recipient.access_code_locked_until} reload={reload} />
      </>
    );
  }
  if (envelope.status === 'completed') {
    return (
      <>
        {heading}
        <Completed view={view} />
      </>
    );
  }
  if (recipient.status === 'signed' || recipient.status === 'approved') {
    return (
      <>
        {heading}
        <Submitted view={view} reload={reload} />
      </>
    );
  }
  if (recipient.role === 'cc' || recipient.role === 'viewer') {
    return (
      <>
        {heading}
        <p className="notice">{t(recipient.role === 'cc' ? 'sign.viewOnly.cc' : 'sign.viewOnly.viewer')}</p>
        {view.document && <DocumentView url={view.document.url} />}
      </>
    );
  }
  if (!recipient.may_act) {
    return (
      <>
        {heading}
        <Message title={t('sign.notYourTurn.title')} body={t('sign.notYourTurn.body')}>
          {recipient.waiting_for.length > 0 && (
            <p>{t('sign.notYourTurn.waiting', { names: recipient.waiting_for.join(', ') })}</p>
          )}
        </Message>
      </>
    );
  }
  if (!recipient.consented) {
    return (
      <>
        {heading}
        <Consent token={token} version={recipient.disclosure_version} onAgreed={reload} />
      </>
    );
  }
  return (
    <>
      {heading}
      <Ceremony token={token} view={view} reload={reload} finish={finish} />
    </>
  );
}

// ---------------------------------------------------------------- access code and consent

interface AccessCodeProps {
  token: string;
  /** The link is locked until then (too many wrong codes). */
  lockedUntil: string | null;
  /** Reads the view again (after the right code, or once the link locked). */
  reload: () => Promise<void>;
}

function AccessCode({ token, lockedUntil, reload }: AccessCodeProps) {
  const { t, language } = useI18n();
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (lockedUntil) {
    return (
      <Message
        title={t('sign.code.lockedTitle')}
        body={t('sign.code.locked', { time: formatDateTime(language, lockedUntil) })}
      />
    );
  }
  return (
    <form
      className="card stack"
      aria-labelledby="code-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await signing.accessCode(token, code);
          await reload();
        } catch (err) {
          const e = toApiError(err);
          if (e.slug === 'access-code-wrong') {
            setError(t('sign.code.wrong', { count: e.problem.attempts_left ?? 0 }));
          } else if (e.slug === 'access-code-locked') {
            // The view says until when: the page turns into the lockout notice.
            await reload();
          } else {
            setError(describe(e, t));
          }
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="code-title">{t('sign.code.title')}</h2>
      <p>{t('sign.code.body')}</p>
      <label htmlFor="access-code">{t('sign.code.label')}</label>
      <input
        id="access-code"
        autoComplete="one-time-code"
        value={code}
        onChange={(event) => setCode(event.target.value)}
        required
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? 'code-error' : undefined}
      />
      {error && (
        <Status kind="error" id="code-error">
          {error}
        </Status>
      )}
      <button type="submit" className="primary" disabled={busy || !code.trim()}>
        {t('sign.code.submit')}
      </button>
    </form>
  );
}

function Consent({ token, version, onAgreed }: { token: string; version: string; onAgreed: () => Promise<void> }) {
  const { t } = useI18n();
  const [agreed, setAgreed] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="card stack"
      aria-labelledby="consent-title"
      onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        try {
          await signing.consent(token, version);
          await onAgreed();
        } catch (err) {
          setError(describe(toApiError(err), t));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h2 id="consent-title">{t('sign.consent.title')}</h2>
      <div className="disclosure" tabIndex={0} aria-label={t('sign.consent.title')}>
        {t('sign.consent.disclosure')
          .split('\n')
          .map((paragraph, i) => (
            <p key={i}>{paragraph}</p>
          ))}
        <p className="muted">{t('sign.consent.version', { version })}</p>
      </div>
      <label className="check">
        <input type="checkbox" checked={agreed} onChange={(event) => setAgreed(event.target.checked)} />
        {t('sign.consent.checkbox')}
      </label>
      {error && <Status kind="error">{error}</Status>}
      <button type="submit" className="primary" disabled={!agreed || busy}>
        {t('common.continue')}
      </button>
    </form>
  );
}

// ---------------------------------------------------------------- filling and signing

type Values = Record<string, string | boolean>;

function isDone(field: Field, values: Values, signed: Set<string>): boolean {
  switch (field.type) {
    case 'signature':
    case 'initial':
      return signed.has(field.id);
    case 'checkbox':
      return values[field.id] === true;
    case 'date':
      return true; // An empty date takes the signing date.
    case 'text':
      return typeof values[field.id] === 'string' && (values[field.id] as string).trim() !== '';
  }
}

function Ceremony({ token, view, reload, finish }: EnvelopeProps) {
  const { t } = useI18n();
  const { recipient, fields } = view;
  const [values, setValues] = useState<Values>({});
  const [signed, setSigned] = useState<Set<string>>(new Set());
  const [adopted, setAdopted] = useState<Adopted | null>(null);
  const [adopting, setAdopting] = useState<string | null>(null);
  const [dialog, setDialog] = useState<'none' | 'review' | 'decline'>('none');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState('');
  const documentView = useRef<DocumentHandle | null>(null);
  const setDocumentView = useCallback((handle: DocumentHandle | null) => {
    documentView.current = handle;
  }, []);

  const approver = recipient.role === 'approver';
  const required = fields.filter((f) => f.required);
  const left = required.filter((f) => !isDone(f, values, signed));
  const ready = left.length === 0;

  useEffect(() => {
    if (ready) performance.mark('gsign:all-fields-done');
  }, [ready]);

  const goToNext = () => {
    const next = left[0] ?? fields.find((f) => !isDone(f, values, signed));
    if (!next) return;
    const focus = (element: HTMLElement) => {
      element.scrollIntoView({ block: 'center' });
      element.focus({ preventScroll: true });
    };
    const element = document.getElementById(`field-${next.id}`);
    if (element) {
      focus(element);
      return;
    }
    // Its page is not in the page yet: bring it into view, then focus the field once there.
    documentView.current?.goTo(next.page);
    let tries = 0;
    const wait = window.setInterval(() => {
      const mounted = document.getElementById(`field-${next.id}`);
      tries += 1;
      if (mounted || tries > 50) {
        window.clearInterval(wait);
        if (mounted) focus(mounted);
      }
    }, 50);
  };

  const applySignature = (field: Field) => {
    if (!adopted) {
      setAdopting(field.id);
      return;
    }
    setSigned((old) => new Set(old).add(field.id));
  };

  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const body = approver
        ? { values: {} }
        : {
            values: Object.fromEntries(
              Object.entries(values).filter(([, v]) => v !== '' && v !== false),
            ),
            signature: adopted?.signature,
          };
      await signing.sign(token, body);
      setDialog('none');
      await reload(true);
    } catch (err) {
      setError(describe(toApiError(err), t));
    } finally {
      setBusy(false);
    }
  };

  const decline = async () => {
    setBusy(true);
    setError(null);
    try {
      await signing.decline(token, reason.trim());
      setDialog('none');
      finish('declined');
    } catch (err) {
      setError(describe(toApiError(err), t));
    } finally {
      setBusy(false);
    }
  };

  const overlays = (page: number, scale: number) =>
    fields
      .filter((f) => f.page === page)
      .map((field) => (
        <FieldOverlay
          key={field.id}
          field={field}
          scale={scale}
          value={values[field.id]}
          signed={signed.has(field.id)}
          adopted={adopted}
          onValue={(value) => setValues((old) => ({ ...old, [field.id]: value }))}
          onSign={() => applySignature(field)}
        />
      ));

  return (
    <div className="ceremony">
      <div className="guide" role="region" aria-label={t('sign.guide')}>
        <p className="counter" aria-live="polite">
          {approver
            ? t('approve.body')
            : left.length === 0
              ? t('sign.fields.none')
              : t(left.length === 1 ? 'sign.fields.leftOne' : 'sign.fields.left', { count: left.length })}
        </p>
        <div className="guide-actions">
          {!approver && left.length > 0 && (
            <button type="button" className="secondary" onClick={goToNext}>
              {t('sign.next')}
            </button>
          )}
          <button type="button" className="secondary" onClick={() => setDialog('decline')}>
            {t('sign.decline')}
          </button>
          <button
            type="button"
            className="primary"
            disabled={!ready && !approver}
            onClick={() => setDialog('review')}
          >
            {approver ? t('sign.approve') : t('sign.finish')}
          </button>
        </div>
      </div>
      {error && dialog === 'none' && <Status kind="error">{error}</Status>}
      {view.document && (
        <DocumentView
          url={view.document.url}
          handle={setDocumentView}
          overlays={overlays}
          onFirstPaint={() => {
            performance.mark('gsign:first-page');
            performance.mark('gsign:ready-to-sign');
          }}
        />
      )}
      <AdoptSignature
        open={adopting !== null}
        defaultName={recipient.name}
        onClose={() => setAdopting(null)}
        onAdopt={(chosen) => {
          setAdopted(chosen);
          if (adopting) setSigned((old) => new Set(old).add(adopting));
          const field = adopting;
          setAdopting(null);
          if (field) window.setTimeout(() => document.getElementById(`field-${field}`)?.focus(), 0);
        }}
      />
      <Dialog open={dialog === 'review'} title={t('review.title')} onClose={() => setDialog('none')}>
        <p>{approver ? t('approve.body') : t('review.body')}</p>
        {error && <Status kind="error">{error}</Status>}
        <div className="actions">
          <button type="button" className="secondary" onClick={() => setDialog('none')}>
            {t('common.cancel')}
          </button>
          <button type="button" className="primary" disabled={busy} onClick={submit}>
            {busy ? t('review.submitting') : approver ? t('sign.approve') : t('review.submit')}
          </button>
        </div>
      </Dialog>
      <Dialog open={dialog === 'decline'} title={t('decline.title')} onClose={() => setDialog('none')}>
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            void decline();
          }}
        >
          <p>{t('decline.body')}</p>
          <label htmlFor="decline-reason">{t('decline.reasonLabel')}</label>
          <textarea
            id="decline-reason"
            value={reason}
            required
            maxLength={1000}
            rows={3}
            onChange={(event) => setReason(event.target.value)}
          />
          {error && <Status kind="error">{error}</Status>}
          <div className="actions">
            <button type="button" className="secondary" onClick={() => setDialog('none')}>
              {t('common.cancel')}
            </button>
            <button type="submit" className="danger" disabled={busy || !reason.trim()}>
              {t('decline.submit')}
            </button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}

interface FieldOverlayProps {
  field: Field;
  scale: number;
  value: string | boolean | undefined;
  signed: boolean;
  adopted: Adopted | null;
  onValue: (value: string | boolean) => void;
  onSign: () => void;
}

function FieldOverlay({ field, scale, value, signed, adopted, onValue, onSign }: FieldOverlayProps) {
  const { t } = useI18n();
  const box = overlayStyle(field, scale);
  const name = field.label ?? t(`field.${field.type}` as MessageKey);
  const label = field.required ? `${name} (${t('field.required')})` : name;
  const style = { left: box.left, top: box.top, width: box.width, height: box.height };
  const id = `field-${field.id}`;
  const className = `field field-${field.type}${field.required ? ' required' : ''}`;
  switch (field.type) {
    case 'signature':
    case 'initial':
      return (
        <button
          id={id}
          type="button"
          className={`${className}${signed ? ' done' : ''}`}
          style={style}
          aria-label={signed ? `${label}: ${t('field.signed')}` : label}
          aria-pressed={signed}
          onClick={onSign}
        >
          {signed && adopted ? (
            adopted.preview.kind === 'image' ? (
              <img src={adopted.preview.src} alt="" />
            ) : (
              <span className="typed-signature">{adopted.preview.text}</span>
            )
          ) : (
            <span>{t(field.type === 'initial' ? 'field.clickToInitial' : 'field.clickToSign')}</span>
          )}
        </button>
      );
    case 'checkbox':
      return (
        <label className={className} style={style}>
          <input
            id={id}
            type="checkbox"
            checked={value === true}
            onChange={(event) => onValue(event.target.checked)}
            aria-label={label}
          />
        </label>
      );
    case 'date':
      return (
        <input
          id={id}
          className={className}
          style={style}
          type="date"
          value={typeof value === 'string' ? value : ''}
          onChange={(event) => onValue(event.target.value)}
          aria-label={`${label}. ${t('field.dateHint')}`}
        />
      );
    case 'text':
      return (
        <input
          id={id}
          className={className}
          style={{ ...style, fontSize: Math.max(10, Math.min(box.height * 0.6, 18)) }}
          type="text"
          maxLength={1000}
          value={typeof value === 'string' ? value : ''}
          onChange={(event) => onValue(event.target.value)}
          aria-label={label}
          aria-required={field.required}
        />
      );
  }
}

// ---------------------------------------------------------------- after submitting

function Submitted({ view, reload }: Omit<EnvelopeProps, 'token' | 'finish'>) {
  const { t } = useI18n();
  const { recipient, envelope } = view;
  const waiting = !recipient.applied && !envelope.processing_error;
  useEffect(() => {
    if (!waiting) return;
    const timer = window.setInterval(() => {
      reload().catch(() => undefined);
    }, 1500);
    return () => window.clearInterval(timer);
  }, [waiting, reload]);
  const title = recipient.status === 'approved' ? t('sign.done.approvedTitle') : t('sign.done.signedTitle');
  if (envelope.processing_error) {
    return <Message title={title} body={t('sign.done.failed', { reason: envelope.processing_error })} />;
  }
  return (
    <Message title={title}>
      {waiting ? (
        <p role="status" className="notice progress">
          <span className="spinner" aria-hidden="true" />
          {t('sign.done.applying')}
        </p>
      ) : (
        <p role="status" className="notice success">
          {t('sign.done.applied')}
        </p>
      )}
    </Message>
  );
}

function Completed({ view }: { view: SigningView }) {
  const { t } = useI18n();
  // The API presigns completed envelopes' files as attachments: plain links download them,
  // on every browser, without script (and without S3 having to allow this origin).
  return (
    <Message title={t('sign.completed.title')} body={t('sign.completed.body')}>
      <ul className="downloads">
        {view.document && (
          <li>
            <a className="button primary" href={view.document.url} rel="noreferrer">
              {t('sign.download.document')}
            </a>
          </li>
        )}
        {view.certificate && (
          <li>
            <a className="button secondary" href={view.certificate.url} rel="noreferrer">
              {t('sign.download.certificate')}
            </a>
          </li>
        )}
      </ul>
      <p className="muted">{t('sign.download.expires')}</p>
    </Message>
  );
}

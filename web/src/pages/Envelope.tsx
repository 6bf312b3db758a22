// One envelope: a draft opens in the builder; once sent, the tracking view shows each
// recipient's state and mail, the evidence timeline with its hash-chain verdict, remind and
// void, the downloads, and the signing worker's error while it retries. It follows the
// envelope without a reload: polling every 2 s, slowing to 30 s while nothing changes.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api';
import { navigate } from '../app';
import { call, client, type Schema } from '../client';
import { Dialog } from '../components/Dialog';
import { Status } from '../components/Status';
import { recipientColour } from '../fields';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { useDescribe, usePageTitle } from '../ui';
import { Builder } from './Builder';
import { useMay } from '../components/Workspace';

type Envelope = Schema<'EnvelopeDetail'>;
type Evidence = Schema<'EnvelopeEvidence'>;

export function EnvelopePage({ id }: { id: string }) {
  const { t } = useI18n();
  usePageTitle('envelope.title');
  const describe = useDescribe();
  const [envelope, setEnvelope] = useState<Envelope | null>(null);
  const [documentUrl, setDocumentUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const fingerprint = useRef('');
  const mayWrite = useMay('documents:write');

  const load = useCallback(async (): Promise<boolean> => {
    try {
      const fresh = await call(client.GET('/v1/envelopes/{id}', { params: { path: { id } } }));
      const print = JSON.stringify([fresh.status, fresh.updated_at, fresh.recipients.map((r) => [r.status, r.mail_status])]);
      const changed = print !== fingerprint.current;
      fingerprint.current = print;
      setEnvelope(fresh);
      setError(null);
      return changed;
    } catch (err) {
      if (err instanceof ApiError && (err.problem.status === 404 || err.problem.status === 422)) setMissing(true);
      else setError(describe(err));
      return false;
    }
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const documentId = envelope?.document_id;
  const isDraft = envelope?.status === 'draft';
  useEffect(() => {
    if (!documentId || !isDraft) return;
    call(client.GET('/v1/documents/{id}/download', { params: { path: { id: documentId }, query: { variant: 'pdf' } } }))
      .then((link) => setDocumentUrl(link.url))
      .catch((err: unknown) => setError(describe(err)));
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [documentId, isDraft]);

  // Polls while others are still to act (or the worker is still sealing), backing off while nothing changes.
  const status = envelope?.status;
  const settling = envelope?.status === 'completed' && !envelope.final_sha256;
  useEffect(() => {
    if (status !== 'sent' && !settling) return;
    let delay = 2000;
    let timer: ReturnType<typeof setTimeout>;
    let stopped = false;
    const tick = async () => {
      const changed = await load();
      if (stopped) return;
      delay = changed ? 2000 : Math.min(delay * 1.5, 30_000);
      timer = setTimeout(tick, delay);
    };
    timer = setTimeout(tick, delay);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [status, settling, load]);

  if (missing) {
    return (
      <section className="card">
        <h1>{t('envelope.missing')}</h1>
      </section>
    );
  }
  if (!envelope) {
    return error ? <Status kind="error">{error}</Status> : <Status kind="info">{t('common.loading')}</Status>;
  }
  return (
    <div className="envelope-page">
      <header className="card envelope-head">
        <h1>{envelope.name ?? t('sign.untitled')}</h1>
        <span className={`badge ${envelope.status}`}>{t(`envelope.status.${envelope.status}` as MessageKey)}</span>
      </header>
      {error && <Status kind="error">{error}</Status>}
      {envelope.status === 'draft' && mayWrite ? (
        <Builder
          envelope={envelope}
          documentUrl={documentUrl}
          onChanged={setEnvelope}
          onSent={() => {
            void load();
          }}
        />
      ) : (
        <Tracking envelope={envelope} reload={load} mayWrite={mayWrite} />
      )}
    </div>
  );
}

function Tracking({
  envelope,
  reload,
  mayWrite,
}: {
  envelope: Envelope;
  reload: () => Promise<boolean>;
  mayWrite: boolean;
}) {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const [evidence, setEvidence] = useState<Evidence | null>(null);
  const [notice, setNotice] = useState<{ kind: 'success' | 'error'; text: string } | null>(null);
  const [voiding, setVoiding] = useState(false);
  const [reason, setReason] = useState('');
  const id = envelope.id;

  useEffect(() => {
    call(client.GET('/v1/envelopes/{id}/events', { params: { path: { id } } }))
      .then(setEvidence)
      .catch(() => undefined);
  }, [id, envelope.updated_at]);

  const download = async (variant: 'current' | 'final' | 'certificate') => {
    try {
      const link = await call(client.GET('/v1/envelopes/{id}/download', { params: { path: { id }, query: { variant } } }));
      window.location.assign(link.url);
    } catch (err) {
      setNotice({ kind: 'error', text: describe(err) });
    }
  };

  const when = (at: string | null | undefined) => (at ? formatDateTime(language, at) : '');
  const completed = envelope.status === 'completed' && Boolean(envelope.final_sha256);

  return (
    <>
      {envelope.processing_error && (
        <Status kind="error">
          {t('envelope.processingError', { detail: envelope.processing_error, at: when(envelope.processing_failed_at) })}
        </Status>
      )}
      {envelope.status === 'voided' && envelope.void_reason && (
        <Status kind="info">{t('envelope.voidedBecause', { reason: envelope.void_reason })}</Status>
      )}
      {envelope.status === 'completed' && !envelope.final_sha256 && (
        <Status kind="info">{t('envelope.sealing')}</Status>
      )}
      <section className="card" aria-labelledby="recipients-state">
        <h2 id="recipients-state">{t('builder.recipients')}</h2>
        <ul className="rows" aria-label={t('builder.recipients')}>
          {envelope.recipients.map((r, i) => (
            <li key={r.id} className="row recipient-state" style={{ borderColor: recipientColour(i) }}>
              <div className="row-main">
                <strong>{r.name}</strong>
                <span className="muted">{r.email}</span>
                <span>
                  {t(`role.${r.role}` as MessageKey)} · {t('builder.group', { n: r.routing_order })}
                </span>
                <span className={`badge ${r.status}`}>{t(`recipient.status.${r.status}` as MessageKey)}</span>
                <span className="muted">
                  {r.signed_at
                    ? t('recipient.doneAt', { at: when(r.signed_at) })
                    : r.declined_at
                      ? t('recipient.declinedAt', { at: when(r.declined_at), reason: r.decline_reason ?? '' })
                      : r.viewed_at
                        ? t('recipient.viewedAt', { at: when(r.viewed_at) })
                        : r.notified_at
                          ? t('recipient.notifiedAt', { at: when(r.notified_at) })
                          : ''}
                </span>
                {r.mail_status && ['bounced', 'complained', 'rejected', 'suppressed', 'delayed'].includes(r.mail_status) && (
                  <span className="notice error inline">
                    {t('recipient.mailProblem', { status: r.mail_status, detail: r.mail_diagnostic ?? '' })}
                  </span>
                )}
              </div>
            </li>
          ))}
        </ul>
        <div className="actions">
          {mayWrite && envelope.status === 'sent' && (
            <button
              type="button"
              className="secondary"
              onClick={async () => {
                try {
                  const reminded = await call(client.POST('/v1/envelopes/{id}/remind', { params: { path: { id } } }));
                  setNotice({ kind: 'success', text: t('envelope.reminded', { count: reminded.reminded.length }) });
                  void reload();
                } catch (err) {
                  setNotice({ kind: 'error', text: describe(err) });
                }
              }}
            >
              {t('envelope.remind')}
            </button>
          )}
          {mayWrite && envelope.status === 'sent' && (
            <button type="button" className="secondary danger" onClick={() => setVoiding(true)}>
              {t('envelope.void')}
            </button>
          )}
        </div>
        {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      </section>

      <section className="card" aria-labelledby="downloads-title">
        <h2 id="downloads-title">{t('envelope.downloads')}</h2>
        <div className="actions">
          {completed ? (
            <>
              <button type="button" className="primary" onClick={() => void download('final')}>
                {t('envelope.downloadFinal')}
              </button>
              <button type="button" className="secondary" onClick={() => void download('certificate')}>
                {t('envelope.downloadCertificate')}
              </button>
            </>
          ) : (
            <button type="button" className="secondary" onClick={() => void download('current')}>
              {t('envelope.downloadCurrent')}
            </button>
          )}
        </div>
      </section>

      <section className="card" aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t('envelope.timeline')}</h2>
        {evidence && (
          <Status kind={evidence.chain.valid ? 'success' : 'error'}>
            {evidence.chain.valid
              ? t('envelope.chainValid', { count: evidence.events.length })
              : t('envelope.chainBroken', { at: evidence.chain.broken_at ?? '?' })}
          </Status>
        )}
        <ol className="timeline">
          {evidence?.events.map((e) => (
            <li key={e.sequence}>
              <time dateTime={e.occurred_at}>{when(e.occurred_at)}</time> <span>{e.action}</span>{' '}
              <span className="muted">{e.actor_type}</span>
            </li>
          ))}
        </ol>
      </section>

      <Dialog open={voiding} title={t('envelope.voidTitle')} onClose={() => setVoiding(false)}>
        <form
          className="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            try {
              await call(client.POST('/v1/envelopes/{id}/void', { params: { path: { id } }, body: { reason: reason.trim() } }));
              setVoiding(false);
              void reload();
            } catch (err) {
              setNotice({ kind: 'error', text: describe(err) });
              setVoiding(false);
            }
          }}
        >
          <label htmlFor="void-reason">{t('envelope.voidReason')}</label>
          <textarea id="void-reason" required maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
          <div className="actions">
            <button type="submit" className="primary danger">
              {t('envelope.voidConfirm')}
            </button>
            <button type="button" className="secondary" onClick={() => setVoiding(false)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      </Dialog>
      <p>
        <a
          href="/envelopes"
          onClick={(event) => {
            event.preventDefault();
            navigate('/envelopes');
          }}
        >
          {t('envelope.back')}
        </a>
      </p>
    </>
  );
}

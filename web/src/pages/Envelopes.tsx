// Envelopes by where they stand: waiting for me, waiting for others, drafts, completed, and
// closed (declined, voided, expired), each with its count (`GET /v1/envelopes/counts`); a
// list pages on with the cursor.

import { useCallback, useEffect, useState } from 'react';
import { navigate } from '../app';
import { call, client, type Schema } from '../client';
import { Status } from '../components/Status';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { useDescribe, usePageTitle } from '../ui';

type Envelope = Schema<'Envelope'>;
type EnvelopeStatus = 'draft' | 'sent' | 'completed' | 'declined' | 'voided' | 'expired';

/** The lists, each one or more queries of `GET /v1/envelopes`. */
const VIEWS: { id: string; label: MessageKey; queries: { status?: EnvelopeStatus; waiting_for?: 'me' }[] }[] = [
  { id: 'mine', label: 'envelopes.view.mine', queries: [{ waiting_for: 'me' }] },
  { id: 'others', label: 'envelopes.view.others', queries: [{ status: 'sent' }] },
  { id: 'drafts', label: 'envelopes.view.drafts', queries: [{ status: 'draft' }] },
  { id: 'completed', label: 'envelopes.view.completed', queries: [{ status: 'completed' }] },
  {
    id: 'closed',
    label: 'envelopes.view.closed',
    queries: [{ status: 'declined' }, { status: 'voided' }, { status: 'expired' }],
  },
];

const PAGE = 50;

/** A view's count from the API's counts. */
function countOf(id: string, counts: Schema<'EnvelopeCounts'>): number | null {
  switch (id) {
    case 'mine':
      return counts.waiting_for_me ?? null;
    case 'others':
      return counts.sent;
    case 'drafts':
      return counts.draft;
    case 'completed':
      return counts.completed;
    default:
      return counts.declined + counts.voided + counts.expired;
  }
}

interface ViewState {
  rows: Envelope[];
  /** A cursor per query that has more. */
  cursors: (string | null)[];
}

async function fetchView(queries: (typeof VIEWS)[number]['queries'], cursors?: (string | null)[]): Promise<ViewState> {
  const pages = await Promise.all(
    queries.map((query, i) => {
      const cursor = cursors?.[i];
      if (cursors && !cursor) return Promise.resolve({ data: [] as Envelope[], next_cursor: null });
      return call(client.GET('/v1/envelopes', { params: { query: { ...query, limit: PAGE, cursor: cursor ?? undefined } } }));
    }),
  );
  const rows = pages.flatMap((p) => p.data).sort((a, b) => b.created_at.localeCompare(a.created_at));
  return { rows, cursors: pages.map((p) => p.next_cursor ?? null) };
}

export function EnvelopesPage() {
  const { t, language } = useI18n();
  usePageTitle('envelopes.title');
  const describe = useDescribe();
  const [views, setViews] = useState<Record<string, ViewState>>({});
  const [chosen, setChosen] = useState(() => new URLSearchParams(window.location.search).get('view') ?? 'others');
  const [error, setError] = useState<string | null>(null);
  const [counts, setCounts] = useState<Schema<'EnvelopeCounts'> | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [loaded, counted] = await Promise.all([
        Promise.all(VIEWS.map(async (v) => [v.id, await fetchView(v.queries)] as const)),
        call(client.GET('/v1/envelopes/counts')),
      ]);
      setViews(Object.fromEntries(loaded));
      setCounts(counted);
      setError(null);
    } catch (err) {
      setError(describe(err));
    }
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const view = VIEWS.find((v) => v.id === chosen) ?? VIEWS[1];
  const state = view ? views[view.id] : undefined;
  const count = (id: string) => {
    const n = counts ? countOf(id, counts) : null;
    return n === null ? '' : String(n);
  };

  return (
    <section className="card wide" aria-labelledby="envelopes-title">
      <h1 id="envelopes-title">{t('envelopes.title')}</h1>
      <div className="view-switch" role="group" aria-label={t('envelopes.views')}>
        {VIEWS.map((v) => (
          <button
            key={v.id}
            type="button"
            className="secondary"
            aria-pressed={v.id === view?.id}
            onClick={() => {
              setChosen(v.id);
              window.history.replaceState(null, '', `/envelopes?view=${v.id}`);
            }}
          >
            {t(v.label)} <span className="count">{count(v.id)}</span>
          </button>
        ))}
      </div>
      {error && <Status kind="error">{error}</Status>}
      {!state ? (
        !error && <Status kind="info">{t('common.loading')}</Status>
      ) : state.rows.length === 0 ? (
        <p>{t('envelopes.none')}</p>
      ) : (
        <ul className="rows" aria-label={view ? t(view.label) : undefined}>
          {state.rows.map((e) => (
            <li key={e.id} className="row">
              <div className="row-main">
                <a
                  href={`/envelopes/${e.id}`}
                  onClick={(event) => {
                    event.preventDefault();
                    navigate(`/envelopes/${e.id}`);
                  }}
                >
                  {e.name ?? t('sign.untitled')}
                </a>
                <span className={`badge ${e.status}`}>{t(`envelope.status.${e.status}` as MessageKey)}</span>
                <span className="muted">
                  {formatDateTime(language, e.completed_at ?? e.sent_at ?? e.created_at)}
                </span>
                {e.processing_error && <span className="notice error inline">{t('envelope.stuck')}</span>}
              </div>
            </li>
          ))}
        </ul>
      )}
      {state && view && state.cursors.some(Boolean) && (
        <button
          type="button"
          className="secondary"
          onClick={async () => {
            try {
              const more = await fetchView(view.queries, state.cursors);
              setViews((old) => ({
                ...old,
                [view.id]: { rows: [...state.rows, ...more.rows], cursors: more.cursors },
              }));
            } catch (err) {
              setError(describe(err));
            }
          }}
        >
          {t('docs.more')}
        </button>
      )}
    </section>
  );
}

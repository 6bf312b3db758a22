// Documents: drop or pick files (PDF, Word, Excel) and each goes straight to S3 through its
// presigned PUT with its own progress bar, then its ingest is followed until it is ready or
// refused (the reason in words); the list below filters by name, tag and status, pages with
// the API's cursor, and each document can be renamed and tagged, held (owners and admins),
// deleted (the 409 reasons in words), downloaded, or sent for signature.

import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../api';
import { navigate } from '../app';
import { call, client, type Schema } from '../client';
import { Dialog } from '../components/Dialog';
import { Status } from '../components/Status';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { useDescribe, usePageTitle } from '../ui';
import { useMay } from '../components/Workspace';

type Document = Schema<'DocumentView'>;
type DocumentStatus = Document['status'];

const TYPES: Record<string, string> = {
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** The media type GSign takes for a file, from its name (browsers leave Office types empty at times). */
export function contentTypeOf(file: { name: string; type: string }): string | null {
  const extension = file.name.split('.').pop()?.toLowerCase() ?? '';
  return TYPES[extension] ?? (Object.values(TYPES).includes(file.type) ? file.type : null);
}

/** One file on its way in. */
interface Upload {
  key: string;
  file: string;
  /** 0 to 1 while the bytes go up. */
  progress: number;
  state: 'declaring' | 'uploading' | 'processing' | 'ready' | 'failed';
  detail?: string;
  documentId?: string;
}

/** PUTs `file` to the presigned address, telling `onProgress` the share sent. */
function put(upload: Schema<'Presigned'>, file: File, onProgress: (share: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(upload.method, upload.url);
    for (const [name, value] of Object.entries(upload.headers)) {
      // The browser sets these itself and refuses to be told.
      if (!['content-length', 'host'].includes(name.toLowerCase())) request.setRequestHeader(name, value);
    }
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onload = () =>
      request.status >= 200 && request.status < 300
        ? resolve()
        : reject(new Error(`HTTP ${request.status}`));
    request.onerror = () => reject(new Error('network'));
    request.send(file);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls a document until ingest is done (backing off from 0.5 s to 5 s). */
async function settled(id: string): Promise<Document> {
  for (let delay = 500; ; delay = Math.min(delay * 1.5, 5000)) {
    const document = await call(client.GET('/v1/documents/{id}', { params: { path: { id } } }));
    if (document.status !== 'processing') return document;
    await sleep(delay);
  }
}

export function DocumentsPage() {
  const { t, language } = useI18n();
  usePageTitle('docs.title');
  const describe = useDescribe();
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [documents, setDocuments] = useState<Document[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filters, setFilters] = useState<{ name: string; tag: string; status: '' | DocumentStatus }>({
    name: '',
    tag: '',
    status: '',
  });
  const [editing, setEditing] = useState<Document | null>(null);
  const [deleting, setDeleting] = useState<Document | null>(null);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const inputId = useId();

  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = await call(
          client.GET('/v1/documents', {
            params: {
              query: {
                name: filters.name.trim() || undefined,
                tag: filters.tag.trim() || undefined,
                status: filters.status || undefined,
                cursor: after ?? undefined,
                limit: 25,
              },
            },
          }),
        );
        setDocuments((old) => (after ? [...(old ?? []), ...page.data] : page.data));
        setCursor(page.next_cursor ?? null);
        setError(null);
      } catch (err) {
        setError(describe(err));
      }
    },
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [filters],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const update = (key: string, change: Partial<Upload>) =>
    setUploads((all) => all.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const uploadOne = async (file: File) => {
    const key = `${file.name}-${file.size}-${Math.random()}`;
    setUploads((all) => [...all, { key, file: file.name, progress: 0, state: 'declaring' }]);
    const contentType = contentTypeOf(file);
    if (!contentType) {
      update(key, { state: 'failed', detail: t('docs.unsupported') });
      return;
    }
    try {
      const created = await call(
        client.POST('/v1/documents', {
          body: { file_name: file.name, content_type: contentType, size: file.size },
        }),
      );
      update(key, { state: 'uploading', documentId: created.id });
      await put(created.upload, file, (share) => update(key, { progress: share }));
      update(key, { state: 'processing', progress: 1 });
      const done = await settled(created.id);
      update(key, {
        state: done.status === 'ready' ? 'ready' : 'failed',
        detail: done.failure_detail ?? done.failure_reason ?? undefined,
      });
      void load(null);
    } catch (err) {
      update(key, {
        state: 'failed',
        detail: err instanceof ApiError ? describe(err) : t('docs.uploadFailed'),
      });
    }
  };

  const take = (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) void uploadOne(file);
  };

  const sendForSignature = async (document: Document) => {
    try {
      const envelope = await call(
        client.POST('/v1/envelopes', {
          body: { document_id: document.id, name: document.name, routing_type: 'sequential' },
        }),
      );
      navigate(`/envelopes/${envelope.id}`);
    } catch (err) {
      setError(describe(err));
    }
  };

  const download = async (document: Document) => {
    try {
      const link = await call(
        client.GET('/v1/documents/{id}/download', { params: { path: { id: document.id }, query: { variant: 'pdf' } } }),
      );
      window.location.assign(link.url);
    } catch (err) {
      setError(describe(err));
    }
  };

  const mayHold = useMay('documents:hold');
  const mayWrite = useMay('documents:write');

  return (
    <section className="card wide" aria-labelledby="docs-title">
      <h1 id="docs-title">{t('docs.title')}</h1>
      {mayWrite && (
      <div
        className={`dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(event) => {
          event.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(event) => {
          event.preventDefault();
          setDragging(false);
          take(event.dataTransfer.files);
        }}
      >
        <p>{t('docs.drop')}</p>
        <label htmlFor={inputId} className="button primary">
          {t('docs.choose')}
        </label>
        <input
          id={inputId}
          ref={input}
          className="visually-hidden"
          type="file"
          multiple
          accept=".pdf,.docx,.xlsx,application/pdf"
          onChange={(event) => {
            take(event.target.files);
            event.target.value = '';
          }}
        />
        <p className="hint">{t('docs.types')}</p>
      </div>
      )}
      {uploads.length > 0 && (
        <ul className="uploads" aria-label={t('docs.uploads')}>
          {uploads.map((u) => (
            <li key={u.key}>
              <span className="file-name">{u.file}</span>
              {u.state === 'uploading' || u.state === 'declaring' ? (
                <progress max={1} value={u.progress} aria-label={t('docs.progress', { file: u.file })} />
              ) : null}
              <span role="status" className={`upload-state ${u.state}`}>
                {t(`docs.upload.${u.state}` as MessageKey, { percent: Math.round(u.progress * 100) })}
                {u.detail ? `: ${u.detail}` : ''}
              </span>
            </li>
          ))}
        </ul>
      )}

      <form
        className="filters"
        role="search"
        aria-label={t('docs.filters')}
        onSubmit={(event: FormEvent) => {
          event.preventDefault();
          const data = new FormData(event.target as HTMLFormElement);
          setFilters({
            name: String(data.get('name') ?? ''),
            tag: String(data.get('tag') ?? ''),
            status: String(data.get('status') ?? '') as '' | DocumentStatus,
          });
        }}
      >
        <label>
          {t('docs.search')}
          <input name="name" type="search" defaultValue={filters.name} />
        </label>
        <label>
          {t('docs.tag')}
          <input name="tag" type="text" defaultValue={filters.tag} />
        </label>
        <label>
          {t('docs.status')}
          <select name="status" defaultValue={filters.status}>
            <option value="">{t('docs.status.any')}</option>
            <option value="processing">{t('docs.status.processing')}</option>
            <option value="ready">{t('docs.status.ready')}</option>
            <option value="failed">{t('docs.status.failed')}</option>
          </select>
        </label>
        <button type="submit" className="secondary">
          {t('docs.apply')}
        </button>
      </form>

      {error && <Status kind="error">{error}</Status>}
      {documents === null ? (
        <Status kind="info">{t('common.loading')}</Status>
      ) : documents.length === 0 ? (
        <p>{t('docs.none')}</p>
      ) : (
        <ul className="rows" aria-label={t('docs.list')}>
          {documents.map((d) => (
            <li key={d.id} className="row">
              <div className="row-main">
                <strong>{d.name}</strong>
                <span className={`badge ${d.status}`}>{t(`docs.status.${d.status}` as MessageKey)}</span>
                {d.legal_hold && <span className="badge hold">{t('docs.held')}</span>}
                <span className="muted">
                  {d.page_count ? t('docs.pages', { count: d.page_count }) + ' · ' : ''}
                  {formatDateTime(language, d.created_at)}
                </span>
                {d.tags.length > 0 && (
                  <span className="tags">
                    {d.tags.map((tag) => (
                      <span key={tag} className="tag">
                        {tag}
                      </span>
                    ))}
                  </span>
                )}
                {d.status === 'failed' && (
                  <span className="notice error inline">{d.failure_detail ?? d.failure_reason}</span>
                )}
              </div>
              <div className="row-actions">
                {mayWrite && d.status === 'ready' && (
                  <button type="button" className="primary" onClick={() => void sendForSignature(d)}>
                    {t('docs.send', { name: d.name })}
                  </button>
                )}
                {d.status === 'ready' && (
                  <button type="button" className="secondary" onClick={() => void download(d)}>
                    {t('docs.download')}
                  </button>
                )}
                {mayWrite && (
                  <button type="button" className="secondary" onClick={() => setEditing(d)}>
                    {t('docs.edit')}
                  </button>
                )}
                {mayWrite && (
                  <button type="button" className="secondary danger" onClick={() => setDeleting(d)}>
                    {t('docs.delete')}
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" className="secondary" onClick={() => void load(cursor)}>
          {t('docs.more')}
        </button>
      )}

      <EditDialog
        document={editing}
        mayHold={mayHold}
        onClose={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          void load(null);
        }}
      />
      <DeleteDialog
        document={deleting}
        onClose={() => setDeleting(null)}
        onDeleted={() => {
          setDeleting(null);
          void load(null);
        }}
      />
    </section>
  );
}

function EditDialog({
  document,
  mayHold,
  onClose,
  onSaved,
}: {
  document: Document | null;
  mayHold: boolean;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog open={document !== null} title={t('docs.editTitle')} onClose={onClose}>
      {document && (
        <form
          className="stack"
          onSubmit={async (event) => {
            event.preventDefault();
            const data = new FormData(event.target as HTMLFormElement);
            const tags = String(data.get('tags') ?? '')
              .split(',')
              .map((tag) => tag.trim())
              .filter(Boolean);
            try {
              await call(
                client.PATCH('/v1/documents/{id}', {
                  params: { path: { id: document.id } },
                  body: { name: String(data.get('name') ?? '').trim(), tags },
                }),
              );
              const hold = data.get('hold') === 'on';
              if (mayHold && hold !== document.legal_hold) {
                await call(
                  client.PUT('/v1/documents/{id}/legal-hold', {
                    params: { path: { id: document.id } },
                    body: { enabled: hold },
                  }),
                );
              }
              setError(null);
              onSaved();
            } catch (err) {
              setError(describe(err));
            }
          }}
        >
          <label htmlFor="doc-name">{t('docs.name')}</label>
          <input id="doc-name" name="name" required defaultValue={document.name} />
          <label htmlFor="doc-tags">{t('docs.tags')}</label>
          <input id="doc-tags" name="tags" defaultValue={document.tags.join(', ')} aria-describedby="doc-tags-hint" />
          <p id="doc-tags-hint" className="hint">
            {t('docs.tagsHint')}
          </p>
          {mayHold && (
            <label className="check">
              <input type="checkbox" name="hold" defaultChecked={document.legal_hold} />
              {t('docs.hold')}
            </label>
          )}
          {error && <Status kind="error">{error}</Status>}
          <div className="actions">
            <button type="submit" className="primary">
              {t('docs.save')}
            </button>
            <button type="button" className="secondary" onClick={onClose}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

const DELETE_REFUSALS: Record<string, MessageKey> = {
  'document-in-use': 'docs.deleteInUse',
  'document-under-legal-hold': 'docs.deleteHeld',
  'document-under-retention': 'docs.deleteRetained',
};

function DeleteDialog({
  document,
  onClose,
  onDeleted,
}: {
  document: Document | null;
  onClose: () => void;
  onDeleted: () => void;
}) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [error, setError] = useState<string | null>(null);
  return (
    <Dialog
      open={document !== null}
      title={t('docs.deleteTitle', { name: document?.name ?? '' })}
      onClose={() => {
        setError(null);
        onClose();
      }}
    >
      <p>{t('docs.deleteBody')}</p>
      {error && <Status kind="error">{error}</Status>}
      <div className="actions">
        <button
          type="button"
          className="primary danger"
          onClick={async () => {
            if (!document) return;
            try {
              await call(client.DELETE('/v1/documents/{id}', { params: { path: { id: document.id } } }));
              setError(null);
              onDeleted();
            } catch (err) {
              const refusal = err instanceof ApiError ? DELETE_REFUSALS[err.slug] : undefined;
              setError(refusal ? `${t(refusal)} ${describe(err)}` : describe(err));
            }
          }}
        >
          {t('docs.deleteConfirm')}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          {t('common.cancel')}
        </button>
      </div>
    </Dialog>
  );
}

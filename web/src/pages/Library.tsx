// Templates and document packs (seed 003): the clause library (Markdown with a live preview
// of its variables and signature blocks, the JSON Schema of its variables, city and role
// gates, versions, publish, retire), document templates (clauses in order, signer roles,
// page setup), and packs: a form generated from the chosen templates' variable schemas,
// every problem shown at once, then the pack with each document's envelope, issue and void.
// Authoring is for owners and admins; members generate and issue packs.

import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError } from '../api';
import { navigate } from '../app';
import { call, client, type Schema } from '../client';
import { Dialog } from '../components/Dialog';
import { MarkdownPreview } from '../components/MarkdownPreview';
import { Status } from '../components/Status';
import { useMay } from '../components/Workspace';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import {
  fieldsOf,
  getAt,
  mergeSchemas,
  parseInput,
  problemsOf,
  setAt,
  type FieldProblem,
  type FormField,
  type JsonSchema,
} from '../schema-form';
import { SectionSwitch, useDescribe, useLoaded, usePageTitle, useSection } from '../ui';

type Clause = Schema<'ClauseVersion'>;
type Template = Schema<'DocTemplateVersion'>;
type Tab = 'packs' | 'templates' | 'clauses';

const TABS: { id: Tab; label: MessageKey }[] = [
  { id: 'packs', label: 'library.packs' },
  { id: 'templates', label: 'library.templates' },
  { id: 'clauses', label: 'library.clauses' },
];

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function LibraryPage() {
  const { t } = useI18n();
  usePageTitle('library.title');
  const [tab, setTab] = useSection(
    TABS.map((x) => x.id),
    'packs',
  );
  return (
    <section className="card wide" aria-labelledby="library-title">
      <h1 id="library-title">{t('library.title')}</h1>
      <SectionSwitch sections={TABS} current={tab} onChoose={setTab} label={t('library.sections')} />
      {tab === 'clauses' && <Clauses />}
      {tab === 'templates' && <Templates />}
      {tab === 'packs' && <Packs />}
    </section>
  );
}

function VersionBadges({ item }: { item: { version: number; published_at?: string | null; is_active: boolean } }) {
  const { t } = useI18n();
  return (
    <>
      <span className="badge">{t('library.version', { n: item.version })}</span>
      <span className={`badge ${item.published_at ? 'ready' : 'processing'}`}>
        {item.published_at ? t('library.published') : t('library.draft')}
      </span>
      {!item.is_active && <span className="badge failed">{t('library.retired')}</span>}
    </>
  );
}

/** Every version of a clause's or template's name, each openable. */
function Versions({
  versions,
  current,
  onOpen,
}: {
  versions: Schema<'LibraryVersionSummary'>[];
  current: string;
  onOpen: (id: string) => void;
}) {
  const { t } = useI18n();
  if (versions.length < 2) return null;
  return (
    <div>
      <h3 id="versions-title">{t('library.versions')}</h3>
      <ol className="versions" aria-labelledby="versions-title">
        {versions.map((v) => (
          <li key={v.id}>
            {v.id === current ? (
              <strong aria-current="true">{t('library.version', { n: v.version })}</strong>
            ) : (
              <button type="button" className="link" onClick={() => onOpen(v.id)}>
                {t('library.version', { n: v.version })}
              </button>
            )}{' '}
            <span className="muted">
              {v.published_at ? t('library.published') : t('library.draft')}
              {v.is_active ? '' : ` · ${t('library.retired')}`}
            </span>
          </li>
        ))}
      </ol>
    </div>
  );
}

// ---------------------------------------------------------------- clauses

/** A sample value for a variable: the schema's example or default, else `null` (shown as its name). */
function sampleFrom(schema: JsonSchema): (name: string) => string | null {
  return (name) => {
    let current: JsonSchema | undefined = schema;
    for (const part of name.split('.')) current = current?.properties?.[part];
    const value = current?.examples?.[0] ?? current?.default;
    return value === undefined ? null : String(value);
  };
}

function Clauses() {
  const { t } = useI18n();
  const mayAuthor = useMay('organization:manage');
  const {
    data: clauses,
    notice,
    setNotice,
    reload: load,
  } = useLoaded(async () => (await call(client.GET('/v1/clauses', { params: { query: { limit: 100 } } }))).data);
  const [editing, setEditing] = useState<Clause | 'new' | null>(null);
  return (
    <>
      {mayAuthor && (
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          {t('library.newClause')}
        </button>
      )}
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      {editing && (
        <ClauseEditor
          key={editing === 'new' ? 'new' : editing.id}
          clause={editing === 'new' ? null : editing}
          mayAuthor={mayAuthor}
          onOpen={setEditing}
          onDone={(text) => {
            setEditing(null);
            if (text) setNotice({ kind: 'success', text });
            void load();
          }}
        />
      )}
      <ul className="rows" aria-label={t('library.clauses')}>
        {clauses?.map((c) => (
          <li key={c.id} className="row">
            <div className="row-main">
              <strong>{c.name}</strong>
              <span className="tags">
                <VersionBadges item={c} />
              </span>
            </div>
            <div className="row-actions">
              <button type="button" className="secondary" onClick={() => setEditing(c)} aria-label={t('library.open', { name: `${c.name} v${c.version}` })}>
                {t('library.openShort')}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}

function ClauseEditor({
  clause,
  mayAuthor,
  onDone,
  onOpen,
}: {
  clause: Clause | null;
  mayAuthor: boolean;
  onDone: (message?: string) => void;
  onOpen: (clause: Clause) => void;
}) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [versions, setVersions] = useState<Schema<'LibraryVersionSummary'>[]>([]);
  useEffect(() => {
    if (!clause) return;
    call(client.GET('/v1/clauses/{id}', { params: { path: { id: clause.id } } }))
      .then((found) => setVersions(found.versions))
      .catch(() => undefined);
  }, [clause]);
  const open = (id: string) =>
    void call(client.GET('/v1/clauses/{id}', { params: { path: { id } } }))
      .then(onOpen)
      .catch((err: unknown) => setError(describe(err)));
  const [name, setName] = useState(clause?.name ?? '');
  const [body, setBody] = useState(clause?.body_markdown ?? '');
  const [variables, setVariables] = useState(JSON.stringify(clause?.variables_json ?? { type: 'object', properties: {} }, null, 2));
  const [cities, setCities] = useState((clause?.city_gate ?? []).join(', '));
  const [roles, setRoles] = useState((clause?.role_gate ?? []).join(', '));
  const [error, setError] = useState<string | null>(null);
  const parsed = useMemo((): { schema: JsonSchema | null; error: string | null } => {
    try {
      const value = JSON.parse(variables) as unknown;
      if (!value || typeof value !== 'object' || Array.isArray(value)) return { schema: null, error: t('library.schemaObject') };
      return { schema: value as JsonSchema, error: null };
    } catch (err) {
      return { schema: null, error: err instanceof Error ? err.message : String(err) };
    }
  }, [variables, t]);
  const sample = useMemo(() => sampleFrom(parsed.schema ?? {}), [parsed.schema]);
  const gates = { city_gate: list(cities).length ? list(cities) : null, role_gate: list(roles).length ? list(roles) : null };
  const save = async () => {
    if (!parsed.schema) return;
    try {
      if (clause) {
        await call(
          client.POST('/v1/clauses/{id}/versions', {
            params: { path: { id: clause.id } },
            body: { body_markdown: body, variables_json: parsed.schema as Record<string, unknown>, ...gates },
          }),
        );
        onDone(t('library.versionSaved', { name: clause.name }));
      } else {
        await call(
          client.POST('/v1/clauses', {
            body: { name: name.trim(), body_markdown: body, variables_json: parsed.schema as Record<string, unknown>, ...gates },
          }),
        );
        onDone(t('library.clauseSaved', { name: name.trim() }));
      }
    } catch (err) {
      setError(describe(err));
    }
  };
  const act = async (work: () => Promise<unknown>, message: string) => {
    try {
      await work();
      onDone(message);
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <section className="editor" aria-label={clause ? t('library.editing', { name: `${clause.name} v${clause.version}` }) : t('library.newClause')}>
      <div className="editor-columns">
        <div className="stack">
          <label htmlFor="clause-name">{t('library.name')}</label>
          <input id="clause-name" value={name} disabled={clause !== null || !mayAuthor} onChange={(e) => setName(e.target.value)} required />
          <label htmlFor="clause-body">{t('library.body')}</label>
          <textarea
            id="clause-body"
            rows={12}
            value={body}
            disabled={!mayAuthor}
            aria-describedby="clause-body-hint"
            onChange={(e) => setBody(e.target.value)}
          />
          <p id="clause-body-hint" className="hint">
            {t('library.bodyHint')}
          </p>
          <label htmlFor="clause-variables">{t('library.variables')}</label>
          <textarea
            id="clause-variables"
            rows={8}
            className="code"
            value={variables}
            disabled={!mayAuthor}
            aria-invalid={parsed.error !== null}
            aria-describedby="clause-variables-error"
            onChange={(e) => setVariables(e.target.value)}
          />
          <p id="clause-variables-error" className={parsed.error ? 'hint error-text' : 'hint'}>
            {parsed.error ? t('library.schemaError', { detail: parsed.error }) : t('library.schemaHint')}
          </p>
          <label htmlFor="clause-cities">{t('library.cityGate')}</label>
          <input id="clause-cities" value={cities} disabled={!mayAuthor} onChange={(e) => setCities(e.target.value)} placeholder="UB, ERD" />
          <label htmlFor="clause-roles">{t('library.roleGate')}</label>
          <input id="clause-roles" value={roles} disabled={!mayAuthor} onChange={(e) => setRoles(e.target.value)} placeholder="buyer, seller" />
        </div>
        <div>
          <h3>{t('library.preview')}</h3>
          <MarkdownPreview source={body} sample={sample} />
          {clause && <Versions versions={versions} current={clause.id} onOpen={open} />}
        </div>
      </div>
      {error && <Status kind="error">{error}</Status>}
      <div className="actions">
        {mayAuthor && (
          <button type="button" className="primary" disabled={!parsed.schema || !body.trim() || !name.trim()} onClick={() => void save()}>
            {clause ? t('library.saveVersion') : t('library.saveDraft')}
          </button>
        )}
        {mayAuthor && clause && !clause.published_at && (
          <button
            type="button"
            className="secondary"
            onClick={() => void act(() => call(client.POST('/v1/clauses/{id}/publish', { params: { path: { id: clause.id } } })), t('library.publishedNow', { name: clause.name }))}
          >
            {t('library.publish')}
          </button>
        )}
        {mayAuthor && clause?.is_active && (
          <button
            type="button"
            className="secondary danger"
            onClick={() => void act(() => call(client.POST('/v1/clauses/{id}/deactivate', { params: { path: { id: clause.id } } })), t('library.retiredNow', { name: clause.name }))}
          >
            {t('library.retire')}
          </button>
        )}
        <button type="button" className="secondary" onClick={() => onDone()}>
          {t('library.close')}
        </button>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- templates

function Templates() {
  const { t } = useI18n();
  const mayAuthor = useMay('organization:manage');
  const { data, notice, setNotice, reload: load } = useLoaded(async () => {
    const [ts, cs] = await Promise.all([
      call(client.GET('/v1/doc-templates', { params: { query: { limit: 100 } } })),
      call(client.GET('/v1/clauses', { params: { query: { limit: 100, published: true, active: true } } })),
    ]);
    return { templates: ts.data, clauses: cs.data };
  });
  const templates = data?.templates ?? null;
  const clauses = data?.clauses ?? [];
  const [editing, setEditing] = useState<Template | 'new' | null>(null);
  return (
    <>
      {mayAuthor && (
        <button type="button" className="primary" onClick={() => setEditing('new')}>
          {t('library.newTemplate')}
        </button>
      )}
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      {editing && (
        <TemplateEditor
          key={editing === 'new' ? 'new' : editing.id}
          template={editing === 'new' ? null : editing}
          clauses={clauses}
          mayAuthor={mayAuthor}
          onOpen={setEditing}
          onDone={(text) => {
            setEditing(null);
            if (text) setNotice({ kind: 'success', text });
            void load();
          }}
        />
      )}
      <ul className="rows" aria-label={t('library.templates')}>
        {templates?.map((x) => (
          <li key={x.id} className="row">
            <div className="row-main">
              <strong>{x.name}</strong>
              <span className="tags">
                <VersionBadges item={x} />
              </span>
              <span className="muted">{t('library.signers', { roles: x.signer_roles.map((r) => r.role).join(', ') })}</span>
            </div>
            <div className="row-actions">
              <button type="button" className="secondary" onClick={() => setEditing(x)} aria-label={t('library.open', { name: `${x.name} v${x.version}` })}>
                {t('library.openShort')}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}

function TemplateEditor({
  template,
  clauses,
  mayAuthor,
  onDone,
  onOpen,
}: {
  template: Template | null;
  clauses: Clause[];
  mayAuthor: boolean;
  onDone: (message?: string) => void;
  onOpen: (template: Template) => void;
}) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [versions, setVersions] = useState<Schema<'LibraryVersionSummary'>[]>([]);
  useEffect(() => {
    if (!template) return;
    call(client.GET('/v1/doc-templates/{id}', { params: { path: { id: template.id } } }))
      .then((found) => setVersions(found.versions))
      .catch(() => undefined);
  }, [template]);
  const open = (id: string) =>
    void call(client.GET('/v1/doc-templates/{id}', { params: { path: { id } } }))
      .then(onOpen)
      .catch((err: unknown) => setError(describe(err)));
  const [name, setName] = useState(template?.name ?? '');
  const [chosen, setChosen] = useState<string[]>(template?.clauses_ordered.map((c) => c.clause_id) ?? []);
  const [roles, setRoles] = useState((template?.signer_roles ?? []).map((r) => r.role).join(', '));
  const [title, setTitle] = useState(template?.layout_json.title ?? '');
  const [cities, setCities] = useState((template?.city_gate ?? []).join(', '));
  const [gateRoles, setGateRoles] = useState((template?.role_gate ?? []).join(', '));
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState('');
  const clauseName = (id: string) => clauses.find((c) => c.id === id)?.name ?? id.slice(0, 8);
  const move = (index: number, by: number) =>
    setChosen((old) => {
      const next = [...old];
      const [item] = next.splice(index, 1);
      if (item !== undefined) next.splice(Math.max(0, Math.min(next.length, index + by)), 0, item);
      return next;
    });
  const body = {
    clauses_ordered: chosen.map((clause_id) => ({ clause_id })),
    signer_roles: list(roles).map((role) => ({ role })),
    layout_json: title.trim() ? { title: title.trim() } : null,
    city_gate: list(cities).length ? list(cities) : null,
    role_gate: list(gateRoles).length ? list(gateRoles) : null,
  };
  const act = async (work: () => Promise<unknown>, message: string) => {
    try {
      await work();
      onDone(message);
    } catch (err) {
      setError(describe(err));
    }
  };
  return (
    <section className="editor stack" aria-label={template ? t('library.editing', { name: `${template.name} v${template.version}` }) : t('library.newTemplate')}>
      <label htmlFor="template-name">{t('library.name')}</label>
      <input id="template-name" value={name} disabled={template !== null || !mayAuthor} onChange={(e) => setName(e.target.value)} />
      <label htmlFor="template-title">{t('library.docTitle')}</label>
      <input id="template-title" value={title} disabled={!mayAuthor} onChange={(e) => setTitle(e.target.value)} />
      <label htmlFor="template-cities">{t('library.cityGate')}</label>
      <input id="template-cities" value={cities} disabled={!mayAuthor} onChange={(e) => setCities(e.target.value)} placeholder="UB, ERD" />
      <label htmlFor="template-role-gate">{t('library.roleGate')}</label>
      <input id="template-role-gate" value={gateRoles} disabled={!mayAuthor} onChange={(e) => setGateRoles(e.target.value)} />
      <label htmlFor="template-roles">{t('library.signerRoles')}</label>
      <input
        id="template-roles"
        value={roles}
        disabled={!mayAuthor}
        aria-describedby="template-roles-hint"
        onChange={(e) => setRoles(e.target.value)}
        placeholder="seller, buyer"
      />
      <p id="template-roles-hint" className="hint">
        {t('library.signerRolesHint')}
      </p>
      <h3 id="template-clauses">{t('library.clausesInOrder')}</h3>
      <ol className="group" aria-labelledby="template-clauses">
        {chosen.map((id, i) => (
          <li key={`${id}-${i}`} className="recipient">
            <span>{clauseName(id)}</span>
            {mayAuthor && (
              <span className="recipient-actions">
                <button type="button" className="secondary" disabled={i === 0} aria-label={t('library.earlier', { name: clauseName(id) })} onClick={() => move(i, -1)}>
                  ↑
                </button>
                <button
                  type="button"
                  className="secondary"
                  disabled={i === chosen.length - 1}
                  aria-label={t('library.later', { name: clauseName(id) })}
                  onClick={() => move(i, 1)}
                >
                  ↓
                </button>
                <button
                  type="button"
                  className="secondary danger"
                  aria-label={t('library.removeClause', { name: clauseName(id) })}
                  onClick={() => setChosen((old) => old.filter((_, j) => j !== i))}
                >
                  ×
                </button>
              </span>
            )}
          </li>
        ))}
      </ol>
      {mayAuthor && (
        <div className="palette-row">
          <label>
            {t('library.addClause')}
            <select value={adding} onChange={(e) => setAdding(e.target.value)}>
              <option value="">—</option>
              {clauses.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} v{c.version}
                </option>
              ))}
            </select>
          </label>
          <button
            type="button"
            className="secondary"
            disabled={!adding}
            onClick={() => {
              setChosen((old) => [...old, adding]);
              setAdding('');
            }}
          >
            {t('library.add')}
          </button>
        </div>
      )}
      {template && <Versions versions={versions} current={template.id} onOpen={open} />}
      {error && <Status kind="error">{error}</Status>}
      <div className="actions">
        {mayAuthor && (
          <button
            type="button"
            className="primary"
            disabled={chosen.length === 0 || list(roles).length === 0 || !name.trim()}
            onClick={() =>
              void act(
                () =>
                  template
                    ? call(client.POST('/v1/doc-templates/{id}/versions', { params: { path: { id: template.id } }, body }))
                    : call(client.POST('/v1/doc-templates', { body: { name: name.trim(), ...body } })),
                template ? t('library.versionSaved', { name: template.name }) : t('library.templateSaved', { name: name.trim() }),
              )
            }
          >
            {template ? t('library.saveVersion') : t('library.saveDraft')}
          </button>
        )}
        {mayAuthor && template && !template.published_at && (
          <button
            type="button"
            className="secondary"
            onClick={() =>
              void act(
                () => call(client.POST('/v1/doc-templates/{id}/publish', { params: { path: { id: template.id } } })),
                t('library.publishedNow', { name: template.name }),
              )
            }
          >
            {t('library.publish')}
          </button>
        )}
        {mayAuthor && template?.is_active && (
          <button
            type="button"
            className="secondary danger"
            onClick={() =>
              void act(
                () => call(client.POST('/v1/doc-templates/{id}/deactivate', { params: { path: { id: template.id } } })),
                t('library.retiredNow', { name: template.name }),
              )
            }
          >
            {t('library.retire')}
          </button>
        )}
        <button type="button" className="secondary" onClick={() => onDone()}>
          {t('library.close')}
        </button>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- packs

function Packs() {
  const { t, language } = useI18n();
  const mayWrite = useMay('documents:write');
  const { data: packs, notice, reload: load } = useLoaded(
    async () => (await call(client.GET('/v1/doc-packs', { params: { query: { limit: 100 } } }))).data,
  );
  const [creating, setCreating] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      {mayWrite && !creating && (
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          {t('library.newPack')}
        </button>
      )}
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      {creating && (
        <PackForm
          onDone={(id) => {
            setCreating(false);
            if (id) setOpen(id);
            void load();
          }}
        />
      )}
      {open && <PackDetail id={open} onChanged={() => void load()} />}
      <ul className="rows" aria-label={t('library.packs')}>
        {packs?.map((p) => (
          <li key={p.id} className="row">
            <div className="row-main">
              <strong>{p.reference}</strong>
              <span className={`badge ${p.status === 'signed' ? 'ready' : p.status === 'voided' || p.status === 'superseded' ? 'failed' : 'processing'}`}>
                {t(`pack.status.${p.status}` as MessageKey)}
              </span>
              <span className="muted">
                {p.city} · {formatDateTime(language, p.created_at)}
              </span>
            </div>
            <div className="row-actions">
              <button type="button" className="secondary" aria-label={t('library.open', { name: p.reference })} onClick={() => setOpen(p.id)}>
                {t('library.openShort')}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}

/** The schema of the variables and the signer roles of `templates`, from their clauses. */
async function requirementsOf(templates: Template[]): Promise<{ schema: JsonSchema; roles: string[] }> {
  const ids = [...new Set(templates.flatMap((x) => x.clauses_ordered.map((c) => c.clause_id)))];
  const clauses = await Promise.all(ids.map((id) => call(client.GET('/v1/clauses/{id}', { params: { path: { id } } }))));
  const roles = [...new Set(templates.flatMap((x) => x.signer_roles.map((r) => r.role)))];
  return { schema: mergeSchemas(clauses.map((c) => c.variables_json as JsonSchema)), roles };
}

function PackForm({ onDone }: { onDone: (id?: string) => void }) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [chosen, setChosen] = useState<string[]>([]);
  const [reference, setReference] = useState('');
  const [city, setCity] = useState('UB');
  const [requirements, setRequirements] = useState<{ fields: FormField[]; roles: string[] } | null>(null);
  const [values, setValues] = useState<Record<string, unknown>>({});
  const [signers, setSigners] = useState<Record<string, { name: string; email: string }>>({});
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    call(client.GET('/v1/doc-templates', { params: { query: { limit: 100, published: true, active: true } } }))
      .then((page) => setTemplates(page.data))
      .catch((err: unknown) => setError(describe(err)));
    // Once.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    const picked = chosen.map((id) => templates.find((x) => x.id === id)).filter((x): x is Template => Boolean(x));
    if (picked.length === 0) {
      setRequirements(null);
      return;
    }
    let current = true;
    requirementsOf(picked)
      .then(({ schema, roles }) => {
        if (current) setRequirements({ fields: fieldsOf(schema), roles });
      })
      .catch((err: unknown) => setError(describe(err)));
    return () => {
      current = false;
    };
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [chosen, templates]);

  const worded = (p: FieldProblem) =>
    p.kind ? t(`form.${p.kind}` as MessageKey, { limit: p.limit ?? '' }) : p.detail;
  const problemAt = (pointer: string) => problems.filter((p) => p.pointer === pointer).map(worded);

  const submit = async () => {
    if (!requirements) return;
    const local: FieldProblem[] = [
      ...problemsOf(requirements.fields, values).map((p) => ({ ...p, pointer: `/variables${p.pointer}` })),
      ...requirements.roles.flatMap((role) => {
        const s = signers[role];
        return !s?.name.trim() || !s.email.trim() ? [{ pointer: `/signer_map/${role}`, detail: t('library.signerNeeded') }] : [];
      }),
      ...(reference.trim() ? [] : [{ pointer: '/reference', detail: t('library.required') }]),
    ];
    setProblems(local);
    if (local.length > 0) return;
    setBusy(true);
    try {
      const pack = await call(
        client.POST('/v1/doc-packs', {
          body: { reference: reference.trim(), city: city.trim(), templates: chosen, variables: values, signer_map: signers },
        }),
      );
      onDone(pack.id);
    } catch (err) {
      if (err instanceof ApiError && err.problem.errors?.length) setProblems(err.problem.errors);
      else setError(describe(err));
    } finally {
      setBusy(false);
    }
  };

  const unplaced = problems.filter(
    (p) =>
      !(requirements?.fields ?? []).some((f) => `/variables${f.pointer}` === p.pointer) &&
      !p.pointer.startsWith('/signer_map/') &&
      p.pointer !== '/reference',
  );

  return (
    <form
      className="editor stack"
      aria-label={t('library.newPack')}
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <fieldset className="scopes">
        <legend>{t('library.chooseTemplates')}</legend>
        {templates.length === 0 && <p className="hint">{t('library.noTemplates')}</p>}
        {templates.map((x) => (
          <label key={x.id} className="check">
            <input
              type="checkbox"
              checked={chosen.includes(x.id)}
              onChange={(e) => setChosen((old) => (e.target.checked ? [...old, x.id] : old.filter((id) => id !== x.id)))}
            />
            {x.name} v{x.version}
          </label>
        ))}
      </fieldset>
      <label htmlFor="pack-reference">{t('library.reference')}</label>
      <input id="pack-reference" value={reference} onChange={(e) => setReference(e.target.value)} aria-invalid={problemAt('/reference').length > 0} />
      {problemAt('/reference').map((d) => (
        <p key={d} className="hint error-text">
          {d}
        </p>
      ))}
      <label htmlFor="pack-city">{t('library.city')}</label>
      <input id="pack-city" value={city} onChange={(e) => setCity(e.target.value)} />
      {requirements && (
        <>
          <h3>{t('library.variablesForm')}</h3>
          {requirements.fields.length === 0 && <p className="hint">{t('library.noVariables')}</p>}
          {requirements.fields.map((field) => {
            const id = `var-${field.path.join('-')}`;
            const own = problemAt(`/variables${field.pointer}`);
            const label = field.schema.title ?? field.path.join(' › ');
            const value = getAt(values, field.path);
            return (
              <div key={field.pointer} className="stack">
                <label htmlFor={id}>
                  {label}
                  {field.required ? ' *' : ''}
                </label>
                {field.schema.enum ? (
                  <select
                    id={id}
                    value={value === undefined ? '' : String(value)}
                    aria-invalid={own.length > 0}
                    onChange={(e) => setValues((v) => setAt(v, field.path, e.target.value || undefined))}
                  >
                    <option value="">—</option>
                    {field.schema.enum.map((option) => (
                      <option key={String(option)} value={String(option)}>
                        {String(option)}
                      </option>
                    ))}
                  </select>
                ) : field.type === 'boolean' ? (
                  <input
                    id={id}
                    type="checkbox"
                    checked={value === true}
                    onChange={(e) => setValues((v) => setAt(v, field.path, e.target.checked))}
                  />
                ) : (
                  <input
                    id={id}
                    type={field.type === 'string' ? (field.schema.format === 'date' ? 'date' : 'text') : 'number'}
                    value={value === undefined ? '' : String(value)}
                    aria-invalid={own.length > 0}
                    aria-describedby={field.schema.description || own.length ? `${id}-hint` : undefined}
                    onChange={(e) => setValues((v) => setAt(v, field.path, parseInput(field, e.target.value)))}
                  />
                )}
                {(field.schema.description || own.length > 0) && (
                  <p id={`${id}-hint`} className={own.length ? 'hint error-text' : 'hint'}>
                    {own.length ? own.join('; ') : field.schema.description}
                  </p>
                )}
              </div>
            );
          })}
          <h3>{t('library.signerMap')}</h3>
          {requirements.roles.map((role) => {
            const own = problemAt(`/signer_map/${role}`);
            return (
              <fieldset key={role} className="scopes">
                <legend>{role}</legend>
                <label>
                  {t('builder.name')}
                  <input
                    value={signers[role]?.name ?? ''}
                    onChange={(e) => setSigners((s) => ({ ...s, [role]: { name: e.target.value, email: s[role]?.email ?? '' } }))}
                  />
                </label>
                <label>
                  {t('common.email')}
                  <input
                    type="email"
                    value={signers[role]?.email ?? ''}
                    onChange={(e) => setSigners((s) => ({ ...s, [role]: { name: s[role]?.name ?? '', email: e.target.value } }))}
                  />
                </label>
                {own.map((d) => (
                  <p key={d} className="hint error-text">
                    {d}
                  </p>
                ))}
              </fieldset>
            );
          })}
        </>
      )}
      {problems.length > 0 && (
        <div role="alert" className="notice error">
          <p>{t('library.problems', { count: problems.length })}</p>
          {unplaced.length > 0 && (
            <ul>
              {unplaced.map((p) => (
                <li key={`${p.pointer}-${p.detail}`}>
                  <code>{p.pointer || '/'}</code> {worded(p)}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {error && <Status kind="error">{error}</Status>}
      <div className="actions">
        <button type="submit" className="primary" disabled={!requirements || busy}>
          {t('library.generate')}
        </button>
        <button type="button" className="secondary" onClick={() => onDone()}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}

function PackDetail({ id, onChanged }: { id: string; onChanged: () => void }) {
  const { t } = useI18n();
  const describe = useDescribe();
  const mayWrite = useMay('documents:write');
  const [pack, setPack] = useState<Schema<'DocPackDetail'> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [voiding, setVoiding] = useState(false);
  const [reason, setReason] = useState('');
  const load = useCallback(async () => {
    try {
      setPack(await call(client.GET('/v1/doc-packs/{id}', { params: { path: { id } } })));
      setError(null);
    } catch (err) {
      setError(describe(err));
    }
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);
  // Follows an issued pack while its envelopes are out.
  useEffect(() => {
    if (pack?.status !== 'issued') return;
    const timer = setInterval(() => void load(), 5000);
    return () => clearInterval(timer);
  }, [pack?.status, load]);
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      await load();
      onChanged();
    } catch (err) {
      setError(describe(err));
    }
  };
  const download = async (doc: string, variant: 'generated' | 'signed' | 'certificate') => {
    try {
      const link = await call(
        client.GET('/v1/doc-packs/{id}/instances/{doc_id}/download', { params: { path: { id, doc_id: doc }, query: { variant } } }),
      );
      window.location.assign(link.url);
    } catch (err) {
      setError(describe(err));
    }
  };
  if (!pack) return error ? <Status kind="error">{error}</Status> : <Status kind="info">{t('common.loading')}</Status>;
  return (
    <section className="editor" aria-label={t('library.pack', { reference: pack.reference })}>
      <h2>
        {t('library.pack', { reference: pack.reference })}{' '}
        <span className="badge">{t(`pack.status.${pack.status}` as MessageKey)}</span>
      </h2>
      {pack.void_reason && <Status kind="info">{t('envelope.voidedBecause', { reason: pack.void_reason })}</Status>}
      <ol className="rows" aria-label={t('library.documents')}>
        {(pack.documents ?? []).map((d) => (
          <li key={d.id} className="row">
            <div className="row-main">
              <strong>{t('library.document', { n: d.position, pages: d.page_count })}</strong>
              <span className="badge">{t(`pack.envelope.${d.envelope_status}` as MessageKey)}</span>
              {d.envelope_id && (
                <a
                  href={`/envelopes/${d.envelope_id}`}
                  onClick={(event) => {
                    event.preventDefault();
                    navigate(`/envelopes/${d.envelope_id}`);
                  }}
                >
                  {t('library.openEnvelope', { n: d.position })}
                </a>
              )}
            </div>
            <div className="row-actions">
              <button type="button" className="secondary" onClick={() => void download(d.id, 'generated')}>
                {t('library.downloadGenerated')}
              </button>
              {d.envelope_status === 'completed' && (
                <button type="button" className="secondary" onClick={() => void download(d.id, 'signed')}>
                  {t('library.downloadSigned')}
                </button>
              )}
            </div>
          </li>
        ))}
      </ol>
      {error && <Status kind="error">{error}</Status>}
      {mayWrite && (
        <div className="actions">
          {pack.status === 'draft' && (
            <button type="button" className="primary" onClick={() => void act(() => call(client.POST('/v1/doc-packs/{id}/issue', { params: { path: { id } } })))}>
              {t('library.issue')}
            </button>
          )}
          {(pack.status === 'draft' || pack.status === 'issued') && (
            <button type="button" className="secondary danger" onClick={() => setVoiding(true)}>
              {t('envelope.void')}
            </button>
          )}
        </div>
      )}
      <Dialog open={voiding} title={t('library.voidPack')} onClose={() => setVoiding(false)}>
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            setVoiding(false);
            void act(() => call(client.POST('/v1/doc-packs/{id}/void', { params: { path: { id } }, body: { reason: reason.trim() } })));
          }}
        >
          <label htmlFor="pack-void-reason">{t('envelope.voidReason')}</label>
          <textarea id="pack-void-reason" required value={reason} onChange={(e) => setReason(e.target.value)} />
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
    </section>
  );
}

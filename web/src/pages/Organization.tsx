// The organization, for owners and admins: members (invite, change a role, remove; the last
// owner stays, and the page says why), API keys (scopes picked, the key shown once with a
// copy button, revoke) and webhooks (endpoints and their event filter, a test event, the
// delivery log with every attempt, retry, a rotated secret shown once, delete); the
// certificates, audit and billing tabs are in Records.tsx.

import { useCallback, useEffect, useState } from 'react';
import { ApiError } from '../api';
import { call, client, type Schema } from '../client';
import { Status } from '../components/Status';
import { useMe } from '../components/Workspace';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { assignable } from '../roles';
import { SectionSwitch, useDescribe, useLoaded, usePageTitle, useSection } from '../ui';
import { Audit, Billing, Certificates } from './Records';

type Tab = 'members' | 'keys' | 'webhooks' | 'certificates' | 'audit' | 'billing';
const TABS: { id: Tab; label: MessageKey }[] = [
  { id: 'members', label: 'org.members' },
  { id: 'keys', label: 'org.keys' },
  { id: 'webhooks', label: 'org.webhooks' },
  { id: 'certificates', label: 'org.certificates' },
  { id: 'audit', label: 'org.audit' },
  { id: 'billing', label: 'org.billing' },
];


export function OrganizationPage() {
  const { t } = useI18n();
  usePageTitle('org.title');
  const [tab, setTab] = useSection(
    TABS.map((x) => x.id),
    'members',
  );
  return (
    <section className="card wide" aria-labelledby="org-title">
      <h1 id="org-title">{t('org.title')}</h1>
      <SectionSwitch sections={TABS} current={tab} onChoose={setTab} label={t('org.sections')} />
      {tab === 'members' && <Members />}
      {tab === 'keys' && <ApiKeys />}
      {tab === 'webhooks' && <Webhooks />}
      {tab === 'certificates' && <Certificates />}
      {tab === 'audit' && <Audit />}
      {tab === 'billing' && <Billing />}
    </section>
  );
}

/** Copies `text` and says so. */
function CopyButton({ text, label }: { text: string; label: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => undefined);
        setCopied(true);
      }}
    >
      {copied ? t('org.copied') : label}
    </button>
  );
}

/** A secret shown this once. */
function OnceSecret({ title, secret }: { title: string; secret: string }) {
  const { t } = useI18n();
  return (
    <div className="notice success once" role="status">
      <p>
        <strong>{title}</strong> {t('org.shownOnce')}
      </p>
      <code className="secret">{secret}</code>
      <CopyButton text={secret} label={t('org.copy')} />
    </div>
  );
}

function Members() {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const me = useMe();
  const {
    data: members,
    notice,
    setNotice,
    reload: load,
  } = useLoaded(async () => (await call(client.GET('/v1/organization/users', { params: { query: { limit: 100 } } }))).data);
  const [form, setForm] = useState({ email: '', role: 'member' });
  const roles = assignable(me?.role ?? 'viewer');
  const explain = (err: unknown) =>
    err instanceof ApiError && /last-owner/.test(err.slug) ? t('org.lastOwner') : describe(err);
  return (
    <>
      <form
        className="add-recipient"
        aria-label={t('org.invite')}
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            await call(client.POST('/v1/organization/users', { body: { email: form.email.trim(), role: form.role as 'member' } }));
            setNotice({ kind: 'success', text: t('org.invited', { email: form.email.trim() }) });
            setForm({ ...form, email: '' });
            await load();
          } catch (err) {
            setNotice({ kind: 'error', text: describe(err) });
          }
        }}
      >
        <label>
          {t('common.email')}
          <input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} />
        </label>
        <label>
          {t('builder.role')}
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
            {roles.map((role) => (
              <option key={role} value={role}>
                {t(`role.member.${role}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary">
          {t('org.invite')}
        </button>
      </form>
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      <ul className="rows" aria-label={t('org.members')}>
        {members?.map((m) => (
          <li key={m.id} className="row">
            <div className="row-main">
              <strong>{[m.first_name, m.last_name].filter(Boolean).join(' ') || m.email}</strong>
              {(m.first_name || m.last_name) && <span className="muted">{m.email}</span>}
              <span className={`badge ${m.status}`}>{t(`org.status.${m.status}` as MessageKey)}</span>
              {m.last_login_at && <span className="muted">{t('org.lastSignIn', { at: formatDateTime(language, m.last_login_at) })}</span>}
            </div>
            <div className="row-actions">
              <label>
                <span className="visually-hidden">{t('org.roleOf', { email: m.email })}</span>
                <select
                  value={m.role}
                  disabled={m.id === me?.id || m.status === 'disabled' || !roles.includes(m.role)}
                  onChange={async (e) => {
                    try {
                      await call(
                        client.PATCH('/v1/organization/users/{id}', {
                          params: { path: { id: m.id } },
                          body: { role: e.target.value as 'member' },
                        }),
                      );
                      setNotice(null);
                    } catch (err) {
                      setNotice({ kind: 'error', text: explain(err) });
                    }
                    await load();
                  }}
                >
                  {(roles.includes(m.role) ? roles : [m.role]).map((role) => (
                    <option key={role} value={role}>
                      {t(`role.member.${role}` as MessageKey)}
                    </option>
                  ))}
                </select>
              </label>
              {m.id !== me?.id && m.status !== 'disabled' && roles.includes(m.role) && (
                <button
                  type="button"
                  className="secondary danger"
                  aria-label={t('org.removeMember', { email: m.email })}
                  onClick={async () => {
                    try {
                      await call(client.DELETE('/v1/organization/users/{id}', { params: { path: { id: m.id } } }));
                      setNotice(null);
                      await load();
                    } catch (err) {
                      setNotice({ kind: 'error', text: explain(err) });
                    }
                  }}
                >
                  {t('org.remove')}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      <p className="hint">{t('org.lastOwner')}</p>
    </>
  );
}

const SCOPES = [
  'documents:read',
  'documents:write',
  'organization:read',
  'organization:write',
  'audit:read',
  'certificates:read',
  'webhooks:manage',
  'templates:manage',
] as const;

function ApiKeys() {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const { data: keys, notice, setNotice, reload: load, run } = useLoaded(
    async () => (await call(client.GET('/v1/api-keys', { params: { query: { limit: 100 } } }))).data,
  );
  const [created, setCreated] = useState<Schema<'CreatedApiKey'> | null>(null);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['documents:read', 'documents:write']);
  return (
    <>
      <form
        className="stack"
        aria-label={t('org.newKey')}
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            const key = await call(
              client.POST('/v1/api-keys', { body: { name: name.trim(), scopes: scopes as (typeof SCOPES)[number][] } }),
            );
            setCreated(key);
            setName('');
            setNotice(null);
            await load();
          } catch (err) {
            setNotice({ kind: 'error', text: describe(err) });
          }
        }}
      >
        <label htmlFor="key-name">{t('org.keyName')}</label>
        <input id="key-name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        <fieldset className="scopes">
          <legend>{t('org.scopes')}</legend>
          {SCOPES.map((scope) => (
            <label key={scope} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(scope)}
                onChange={(e) => setScopes((old) => (e.target.checked ? [...old, scope] : old.filter((s) => s !== scope)))}
              />
              <code>{scope}</code>
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary" disabled={scopes.length === 0}>
          {t('org.createKey')}
        </button>
      </form>
      {created?.key && <OnceSecret title={t('org.keyCreated', { name: created.name })} secret={created.key} />}
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      <ul className="rows" aria-label={t('org.keys')}>
        {keys?.map((k) => (
          <li key={k.id} className="row">
            <div className="row-main">
              <strong>{k.name}</strong>
              <code>{k.prefix}…</code>
              <span className="muted">{k.scopes.join(', ')}</span>
              <span className="muted">
                {k.revoked_at
                  ? t('org.revokedAt', { at: formatDateTime(language, k.revoked_at) })
                  : k.last_used_at
                    ? t('org.usedAt', { at: formatDateTime(language, k.last_used_at) })
                    : t('org.neverUsed')}
              </span>
            </div>
            {!k.revoked_at && (
              <div className="row-actions">
                <button
                  type="button"
                  className="secondary danger"
                  aria-label={t('org.revokeKey', { name: k.name })}
                  onClick={() => void run(() => call(client.DELETE('/v1/api-keys/{id}', { params: { path: { id: k.id } } })))}
                >
                  {t('org.revoke')}
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </>
  );
}

const EVENT_TYPES = [
  'envelope.sent',
  'envelope.completed',
  'envelope.declined',
  'envelope.voided',
  'envelope.expired',
  'envelope.archive_renewed',
  'recipient.viewed',
  'recipient.signed',
  'recipient.declined',
  'recipient.mail_bounced',
  'document.ready',
  'document.failed',
] as const;

function Webhooks() {
  const { t } = useI18n();
  const describe = useDescribe();
  const { data: hooks, notice, setNotice, reload: load, run } = useLoaded(
    async () => (await call(client.GET('/v1/webhooks'))).data,
  );
  const [secret, setSecret] = useState<{ title: string; value: string } | null>(null);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<string[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <>
      <form
        className="stack"
        aria-label={t('org.newWebhook')}
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            const hook = await call(
              client.POST('/v1/webhooks', {
                body: { url: url.trim(), event_types: events as (typeof EVENT_TYPES)[number][] },
              }),
            );
            setSecret({ title: t('org.webhookCreated', { url: hook.url }), value: hook.secret });
            setUrl('');
            setNotice(null);
            await load();
          } catch (err) {
            setNotice({ kind: 'error', text: describe(err) });
          }
        }}
      >
        <label htmlFor="hook-url">{t('org.webhookUrl')}</label>
        <input id="hook-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} />
        <fieldset className="scopes">
          <legend>{t('org.events')}</legend>
          <p className="hint">{t('org.eventsHint')}</p>
          {EVENT_TYPES.map((type) => (
            <label key={type} className="check">
              <input
                type="checkbox"
                checked={events.includes(type)}
                onChange={(e) => setEvents((old) => (e.target.checked ? [...old, type] : old.filter((s) => s !== type)))}
              />
              <code>{type}</code>
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary">
          {t('org.addWebhook')}
        </button>
      </form>
      {secret && <OnceSecret title={secret.title} secret={secret.value} />}
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      <ul className="rows" aria-label={t('org.webhooks')}>
        {hooks?.map((h) => (
          <li key={h.id} className="row column">
            <div className="row-main">
              <strong>{h.url}</strong>
              <span className={`badge ${h.active ? 'ready' : 'failed'}`}>
                {h.active ? t('org.active') : t('org.inactive', { reason: h.disabled_reason ?? '' })}
              </span>
              <span className="muted">{h.event_types.length ? h.event_types.join(', ') : t('org.allEvents')}</span>
            </div>
            <div className="row-actions">
              <button
                type="button"
                className="secondary"
                onClick={async () => {
                  try {
                    await call(client.POST('/v1/webhooks/{id}/test', { params: { path: { id: h.id } } }));
                    setNotice({ kind: 'success', text: t('org.testSent') });
                    setOpen(h.id);
                  } catch (err) {
                    setNotice({ kind: 'error', text: describe(err) });
                  }
                }}
              >
                {t('org.sendTest')}
              </button>
              <button type="button" className="secondary" aria-expanded={open === h.id} onClick={() => setOpen(open === h.id ? null : h.id)}>
                {t('org.deliveries')}
              </button>
              <button
                type="button"
                className="secondary"
                onClick={async () => {
                  try {
                    const rotated = await call(client.POST('/v1/webhooks/{id}/rotate-secret', { params: { path: { id: h.id } } }));
                    setSecret({ title: t('org.secretRotated'), value: rotated.secret });
                  } catch (err) {
                    setNotice({ kind: 'error', text: describe(err) });
                  }
                }}
              >
                {t('org.rotate')}
              </button>
              <button
                type="button"
                className="secondary danger"
                aria-label={t('org.deleteWebhook', { url: h.url })}
                onClick={() => void run(() => call(client.DELETE('/v1/webhooks/{id}', { params: { path: { id: h.id } } })))}
              >
                {t('docs.delete')}
              </button>
            </div>
            {open === h.id && <Deliveries webhook={h.id} />}
          </li>
        ))}
      </ul>
    </>
  );
}

/** An endpoint's delivery log, refreshed every few seconds while open. */
function Deliveries({ webhook }: { webhook: string }) {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const [deliveries, setDeliveries] = useState<Schema<'WebhookDelivery'>[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    try {
      const page = await call(
        client.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: webhook }, query: { limit: 25 } } }),
      );
      setDeliveries(page.data);
      setError(null);
    } catch (err) {
      setError(describe(err));
    }
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [webhook]);
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 3000);
    return () => clearInterval(timer);
  }, [load]);
  return (
    <section className="deliveries" aria-label={t('org.deliveries')}>
      {error && <Status kind="error">{error}</Status>}
      {deliveries?.length === 0 && <p>{t('org.noDeliveries')}</p>}
      <ul className="rows">
        {deliveries?.map((d) => (
          <li key={d.id} className="row column">
            <div className="row-main">
              <strong>{d.event_type}</strong>
              <span className={`badge ${d.status === 'delivered' ? 'ready' : d.status === 'failed' ? 'failed' : 'processing'}`}>
                {t(`org.delivery.${d.status}` as MessageKey)}
              </span>
              <ol className="attempts" aria-label={t('org.attempts')}>
                {d.attempt_log.map((a) => (
                  <li key={a.at}>
                    {formatDateTime(language, a.at)} · {a.response_code ? `HTTP ${a.response_code}` : (a.error ?? '')} ·{' '}
                    {a.duration_ms} ms
                  </li>
                ))}
              </ol>
            </div>
            {d.status !== 'pending' && (
              <div className="row-actions">
                <button
                  type="button"
                  className="secondary"
                  onClick={async () => {
                    try {
                      await call(
                        client.POST('/v1/webhooks/{id}/deliveries/{delivery_id}/retry', {
                          params: { path: { id: webhook, delivery_id: d.id } },
                        }),
                      );
                      await load();
                    } catch (err) {
                      setError(describe(err));
                    }
                  }}
                >
                  {t('org.retry')}
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

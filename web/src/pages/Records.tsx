// The organization's records, for owners and admins: certificates (issue one from the
// organization's CA, self-signed or as a CSR for an outside CA; make it the default; download
// the chain or the CSR; import an outside CA's chain; revoke), the audit trail with filters,
// and billing (the plan and this period's usage against it, a daily chart, the invoice
// preview, Checkout to upgrade, Stripe's portal).

import { useCallback, useEffect, useState } from 'react';
import { call, client, type Schema } from '../client';
import { Dialog } from '../components/Dialog';
import { Status } from '../components/Status';
import { useMay } from '../components/Workspace';
import { formatDateTime, useI18n, type MessageKey } from '../i18n';
import { useDescribe, useLoaded } from '../ui';


/** Saves `text` as a file named `name`. */
function saveText(name: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------- certificates

type Certificate = Schema<'CertificateView'>;

export function Certificates() {
  const { t, language } = useI18n();
  const {
    data: certificates,
    notice,
    run: act,
  } = useLoaded(async () => (await call(client.GET('/v1/certificates', { params: { query: { limit: 100 } } }))).data);
  const [form, setForm] = useState({ label: '', name: '', issuance: 'organization_ca' });
  const [importing, setImporting] = useState<Certificate | null>(null);
  const [revoking, setRevoking] = useState<Certificate | null>(null);
  return (
    <>
      <form
        className="add-recipient"
        aria-label={t('certs.new')}
        onSubmit={(event) => {
          event.preventDefault();
          void act(
            () =>
              call(
                client.POST('/v1/certificates', {
                  body: {
                    label: form.label.trim(),
                    subject: { common_name: form.name.trim() },
                    issuance: form.issuance as 'organization_ca',
                  },
                }),
              ),
            t('certs.created', { label: form.label.trim() }),
          );
        }}
      >
        <label>
          {t('certs.label')}
          <input required value={form.label} onChange={(e) => setForm({ ...form, label: e.target.value })} />
        </label>
        <label>
          {t('certs.commonName')}
          <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </label>
        <label>
          {t('certs.issuance')}
          <select value={form.issuance} onChange={(e) => setForm({ ...form, issuance: e.target.value })}>
            <option value="organization_ca">{t('certs.issuance.organization_ca')}</option>
            <option value="self_signed">{t('certs.issuance.self_signed')}</option>
            <option value="csr">{t('certs.issuance.csr')}</option>
          </select>
        </label>
        <button type="submit" className="primary">
          {t('certs.create')}
        </button>
      </form>
      {notice && <Status kind={notice.kind}>{notice.text}</Status>}
      <ul className="rows" aria-label={t('org.certificates')}>
        {certificates?.map((c) => (
          <li key={c.id} className="row">
            <div className="row-main">
              <strong>{c.label}</strong>
              <span>
                {t(`certs.purpose.${c.purpose}` as MessageKey)} · {c.subject_cn ?? ''} · {c.key_type} {c.key_size}
              </span>
              <span className={`badge ${c.status === 'active' ? 'ready' : c.status === 'revoked' ? 'failed' : 'processing'}`}>
                {t(`certs.status.${c.status}` as MessageKey)}
              </span>
              {c.is_default && <span className="badge hold">{t('certs.default')}</span>}
              {c.valid_to && (
                <span className="muted">
                  {t('certs.validTo', { at: formatDateTime(language, c.valid_to) })}
                  {c.issuer_cn ? ` · ${t('certs.issuer', { name: c.issuer_cn })}` : ''}
                </span>
              )}
            </div>
            <div className="row-actions">
              {c.certificate_pem && (
                <button type="button" className="secondary" onClick={() => saveText(`${c.label}.pem`, c.certificate_pem ?? '')}>
                  {t('certs.downloadChain')}
                </button>
              )}
              {c.status === 'pending' && c.csr_pem && (
                <button type="button" className="secondary" onClick={() => saveText(`${c.label}.csr`, c.csr_pem ?? '', 'application/pkcs10')}>
                  {t('certs.downloadCsr')}
                </button>
              )}
              {c.status === 'pending' && (
                <button type="button" className="secondary" onClick={() => setImporting(c)}>
                  {t('certs.import')}
                </button>
              )}
              {c.purpose === 'signing' && c.status === 'active' && !c.is_default && (
                <button
                  type="button"
                  className="secondary"
                  onClick={() => void act(() => call(client.POST('/v1/certificates/{id}/default', { params: { path: { id: c.id } } })))}
                >
                  {t('certs.makeDefault')}
                </button>
              )}
              {c.status !== 'revoked' && c.purpose === 'signing' && (
                <button type="button" className="secondary danger" onClick={() => setRevoking(c)}>
                  {t('org.revoke')}
                </button>
              )}
            </div>
          </li>
        ))}
      </ul>
      <Dialog open={importing !== null} title={t('certs.importTitle')} onClose={() => setImporting(null)}>
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            const pem = String(new FormData(event.target as HTMLFormElement).get('pem') ?? '');
            const target = importing;
            setImporting(null);
            if (target) {
              void act(() =>
                call(client.PUT('/v1/certificates/{id}/chain', { params: { path: { id: target.id } }, body: { certificate: pem } })),
              );
            }
          }}
        >
          <label htmlFor="chain-pem">{t('certs.pem')}</label>
          <textarea id="chain-pem" name="pem" rows={8} required />
          <div className="actions">
            <button type="submit" className="primary">
              {t('certs.import')}
            </button>
            <button type="button" className="secondary" onClick={() => setImporting(null)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      </Dialog>
      <Dialog open={revoking !== null} title={t('certs.revokeTitle', { label: revoking?.label ?? '' })} onClose={() => setRevoking(null)}>
        <p>{t('certs.revokeBody')}</p>
        <div className="actions">
          <button
            type="button"
            className="primary danger"
            onClick={() => {
              const target = revoking;
              setRevoking(null);
              if (target) {
                void act(() =>
                  call(client.POST('/v1/certificates/{id}/revoke', { params: { path: { id: target.id } }, body: {} })),
                );
              }
            }}
          >
            {t('org.revoke')}
          </button>
          <button type="button" className="secondary" onClick={() => setRevoking(null)}>
            {t('common.cancel')}
          </button>
        </div>
      </Dialog>
    </>
  );
}

// ---------------------------------------------------------------- audit

export function Audit() {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const [events, setEvents] = useState<Schema<'AuditEvent'>[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [filters, setFilters] = useState({ action: '', resource_type: '', from: '', to: '' });
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = await call(
          client.GET('/v1/audit-events', {
            params: {
              query: {
                action: filters.action || undefined,
                resource_type: filters.resource_type || undefined,
                from: filters.from ? new Date(`${filters.from}T00:00:00Z`).toISOString() : undefined,
                to: filters.to ? new Date(`${filters.to}T23:59:59Z`).toISOString() : undefined,
                cursor: after ?? undefined,
                limit: 50,
              },
            },
          }),
        );
        setEvents((old) => (after ? [...(old ?? []), ...page.data] : page.data));
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
  return (
    <>
      <form
        className="filters"
        role="search"
        aria-label={t('audit.filters')}
        onSubmit={(event) => {
          event.preventDefault();
          const data = new FormData(event.target as HTMLFormElement);
          const text = (name: string) => String(data.get(name) ?? '').trim();
          setFilters({ action: text('action'), resource_type: text('resource_type'), from: text('from'), to: text('to') });
        }}
      >
        <label>
          {t('audit.action')}
          <input name="action" placeholder="member.invited" defaultValue={filters.action} />
        </label>
        <label>
          {t('audit.resource')}
          <input name="resource_type" placeholder="user" defaultValue={filters.resource_type} />
        </label>
        <label>
          {t('audit.from')}
          <input name="from" type="date" defaultValue={filters.from} />
        </label>
        <label>
          {t('audit.to')}
          <input name="to" type="date" defaultValue={filters.to} />
        </label>
        <button type="submit" className="secondary">
          {t('docs.apply')}
        </button>
      </form>
      {error && <Status kind="error">{error}</Status>}
      {events?.length === 0 && <p>{t('audit.none')}</p>}
      <ol className="timeline" aria-label={t('org.audit')}>
        {events?.map((e, i) => (
          <li key={e.id ?? i}>
            <time dateTime={e.occurred_at ?? undefined}>{e.occurred_at ? formatDateTime(language, e.occurred_at) : ''}</time>{' '}
            <strong>{e.action}</strong> <span className="muted">{[e.resource_type, e.resource_id].filter(Boolean).join(' ')}</span>
            {e.ip && <span className="muted"> · {e.ip}</span>}
          </li>
        ))}
      </ol>
      {cursor && (
        <button type="button" className="secondary" onClick={() => void load(cursor)}>
          {t('docs.more')}
        </button>
      )}
    </>
  );
}

// ---------------------------------------------------------------- billing

/** A bar chart of usage per day, with the numbers as a table for screen readers. */
function UsageChart({ report }: { report: Schema<'UsageReport'> }) {
  const { t } = useI18n();
  const max = Math.max(1, ...report.days.map((d) => d.envelope + d.signature));
  const width = 600;
  const height = 120;
  const bar = report.days.length ? width / report.days.length : width;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="usage-caption" preserveAspectRatio="none">
        {report.days.map((d, i) => {
          const envelopes = (d.envelope / max) * height;
          const signatures = (d.signature / max) * height;
          return (
            <g key={d.day}>
              <rect x={i * bar + 1} width={Math.max(1, bar - 2)} y={height - envelopes} height={envelopes} fill="#1d4ed8" />
              <rect
                x={i * bar + 1}
                width={Math.max(1, bar - 2)}
                y={height - envelopes - signatures}
                height={signatures}
                fill="#047857"
              />
            </g>
          );
        })}
      </svg>
      <figcaption id="usage-caption">
        {t('billing.chart', {
          from: report.from,
          to: report.to,
          envelopes: report.totals.envelope,
          signatures: report.totals.signature,
        })}
      </figcaption>
      <table className="visually-hidden">
        <caption>{t('billing.usage')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('billing.day')}</th>
            <th scope="col">{t('billing.envelopes')}</th>
            <th scope="col">{t('billing.signatures')}</th>
          </tr>
        </thead>
        <tbody>
          {report.days.map((d) => (
            <tr key={d.day}>
              <td>{d.day}</td>
              <td>{d.envelope}</td>
              <td>{d.signature}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

export function Billing() {
  const { t, language } = useI18n();
  const describe = useDescribe();
  const mayManage = useMay('billing:manage');
  const [subscription, setSubscription] = useState<Schema<'SubscriptionView'> | null>(null);
  const [invoice, setInvoice] = useState<Schema<'InvoicePreview'> | null>(null);
  const [usage, setUsage] = useState<Schema<'UsageReport'> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    Promise.all([
      call(client.GET('/v1/billing/subscription')),
      call(client.GET('/v1/billing/invoice-preview')),
      call(client.GET('/v1/billing/usage')),
    ])
      .then(([s, i, u]) => {
        setSubscription(s);
        setInvoice(i);
        setUsage(u);
      })
      .catch((err: unknown) => setError(describe(err)));
    // Once per visit.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const go = async (work: () => Promise<{ url: string }>) => {
    try {
      window.location.assign((await work()).url);
    } catch (err) {
      setError(describe(err));
    }
  };
  const money = (cents: number, currency: string) =>
    new Intl.NumberFormat(language === 'mn' ? 'mn-MN' : 'en-US', { style: 'currency', currency }).format(cents / 100);
  const limit = (used: number, max: number | null | undefined) =>
    max === null || max === undefined ? t('billing.unlimited', { used }) : t('billing.of', { used, max });
  return (
    <>
      {error && <Status kind="error">{error}</Status>}
      {subscription && (
        <section aria-labelledby="plan-title">
          <h2 id="plan-title">{t('billing.plan', { name: subscription.plan.name })}</h2>
          <p className="muted">
            {t('billing.period', {
              from: formatDateTime(language, subscription.plan.period_start),
              to: formatDateTime(language, subscription.plan.period_end),
            })}
            {subscription.pending_plan ? ` · ${t('billing.pending', { plan: subscription.pending_plan })}` : ''}
          </p>
          <dl className="usage">
            <dt>{t('billing.envelopes')}</dt>
            <dd>{limit(subscription.usage.envelope, subscription.plan.envelopes_per_month)}</dd>
            <dt>{t('billing.signatures')}</dt>
            <dd>{subscription.usage.signature}</dd>
            <dt>{t('billing.certificates')}</dt>
            <dd>{limit(subscription.usage.certificate, subscription.plan.max_certificates)}</dd>
          </dl>
        </section>
      )}
      {usage && <UsageChart report={usage} />}
      {invoice && (
        <section aria-labelledby="invoice-title">
          <h2 id="invoice-title">{t('billing.invoice')}</h2>
          <table className="invoice">
            <tbody>
              {invoice.lines.map((line) => (
                <tr key={line.description}>
                  <td>{line.description}</td>
                  <td>{line.quantity}</td>
                  <td>{money(line.amount_cents, invoice.currency)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={2}>
                  {t('billing.total')}
                </th>
                <td>{money(invoice.total_cents, invoice.currency)}</td>
              </tr>
            </tfoot>
          </table>
        </section>
      )}
      {mayManage && (
        <div className="actions">
          {['pro', 'business']
            .filter((plan) => plan !== subscription?.plan.code)
            .map((plan) => (
              <button
                key={plan}
                type="button"
                className="primary"
                onClick={() => void go(() => call(client.POST('/v1/billing/checkout', { body: { plan } })))}
              >
                {t('billing.upgrade', { plan })}
              </button>
            ))}
          <button type="button" className="secondary" onClick={() => void go(() => call(client.POST('/v1/billing/portal')))}>
            {t('billing.portal')}
          </button>
        </div>
      )}
    </>
  );
}

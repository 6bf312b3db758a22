// The envelope builder (a draft): recipients in routing groups (same group = they act at the
// same time), the document drawn by pdf.js with fields dragged from a palette onto its pages,
// moved and resized with a mouse, a finger or the keyboard, each field in its recipient's
// colour; the envelope's settings; and the API's `send_problems` as a live checklist before
// Send. Fields are saved (PUT, the whole list) half a second after the last change; the
// checklist is the server's answer to what was saved.

import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { call, client, type Schema } from '../client';
import { DocumentView } from '../components/DocumentView';
import { Status } from '../components/Status';
import {
  FIELD_KINDS,
  fieldsInput,
  keyStep,
  moved,
  placed,
  recipientColour,
  regroup,
  resized,
  routingGroups,
  type DraftField,
  type FieldKind,
  type PageBounds,
} from '../fields';
import { overlayStyle } from '../geometry';
import { useI18n, type MessageKey } from '../i18n';
import { useDescribe } from '../ui';

type Envelope = Schema<'EnvelopeDetail'>;
type Role = 'signer' | 'approver' | 'viewer' | 'cc';

const ROLES: Role[] = ['signer', 'approver', 'viewer', 'cc'];

/** The page layer under a point of the screen, with its page number and zoom. */
function layerAt(x: number, y: number): { element: HTMLElement; page: number; scale: number } | null {
  for (const element of document.elementsFromPoint(x, y)) {
    if (element instanceof HTMLElement && element.classList.contains('field-layer')) {
      return { element, page: Number(element.dataset.page), scale: Number(element.dataset.scale) };
    }
  }
  return null;
}

/** The page layer nearest the middle of the screen. */
function layerInView(): { element: HTMLElement; page: number; scale: number } | null {
  const layers = Array.from(document.querySelectorAll<HTMLElement>('.field-layer'));
  const middle = window.innerHeight / 2;
  let best: HTMLElement | null = null;
  let distance = Infinity;
  for (const layer of layers) {
    const rect = layer.getBoundingClientRect();
    const d = rect.top <= middle && rect.bottom >= middle ? 0 : Math.min(Math.abs(rect.top - middle), Math.abs(rect.bottom - middle));
    if (d < distance) {
      distance = d;
      best = layer;
    }
  }
  return best ? { element: best, page: Number(best.dataset.page), scale: Number(best.dataset.scale) } : null;
}

/** A layer's page size in points (what pdf.js displays: CropBox, rotation applied). */
function boundsOf(layer: HTMLElement, scale: number): PageBounds {
  const rect = layer.getBoundingClientRect();
  return { width: rect.width / scale, height: rect.height / scale };
}

function fromServer(fields: Schema<'EnvelopeField'>[]): DraftField[] {
  return fields.map((f) => ({
    key: f.id,
    recipient_id: f.recipient_id,
    type: f.type as FieldKind,
    page: f.page,
    x: f.x,
    y: f.y,
    width: f.width,
    height: f.height,
    required: f.required,
    label: f.label ?? null,
  }));
}

let localKeys = 0;

export function Builder({
  envelope,
  documentUrl,
  onChanged,
  onSent,
}: {
  envelope: Envelope;
  documentUrl: string | null;
  onChanged: (envelope: Envelope) => void;
  onSent: () => void;
}) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [fields, setFields] = useState<DraftField[]>(() => fromServer(envelope.fields));
  const [selected, setSelected] = useState<string | null>(null);
  const [assignee, setAssignee] = useState<string | null>(envelope.recipients[0]?.id ?? null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState<'idle' | 'pending' | 'saving' | 'saved'>('idle');
  const [sending, setSending] = useState(false);
  const [drag, setDrag] = useState<{ kind: FieldKind; x: number; y: number } | null>(null);
  const [announce, setAnnounce] = useState('');
  const dirty = useRef(false);
  const id = envelope.id;
  const recipients = envelope.recipients;

  useEffect(() => {
    if (!assignee || !recipients.some((r) => r.id === assignee)) setAssignee(recipients[0]?.id ?? null);
  }, [recipients, assignee]);

  const reload = useCallback(async () => {
    const fresh = await call(client.GET('/v1/envelopes/{id}', { params: { path: { id } } }));
    onChanged(fresh);
    return fresh;
  }, [id, onChanged]);

  // Saves the fields half a second after the last change.
  useEffect(() => {
    if (!dirty.current) return;
    setSaving('pending');
    const timer = setTimeout(async () => {
      setSaving('saving');
      try {
        await call(client.PUT('/v1/envelopes/{id}/fields', { params: { path: { id } }, body: fieldsInput(fields) }));
        dirty.current = false;
        await reload();
        setSaving('saved');
        setError(null);
      } catch (err) {
        setSaving('idle');
        setError(describe(err));
      }
    }, 500);
    return () => clearTimeout(timer);
    // `describe` changes with the language only.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fields, id, reload]);

  const change = (next: (old: DraftField[]) => DraftField[]) => {
    dirty.current = true;
    setFields(next);
  };

  const colourOf = (recipientId: string) => recipientColour(recipients.findIndex((r) => r.id === recipientId));
  const nameOf = (recipientId: string) => recipients.find((r) => r.id === recipientId)?.name ?? '?';

  const addField = (kind: FieldKind, at: { page: number; x: number; y: number; bounds: PageBounds }) => {
    if (!assignee) {
      setError(t('builder.addRecipientFirst'));
      return;
    }
    localKeys += 1;
    const key = `new-${localKeys}`;
    const box = placed(kind, { x: at.x, y: at.y }, at.bounds);
    const field: DraftField = {
      key,
      recipient_id: assignee,
      type: kind,
      page: at.page,
      ...box,
      required: kind !== 'checkbox',
      label: null,
    };
    change((old) => [...old, field]);
    setSelected(key);
    setAnnounce(t('builder.placed', { kind: t(`field.${kind}` as MessageKey), page: at.page, name: nameOf(assignee) }));
    // The new field takes the focus, so the arrow keys move it at once.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-field="${key}"]`)?.focus());
  };

  const addInView = (kind: FieldKind) => {
    const layer = layerInView();
    if (!layer) return;
    const bounds = boundsOf(layer.element, layer.scale);
    addField(kind, { page: layer.page, x: bounds.width / 2, y: bounds.height / 3, bounds });
  };

  // Dragging from the palette: a ghost follows the pointer; dropped on a page, a field is placed.
  const startPaletteDrag = (kind: FieldKind, event: ReactPointerEvent<HTMLButtonElement>) => {
    if (event.button !== 0) return;
    const startX = event.clientX;
    const startY = event.clientY;
    let travelled = false;
    const move = (e: PointerEvent) => {
      if (!travelled && Math.hypot(e.clientX - startX, e.clientY - startY) < 6) return;
      travelled = true;
      setDrag({ kind, x: e.clientX, y: e.clientY });
    };
    const up = (e: PointerEvent) => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', cancel);
      setDrag(null);
      if (!travelled) {
        addInView(kind);
        return;
      }
      const layer = layerAt(e.clientX, e.clientY);
      if (!layer) return;
      const rect = layer.element.getBoundingClientRect();
      addField(kind, {
        page: layer.page,
        x: (e.clientX - rect.left) / layer.scale,
        y: (e.clientY - rect.top) / layer.scale,
        bounds: boundsOf(layer.element, layer.scale),
      });
    };
    const cancel = () => {
      window.removeEventListener('pointermove', move);
      window.removeEventListener('pointerup', up);
      window.removeEventListener('pointercancel', cancel);
      setDrag(null);
    };
    window.addEventListener('pointermove', move);
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', cancel);
  };

  // Moving or resizing a placed field with a pointer.
  const startFieldDrag = (field: DraftField, mode: 'move' | 'resize', event: ReactPointerEvent<HTMLElement>) => {
    event.stopPropagation();
    const layer = (event.currentTarget as HTMLElement).closest<HTMLElement>('.field-layer');
    if (!layer) return;
    const scale = Number(layer.dataset.scale);
    const bounds = boundsOf(layer, scale);
    const startX = event.clientX;
    const startY = event.clientY;
    const target = event.currentTarget as HTMLElement;
    target.setPointerCapture(event.pointerId);
    setSelected(field.key);
    const move = (e: PointerEvent) => {
      const dx = (e.clientX - startX) / scale;
      const dy = (e.clientY - startY) / scale;
      if (Math.abs(dx) + Math.abs(dy) < 0.5) return;
      change((all) =>
        all.map((f) =>
          f.key === field.key ? (mode === 'move' ? moved(field, dx, dy, bounds) : resized(field, dx, dy, bounds)) : f,
        ),
      );
    };
    const up = () => {
      target.removeEventListener('pointermove', move);
      target.removeEventListener('pointerup', up);
      target.removeEventListener('pointercancel', up);
    };
    target.addEventListener('pointermove', move);
    target.addEventListener('pointerup', up);
    target.addEventListener('pointercancel', up);
  };

  const onFieldKey = (field: DraftField, event: KeyboardEvent<HTMLElement>) => {
    if (event.key === 'Delete' || event.key === 'Backspace') {
      event.preventDefault();
      change((all) => all.filter((f) => f.key !== field.key));
      setSelected(null);
      setAnnounce(t('builder.removed'));
      return;
    }
    const step = keyStep(event.key, event.shiftKey, event.altKey);
    if (!step) return;
    event.preventDefault();
    const layer = (event.currentTarget as HTMLElement).closest<HTMLElement>('.field-layer');
    if (!layer) return;
    const bounds = boundsOf(layer, Number(layer.dataset.scale));
    change((all) =>
      all.map((f) => {
        if (f.key !== field.key) return f;
        return step.move ? moved(f, step.move[0], step.move[1], bounds) : resized(f, step.resize?.[0] ?? 0, step.resize?.[1] ?? 0, bounds);
      }),
    );
  };

  const overlays = (page: number, scale: number) => (
    <div className="field-layer" data-page={page} data-scale={scale}>
      {fields
        .filter((f) => f.page === page)
        .map((f) => {
          const colour = colourOf(f.recipient_id);
          const kind = t(`field.${f.type}` as MessageKey);
          return (
            <button
              key={f.key}
              type="button"
              data-field={f.key}
              className={`placed-field${selected === f.key ? ' selected' : ''}`}
              style={{ ...overlayStyle(f, scale), borderColor: colour, ['--field-colour' as string]: colour }}
              aria-label={t('builder.fieldLabel', { kind, name: nameOf(f.recipient_id), page })}
              aria-describedby="builder-keys"
              aria-pressed={selected === f.key}
              onPointerDown={(e) => startFieldDrag(f, 'move', e)}
              onFocus={() => setSelected(f.key)}
              onKeyDown={(e) => onFieldKey(f, e)}
            >
              <span className="field-kind" style={{ background: colour }}>
                {kind}
              </span>
              <span
                className="resize-handle"
                aria-hidden="true"
                onPointerDown={(e) => startFieldDrag(f, 'resize', e)}
              />
            </button>
          );
        })}
    </div>
  );

  const current = fields.find((f) => f.key === selected) ?? null;
  const problems = envelope.send_problems ?? [];

  return (
    <div className="builder">
      <Recipients envelope={envelope} reload={reload} onError={setError} />

      <section className="card" aria-labelledby="fields-title">
        <h2 id="fields-title">{t('builder.fields')}</h2>
        <div className="palette-bar">
          <label>
            {t('builder.assignTo')}
            <select value={assignee ?? ''} onChange={(e) => setAssignee(e.target.value)} disabled={recipients.length === 0}>
              {recipients.map((r, i) => (
                <option key={r.id} value={r.id} style={{ color: recipientColour(i) }}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
          <div className="palette" role="group" aria-label={t('builder.palette')}>
            {FIELD_KINDS.map((kind) => (
              <button
                key={kind}
                type="button"
                className="palette-item"
                data-kind={kind}
                style={assignee ? { borderColor: colourOf(assignee) } : undefined}
                onPointerDown={(e) => startPaletteDrag(kind, e)}
                onClick={(e) => {
                  // A pointer's click was handled on pointer-up; the keyboard's lands here.
                  if (e.detail === 0) addInView(kind);
                }}
              >
                {t(`field.${kind}` as MessageKey)}
              </button>
            ))}
          </div>
        </div>
        <p id="builder-keys" className="hint">
          {t('builder.keys')}
        </p>
        {current && (
          <div className="inspector" role="group" aria-label={t('builder.selected')}>
            <label>
              {t('builder.recipient')}
              <select
                value={current.recipient_id}
                onChange={(e) => change((all) => all.map((f) => (f.key === current.key ? { ...f, recipient_id: e.target.value } : f)))}
              >
                {recipients.map((r) => (
                  <option key={r.id} value={r.id}>
                    {r.name}
                  </option>
                ))}
              </select>
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={current.required}
                onChange={(e) => change((all) => all.map((f) => (f.key === current.key ? { ...f, required: e.target.checked } : f)))}
              />
              {t('builder.required')}
            </label>
            <label>
              {t('builder.label')}
              <input
                value={current.label ?? ''}
                onChange={(e) => change((all) => all.map((f) => (f.key === current.key ? { ...f, label: e.target.value } : f)))}
              />
            </label>
            <button
              type="button"
              className="secondary danger"
              onClick={() => {
                change((all) => all.filter((f) => f.key !== current.key));
                setSelected(null);
              }}
            >
              {t('builder.removeField')}
            </button>
          </div>
        )}
        <p className="muted" role="status">
          {saving === 'saving' || saving === 'pending' ? t('builder.saving') : saving === 'saved' ? t('builder.saved') : ''}
        </p>
        <p className="visually-hidden" aria-live="polite">
          {announce}
        </p>
        {documentUrl ? (
          <DocumentView url={documentUrl} overlays={overlays} />
        ) : (
          <Status kind="info">{t('common.loading')}</Status>
        )}
      </section>

      <Settings envelope={envelope} reload={reload} onError={setError} />

      <section className="card" aria-labelledby="checklist-title">
        <h2 id="checklist-title">{t('builder.checklist')}</h2>
        {problems.length === 0 ? (
          <p className="notice success">{t('builder.ready')}</p>
        ) : (
          <ul className="problems">
            {problems.map((p) => (
              <li key={`${p.pointer}-${p.detail}`}>{p.detail}</li>
            ))}
          </ul>
        )}
        {error && <Status kind="error">{error}</Status>}
        <button
          type="button"
          className="primary"
          disabled={problems.length > 0 || sending || saving === 'pending' || saving === 'saving'}
          onClick={async () => {
            setSending(true);
            try {
              await call(client.POST('/v1/envelopes/{id}/send', { params: { path: { id } } }));
              onSent();
            } catch (err) {
              setError(describe(err));
            } finally {
              setSending(false);
            }
          }}
        >
          {t('builder.send')}
        </button>
      </section>
      {drag && (
        <div className="drag-ghost" style={{ left: drag.x, top: drag.y }} aria-hidden="true">
          {t(`field.${drag.kind}` as MessageKey)}
        </div>
      )}
    </div>
  );
}

/** What each section of the builder below the fields gets: the draft, a reload, the error line. */
interface DraftSectionProps {
  envelope: Envelope;
  reload: () => Promise<Envelope>;
  onError: (message: string | null) => void;
}

/** The recipients in their routing groups, with a form to add one. */
function Recipients({
  envelope,
  reload,
  onError,
}: DraftSectionProps) {
  const { t } = useI18n();
  const describe = useDescribe();
  const groups = routingGroups(envelope.recipients);
  const lastOrder = Math.max(0, ...envelope.recipients.map((r) => r.routing_order));
  const [form, setForm] = useState({ name: '', email: '', role: 'signer' as Role, group: 1, code: '', embedded: false });
  useEffect(() => {
    setForm((f) => ({ ...f, group: Math.max(1, lastOrder) }));
  }, [lastOrder]);

  /** Moves recipient `id` into group `target` (see `regroup`), saving every order that changes. */
  const moveTo = async (id: string, target: number) => {
    try {
      for (const [recipientId, routing_order] of regroup(envelope.recipients, id, target)) {
        const r = envelope.recipients.find((x) => x.id === recipientId);
        if (!r) continue;
        await call(
          client.PUT('/v1/envelopes/{id}/recipients/{recipient_id}', {
            params: { path: { id: envelope.id, recipient_id: r.id } },
            // An access code left out is kept by the API.
            body: {
              name: r.name,
              email: r.email,
              role: r.role as Role,
              routing_order,
              auth_method: r.auth_method as 'email' | 'access_code',
              embedded: r.embedded,
            },
          }),
        );
      }
      await reload();
      onError(null);
    } catch (err) {
      onError(describe(err));
    }
  };

  // Dragging a recipient by their handle onto another group, or onto "new group".
  const [dragging, setDragging] = useState<{ id: string; over: number | null } | null>(null);
  const groupUnder = (x: number, y: number): number | null => {
    for (const element of document.elementsFromPoint(x, y)) {
      if (element instanceof HTMLElement && element.dataset.groupIndex !== undefined) return Number(element.dataset.groupIndex);
    }
    return null;
  };
  const startDrag = (id: string, event: ReactPointerEvent<HTMLElement>) => {
    if (event.button !== 0) return;
    event.preventDefault();
    const handle = event.currentTarget;
    handle.setPointerCapture(event.pointerId);
    setDragging({ id, over: null });
    const move = (e: PointerEvent) => setDragging({ id, over: groupUnder(e.clientX, e.clientY) });
    const up = (e: PointerEvent) => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      handle.removeEventListener('pointercancel', cancel);
      setDragging(null);
      const target = groupUnder(e.clientX, e.clientY);
      if (target !== null) void moveTo(id, target);
    };
    const cancel = () => {
      handle.removeEventListener('pointermove', move);
      handle.removeEventListener('pointerup', up);
      handle.removeEventListener('pointercancel', cancel);
      setDragging(null);
    };
    handle.addEventListener('pointermove', move);
    handle.addEventListener('pointerup', up);
    handle.addEventListener('pointercancel', cancel);
  };

  return (
    <section className="card" aria-labelledby="recipients-title">
      <h2 id="recipients-title">{t('builder.recipients')}</h2>
      <p className="hint">{t('builder.groupsHint')}</p>
      {groups.map((group, g) => (
        <ol
          key={group[0]?.routing_order ?? g}
          className={`group${dragging?.over === g ? ' drop-target' : ''}`}
          data-group-index={g}
          aria-label={t('builder.group', { n: g + 1 })}
        >
          <li className="group-title" aria-hidden="true">
            {t('builder.group', { n: g + 1 })}
          </li>
          {group.map((r) => {
            const index = envelope.recipients.findIndex((x) => x.id === r.id);
            return (
              <li
                key={r.id}
                className={`recipient${dragging?.id === r.id ? ' dragging' : ''}`}
                style={{ borderColor: recipientColour(index) }}
              >
                <span
                  className="drag-handle"
                  title={t('builder.dragRecipient', { name: r.name })}
                  aria-hidden="true"
                  onPointerDown={(e) => startDrag(r.id, e)}
                >
                  ⠿
                </span>
                <span className="swatch" style={{ background: recipientColour(index) }} aria-hidden="true" />
                <span>
                  <strong>{r.name}</strong> <span className="muted">{r.email}</span>
                  <br />
                  {t(`role.${r.role}` as MessageKey)}
                  {r.auth_method === 'access_code' ? ` · ${t('builder.withCode')}` : ''}
                  {r.embedded ? ` · ${t('builder.embedded')}` : ''}
                </span>
                <span className="recipient-actions">
                  <button
                    type="button"
                    className="secondary"
                    disabled={g === 0 && group.length === 1}
                    aria-label={t('builder.earlier', { name: r.name })}
                    onClick={() => void moveTo(r.id, g - 1)}
                  >
                    ↑
                  </button>
                  <button
                    type="button"
                    className="secondary"
                    disabled={g === groups.length - 1 && group.length === 1}
                    aria-label={t('builder.later', { name: r.name })}
                    onClick={() => void moveTo(r.id, g + 1)}
                  >
                    ↓
                  </button>
                  <button
                    type="button"
                    className="secondary danger"
                    aria-label={t('builder.removeRecipient', { name: r.name })}
                    onClick={async () => {
                      try {
                        await call(
                          client.DELETE('/v1/envelopes/{id}/recipients/{recipient_id}', {
                            params: { path: { id: envelope.id, recipient_id: r.id } },
                          }),
                        );
                        await reload();
                      } catch (err) {
                        onError(describe(err));
                      }
                    }}
                  >
                    ×
                  </button>
                </span>
              </li>
            );
          })}
        </ol>
      ))}
      {groups.length > 0 && (
        <p
          className={`group new-group${dragging ? ' active' : ''}${dragging?.over === groups.length ? ' drop-target' : ''}`}
          data-group-index={groups.length}
        >
          {t('builder.dropNewGroup')}
        </p>
      )}
      <form
        className="add-recipient"
        aria-label={t('builder.addRecipient')}
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            await call(
              client.POST('/v1/envelopes/{id}/recipients', {
                params: { path: { id: envelope.id } },
                body: {
                  name: form.name.trim(),
                  email: form.email.trim(),
                  role: form.role,
                  routing_order: form.group,
                  auth_method: form.code ? 'access_code' : 'email',
                  access_code: form.code || null,
                  embedded: form.embedded,
                },
              }),
            );
            setForm((f) => ({ ...f, name: '', email: '', code: '', embedded: false }));
            await reload();
            onError(null);
          } catch (err) {
            onError(describe(err));
          }
        }}
      >
        <label>
          {t('builder.name')}
          <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" />
        </label>
        <label>
          {t('common.email')}
          <input
            required
            type="email"
            value={form.email}
            onChange={(e) => setForm({ ...form, email: e.target.value })}
            autoComplete="off"
          />
        </label>
        <label>
          {t('builder.role')}
          <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })}>
            {ROLES.map((role) => (
              <option key={role} value={role}>
                {t(`role.${role}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('builder.groupField')}
          <select value={form.group} onChange={(e) => setForm({ ...form, group: Number(e.target.value) })}>
            {Array.from({ length: lastOrder + 1 }, (_, i) => i + 1).map((n) => (
              <option key={n} value={n}>
                {n > lastOrder ? t('builder.newGroup', { n }) : t('builder.group', { n })}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('builder.accessCode')}
          <input value={form.code} onChange={(e) => setForm({ ...form, code: e.target.value })} autoComplete="off" />
        </label>
        <label className="check">
          <input type="checkbox" checked={form.embedded} onChange={(e) => setForm({ ...form, embedded: e.target.checked })} />
          {t('builder.embeddedField')}
        </label>
        <button type="submit" className="secondary">
          {t('builder.addRecipient')}
        </button>
      </form>
    </section>
  );
}

/** Name, subject, message, order, expiry and reminders. */
function Settings({
  envelope,
  reload,
  onError,
}: DraftSectionProps) {
  const { t } = useI18n();
  const describe = useDescribe();
  const [saved, setSaved] = useState(false);
  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">{t('builder.settings')}</h2>
      <form
        className="stack"
        onSubmit={async (event) => {
          event.preventDefault();
          const data = new FormData(event.target as HTMLFormElement);
          const text = (name: string) => {
            const value = String(data.get(name) ?? '').trim();
            return value ? value : null;
          };
          const expiry = text('expires');
          try {
            await call(
              client.PATCH('/v1/envelopes/{id}', {
                params: { path: { id: envelope.id } },
                body: {
                  name: text('name'),
                  subject: text('subject'),
                  message: text('message'),
                  routing_type: data.get('parallel') === 'on' ? 'parallel' : 'sequential',
                  expires_at: expiry ? new Date(`${expiry}T23:59:59`).toISOString() : null,
                  reminder_enabled: data.get('reminders') === 'on',
                  reminder_interval_days: Number(data.get('interval') ?? 3),
                },
              }),
            );
            await reload();
            setSaved(true);
            onError(null);
          } catch (err) {
            setSaved(false);
            onError(describe(err));
          }
        }}
      >
        <label htmlFor="env-name">{t('builder.envelopeName')}</label>
        <input id="env-name" name="name" defaultValue={envelope.name ?? ''} />
        <label htmlFor="env-subject">{t('builder.subject')}</label>
        <input id="env-subject" name="subject" defaultValue={envelope.subject ?? ''} />
        <label htmlFor="env-message">{t('builder.message')}</label>
        <textarea id="env-message" name="message" rows={3} defaultValue={envelope.message ?? ''} />
        <label className="check">
          <input type="checkbox" name="parallel" defaultChecked={envelope.routing_type === 'parallel'} />
          {t('builder.parallel')}
        </label>
        <label htmlFor="env-expires">{t('builder.expires')}</label>
        <input id="env-expires" name="expires" type="date" defaultValue={envelope.expires_at?.slice(0, 10) ?? ''} />
        <label className="check">
          <input type="checkbox" name="reminders" defaultChecked={envelope.reminder_enabled} />
          {t('builder.reminders')}
        </label>
        <label htmlFor="env-interval">{t('builder.interval')}</label>
        <input
          id="env-interval"
          name="interval"
          type="number"
          min={1}
          max={30}
          defaultValue={envelope.reminder_interval_days}
        />
        <button type="submit" className="secondary">
          {t('builder.saveSettings')}
        </button>
        {saved && <Status kind="success">{t('builder.settingsSaved')}</Status>}
      </form>
    </section>
  );
}

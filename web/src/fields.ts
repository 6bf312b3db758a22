// The envelope builder's rules for fields, as plain functions: a new field's size, keeping a
// field on its page while it is moved or resized, and the colour of each recipient. Boxes are
// the API's: points from the top-left corner of the page as displayed (rotation and CropBox
// applied, what pdf.js shows), so what the sender sees is what the signing engine writes.

import type { DisplayedBox } from './geometry';

export type FieldKind = 'signature' | 'initial' | 'text' | 'date' | 'checkbox';

/** The kinds in the palette's order. */
export const FIELD_KINDS: FieldKind[] = ['signature', 'initial', 'text', 'date', 'checkbox'];

/** A field being placed: the API's field plus a key for the page (saved fields get new ids). */
export interface DraftField extends DisplayedBox {
  key: string;
  recipient_id: string;
  type: FieldKind;
  page: number;
  required: boolean;
  label: string | null;
}

/** A displayed page's size in points. */
export interface PageBounds {
  width: number;
  height: number;
}

/** A new field's size in points, by kind. */
export const DEFAULT_SIZE: Record<FieldKind, { width: number; height: number }> = {
  signature: { width: 160, height: 44 },
  initial: { width: 64, height: 36 },
  text: { width: 180, height: 22 },
  date: { width: 110, height: 22 },
  checkbox: { width: 16, height: 16 },
};

/** The smallest field, in points (a check box's side). */
export const MIN_SIDE = 8;

/** `box` moved (not resized) so it lies wholly on the page; a box larger than the page shrinks. */
export function keepOnPage<T extends DisplayedBox>(box: T, page: PageBounds): T {
  const width = Math.min(Math.max(box.width, MIN_SIDE), page.width);
  const height = Math.min(Math.max(box.height, MIN_SIDE), page.height);
  const x = Math.min(Math.max(box.x, 0), page.width - width);
  const y = Math.min(Math.max(box.y, 0), page.height - height);
  return { ...box, x: round(x), y: round(y), width: round(width), height: round(height) };
}

/** A field of `kind` centred on `at` (points on the page), kept on the page. */
export function placed(
  kind: FieldKind,
  at: { x: number; y: number },
  page: PageBounds,
): DisplayedBox {
  const size = DEFAULT_SIZE[kind];
  return keepOnPage({ x: at.x - size.width / 2, y: at.y - size.height / 2, ...size }, page);
}

/** `box` moved by `dx`, `dy` points, kept on the page. */
export function moved<T extends DisplayedBox>(box: T, dx: number, dy: number, page: PageBounds): T {
  return keepOnPage({ ...box, x: box.x + dx, y: box.y + dy }, page);
}

/** `box` with its bottom-right corner moved by `dw`, `dh` points, kept on the page. */
export function resized<T extends DisplayedBox>(box: T, dw: number, dh: number, page: PageBounds): T {
  const width = Math.min(Math.max(box.width + dw, MIN_SIDE), page.width - box.x);
  const height = Math.min(Math.max(box.height + dh, MIN_SIDE), page.height - box.y);
  return keepOnPage({ ...box, width, height }, page);
}

/** What an arrow key does to a focused field: move, or with Alt resize; Shift takes bigger steps. */
export function keyStep(
  key: string,
  shift: boolean,
  alt: boolean,
): { move?: [number, number]; resize?: [number, number] } | null {
  const step = shift ? 10 : 1;
  const delta: Record<string, [number, number]> = {
    ArrowLeft: [-step, 0],
    ArrowRight: [step, 0],
    ArrowUp: [0, -step],
    ArrowDown: [0, step],
  };
  const d = delta[key];
  if (!d) return null;
  return alt ? { resize: d } : { move: d };
}

/**
 * Each recipient's colour, by their position in the envelope: distinct hues dark enough for
 * white text (at least 4.5:1) and for a 2-pixel outline on a white page.
 */
export const RECIPIENT_COLOURS = ['#1d4ed8', '#b45309', '#047857', '#7e22ce', '#be123c', '#0e7490', '#4d7c0f', '#a21caf'];

export function recipientColour(index: number): string {
  return RECIPIENT_COLOURS[((index % RECIPIENT_COLOURS.length) + RECIPIENT_COLOURS.length) % RECIPIENT_COLOURS.length] ?? '#1d4ed8';
}

/** The body of `PUT /v1/envelopes/{id}/fields` for the builder's fields. */
export function fieldsInput(fields: DraftField[]) {
  return {
    fields: fields.map(({ recipient_id, type, page, x, y, width, height, required, label }) => ({
      recipient_id,
      type,
      page,
      x,
      y,
      width,
      height,
      required,
      label: label && label.trim() ? label.trim() : null,
    })),
  };
}

/**
 * Recipients grouped by routing order (same order = they act at the same time), in order;
 * the group numbers are what the sender sees (1, 2, 3 …), whatever the stored orders are.
 */
export function routingGroups<T extends { routing_order: number }>(recipients: T[]): T[][] {
  const byOrder = new Map<number, T[]>();
  for (const r of recipients) byOrder.set(r.routing_order, [...(byOrder.get(r.routing_order) ?? []), r]);
  return [...byOrder.entries()].sort((a, b) => a[0] - b[0]).map(([, group]) => group);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * The routing orders after moving recipient `id` into group `target` (an index into
 * `routingGroups`; -1 makes a new first group, `groups.length` a new last one): groups are
 * numbered 1, 2, 3 … again with no gaps and none left empty. Only the recipients whose
 * order changes are in the answer.
 */
export function regroup<T extends { id: string; routing_order: number }>(
  recipients: T[],
  id: string,
  target: number,
): Map<string, number> {
  const groups: string[][] = routingGroups(recipients).map((group) => group.map((r) => r.id).filter((x) => x !== id));
  if (target < 0) groups.unshift([id]);
  else if (target >= groups.length) groups.push([id]);
  else groups[target]?.push(id);
  const changes = new Map<string, number>();
  groups
    .filter((group) => group.length > 0)
    .forEach((group, index) => {
      for (const member of group) {
        const before = recipients.find((r) => r.id === member)?.routing_order;
        if (before !== index + 1) changes.set(member, index + 1);
      }
    });
  return changes;
}

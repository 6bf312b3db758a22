// The builder's field rules: a new field sits centred where it was dropped, nothing leaves
// its page however it is moved or resized, the arrow keys map to moves and (with Alt) to
// resizes, recipients in the same routing order form one group, and the saved body is the
// API's field shape.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIZE, fieldsInput, keepOnPage, keyStep, MIN_SIDE, moved, placed, recipientColour, regroup, resized, routingGroups } from '../src/fields';
import { contentTypeOf } from '../src/pages/Documents';

// A 90°-turned A4 page as displayed: wider than tall.
const page = { width: 841.89, height: 595.28 };

describe('placing fields', () => {
  it('centres a new field on the drop point', () => {
    const box = placed('signature', { x: 400, y: 300 }, page);
    expect(box).toEqual({ x: 320, y: 278, width: 160, height: 44 });
  });

  it('keeps a field dropped at the edge on the page', () => {
    expect(placed('signature', { x: 5, y: 590 }, page)).toEqual({ x: 0, y: 551.28, ...DEFAULT_SIZE.signature });
    expect(placed('checkbox', { x: 841, y: 0 }, page)).toEqual({ x: 825.89, y: 0, width: 16, height: 16 });
  });

  it('moves a field but never off its page', () => {
    const box = { x: 100, y: 100, width: 160, height: 44 };
    expect(moved(box, 10, -5, page)).toEqual({ x: 110, y: 95, width: 160, height: 44 });
    expect(moved(box, -500, 0, page).x).toBe(0);
    expect(moved(box, 0, 1000, page).y).toBeCloseTo(page.height - 44);
  });

  it('resizes from the bottom-right corner within the page and above the smallest side', () => {
    const box = { x: 700, y: 500, width: 100, height: 40 };
    expect(resized(box, 500, 500, page)).toEqual({ x: 700, y: 500, width: 141.89, height: 95.28 });
    expect(resized(box, -500, -500, page)).toEqual({ x: 700, y: 500, width: MIN_SIDE, height: MIN_SIDE });
  });

  it('shrinks a box larger than the page to the page', () => {
    expect(keepOnPage({ x: -10, y: -10, width: 2000, height: 2000 }, page)).toEqual({ x: 0, y: 0, ...page });
  });
});

describe('the keyboard', () => {
  it('moves with the arrows, by 10 with Shift, and resizes with Alt', () => {
    expect(keyStep('ArrowRight', false, false)).toEqual({ move: [1, 0] });
    expect(keyStep('ArrowUp', true, false)).toEqual({ move: [0, -10] });
    expect(keyStep('ArrowDown', false, true)).toEqual({ resize: [0, 1] });
    expect(keyStep('a', false, false)).toBeNull();
  });
});

describe('recipients', () => {
  it('groups recipients by routing order, in order', () => {
    const groups = routingGroups([
      { id: 'c', routing_order: 3 },
      { id: 'a', routing_order: 1 },
      { id: 'b', routing_order: 1 },
    ]);
    expect(groups.map((g) => g.map((r) => r.id))).toEqual([['a', 'b'], ['c']]);
  });

  it('gives neighbours different colours and wraps around', () => {
    expect(recipientColour(0)).not.toBe(recipientColour(1));
    expect(recipientColour(8)).toBe(recipientColour(0));
    expect(recipientColour(-1)).toMatch(/^#/);
  });
});

describe('saving', () => {
  it('sends the API shape: no local keys, blank labels as null', () => {
    const body = fieldsInput([
      { key: 'new-1', recipient_id: 'r1', type: 'text', page: 2, x: 1, y: 2, width: 3, height: 4, required: true, label: '  ' },
    ]);
    expect(body).toEqual({
      fields: [{ recipient_id: 'r1', type: 'text', page: 2, x: 1, y: 2, width: 3, height: 4, required: true, label: null }],
    });
  });
});

describe('uploads', () => {
  it('takes the media type from the extension, as browsers leave Office types empty', () => {
    expect(contentTypeOf({ name: 'Lease.PDF', type: '' })).toBe('application/pdf');
    expect(contentTypeOf({ name: 'terms.docx', type: '' })).toContain('wordprocessingml');
    expect(contentTypeOf({ name: 'photo.jpg', type: 'image/jpeg' })).toBeNull();
  });
});

describe('moving recipients between routing groups', () => {
  const people = [
    { id: 'ana', routing_order: 1 },
    { id: 'bat', routing_order: 1 },
    { id: 'dora', routing_order: 3 },
  ];

  it('joins another group, and the groups are numbered without gaps', () => {
    expect(regroup(people, 'dora', 0)).toEqual(new Map([['dora', 1]]));
    expect(regroup(people, 'bat', 1)).toEqual(new Map([['bat', 2], ['dora', 2]]));
  });

  it('makes a new last or first group', () => {
    expect(regroup(people, 'bat', 2)).toEqual(new Map([['dora', 2], ['bat', 3]]));
    expect(regroup(people, 'dora', -1)).toEqual(new Map([['dora', 1], ['ana', 2], ['bat', 2]]));
  });

  it('closes the gap a lone recipient leaves', () => {
    expect(regroup([{ id: 'a', routing_order: 1 }, { id: 'b', routing_order: 2 }, { id: 'c', routing_order: 3 }], 'b', 0)).toEqual(
      new Map([['b', 1], ['c', 2]]),
    );
  });
});

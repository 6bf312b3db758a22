// The overlay mapping against the signing engine's: a field the API places at (x, y, w, h)
// on the displayed page must land, in PDF user space, on the widget rectangle
// shared/signing/src/form.rs `place` writes (the expected rectangles follow that function's
// formulas), and back again, for every rotation and a CropBox that does not start at
// the origin.
import { describe, expect, it } from 'vitest';
import {
  displayedSize,
  fitScale,
  normaliseRotation,
  overlayStyle,
  toDisplayed,
  toUserSpace,
  type ViewBox,
} from '../src/geometry';

const letter: ViewBox = [0, 0, 612, 792];
// A CropBox offset from the MediaBox's origin, as scanned or cropped pages have.
const cropped: ViewBox = [36, 18, 576, 738];
const box = { x: 40, y: 650, width: 150, height: 40 };

describe('a field placed on the displayed page', () => {
  it('lands where the signing engine puts its widget, at each rotation', () => {
    expect(toUserSpace(letter, 0, box)).toEqual([40, 102, 190, 142]);
    expect(toUserSpace(letter, 90, { x: 40, y: 100, width: 150, height: 40 })).toEqual([100, 40, 140, 190]);
    expect(toUserSpace(letter, 180, box)).toEqual([422, 650, 572, 690]);
    expect(toUserSpace(letter, 270, { x: 40, y: 100, width: 150, height: 40 })).toEqual([472, 602, 512, 752]);
  });

  it('counts from the visible area (CropBox), not the MediaBox', () => {
    expect(toUserSpace(cropped, 0, { x: 0, y: 0, width: 10, height: 10 })).toEqual([36, 728, 46, 738]);
    expect(toUserSpace(cropped, 90, { x: 0, y: 0, width: 10, height: 10 })).toEqual([36, 18, 46, 28]);
  });

  it.each([0, 90, 180, 270, -90, 450])('maps back to the same box at rotation %i', (rotation) => {
    for (const view of [letter, cropped]) {
      const rect = toUserSpace(view, rotation, box);
      expect(toDisplayed(view, rotation, rect)).toEqual(box);
    }
  });

  it('stays inside the displayed page when it fits it', () => {
    for (const rotation of [0, 90, 180, 270]) {
      const { width, height } = displayedSize(cropped, rotation);
      const corner = { x: width - 10, y: height - 10, width: 10, height: 10 };
      const [a, b, c, d] = toUserSpace(cropped, rotation, corner);
      expect(a).toBeGreaterThanOrEqual(cropped[0]);
      expect(b).toBeGreaterThanOrEqual(cropped[1]);
      expect(c).toBeLessThanOrEqual(cropped[2]);
      expect(d).toBeLessThanOrEqual(cropped[3]);
    }
  });
});

describe('the displayed page', () => {
  it('swaps width and height when turned a quarter', () => {
    expect(displayedSize(letter, 0)).toEqual({ width: 612, height: 792 });
    expect(displayedSize(letter, 90)).toEqual({ width: 792, height: 612 });
    expect(displayedSize(letter, 270)).toEqual({ width: 792, height: 612 });
  });

  it('normalises any multiple of 90 degrees', () => {
    expect(normaliseRotation(-90)).toBe(270);
    expect(normaliseRotation(450)).toBe(90);
    expect(normaliseRotation(360)).toBe(0);
  });

  it('puts overlays at the field box times the zoom', () => {
    expect(overlayStyle(box, 0.5)).toEqual({ left: 20, top: 325, width: 75, height: 20 });
  });

  it('fits a page to the width available, within bounds', () => {
    expect(fitScale(612, 306)).toBe(0.5);
    expect(fitScale(612, 100000)).toBe(4);
    expect(fitScale(0, 300)).toBe(1);
  });
});

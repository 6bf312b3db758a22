// Page geometry. The API places fields in points from the top-left corner of the page as a
// reader sees it: the visible area (CropBox, else MediaBox), turned by the page's /Rotate.
// pdf.js's viewport shows exactly that view, so an overlay sits at the field's coordinates
// times the zoom; `toUserSpace` is the same mapping the signing engine uses to write the
// widget's /Rect (shared/signing/src/form.rs `place`), so the two can be checked against
// each other.

/** `[llx, lly, urx, ury]` of the page's visible area, in PDF user space. */
export type ViewBox = [number, number, number, number];

/** A field's box as the API gives it. */
export interface DisplayedBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The clockwise rotation, normalised to 0, 90, 180 or 270. */
export function normaliseRotation(rotation: number): 0 | 90 | 180 | 270 {
  const r = ((Math.round(rotation / 90) * 90) % 360 + 360) % 360;
  return r as 0 | 90 | 180 | 270;
}

/** The displayed page's size in points (width and height swap at 90° and 270°). */
export function displayedSize(view: ViewBox, rotation: number): { width: number; height: number } {
  const [llx, lly, urx, ury] = view;
  const w = urx - llx;
  const h = ury - lly;
  const r = normaliseRotation(rotation);
  return r === 90 || r === 270 ? { width: h, height: w } : { width: w, height: h };
}

/** The widget rectangle in user space for a box given on the displayed page. */
export function toUserSpace(view: ViewBox, rotation: number, box: DisplayedBox): ViewBox {
  const [llx, lly, urx, ury] = view;
  const { x, y, width: w, height: h } = box;
  switch (normaliseRotation(rotation)) {
    case 90:
      return [llx + y, lly + x, llx + y + h, lly + x + w];
    case 180:
      return [urx - x - w, lly + y, urx - x, lly + y + h];
    case 270:
      return [urx - y - h, ury - x - w, urx - y, ury - x];
    default:
      return [llx + x, ury - y - h, llx + x + w, ury - y];
  }
}

/** The box on the displayed page for a user-space rectangle (the inverse of `toUserSpace`). */
export function toDisplayed(view: ViewBox, rotation: number, rect: ViewBox): DisplayedBox {
  const [llx, lly, urx, ury] = view;
  const [a, b, c, d] = rect;
  switch (normaliseRotation(rotation)) {
    case 90:
      return { x: b - lly, y: a - llx, width: d - b, height: c - a };
    case 180:
      return { x: urx - c, y: b - lly, width: c - a, height: d - b };
    case 270:
      return { x: ury - d, y: urx - c, width: d - b, height: c - a };
    default:
      return { x: a - llx, y: ury - d, width: c - a, height: d - b };
  }
}

/** Where an overlay goes on a page drawn at `scale` CSS pixels per point. */
export function overlayStyle(
  box: DisplayedBox,
  scale: number,
): { left: number; top: number; width: number; height: number } {
  return {
    left: box.x * scale,
    top: box.y * scale,
    width: box.width * scale,
    height: box.height * scale,
  };
}

/** The zoom that fits a page of `pageWidth` points into `available` CSS pixels. */
export function fitScale(pageWidth: number, available: number, min = 0.25, max = 4): number {
  if (!(pageWidth > 0) || !(available > 0)) return 1;
  return Math.min(max, Math.max(min, available / pageWidth));
}

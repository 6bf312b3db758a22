// A PDF shown page by page in the browser (pdf.js), with HTML overlays placed in the API's
// page coordinates. The column of pages has its full height at once (each page's size from
// page 1 until it loads), but only the pages near the screen exist in the page (a window that
// follows the scroll), and they are drawn only once near it: a 2,000-page document costs what
// the few pages in view cost. Zoom: buttons and fit-to-width (the browser's own pinch zoom is
// left on). `goTo` brings a page into view (the guide uses it for fields not yet mounted).

import { memo, useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { openPdf, type PDFDocumentProxy } from '../pdf';
import { fitScale } from '../geometry';
import { useI18n } from '../i18n';

/** Size in points of a displayed page (rotation applied). */
interface PageSize {
  width: number;
  height: number;
}

/** What a parent may ask of the document view. */
export interface DocumentHandle {
  /** Scrolls page `page` (1-based) into view. */
  goTo: (page: number) => void;
}

export interface DocumentViewProps {
  /** The PDF's (short-lived) address. */
  url: string;
  /** Receives the handle once the document is laid out. */
  handle?: (handle: DocumentHandle | null) => void;
  /** Overlays for page `page` (1-based) at `scale` CSS pixels per point. */
  overlays?: (page: number, scale: number) => ReactNode;
  /** Told once the document is open, with its page count. */
  onOpened?: (pages: number) => void;
  /** Told when the first page is painted. */
  onFirstPaint?: () => void;
}

const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];

/** Space between pages, in CSS pixels. */
const GAP = 12;
/** Pages mounted beyond the screen, above and below. */
const OVERSCAN_PX = 1200;

/** The index of the last offset at or below `y` (binary search over ascending `tops`). */
function pageAt(tops: number[], y: number): number {
  let low = 0;
  let high = tops.length - 1;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if ((tops[mid] ?? 0) <= y) low = mid;
    else high = mid - 1;
  }
  return low;
}

export function DocumentView({ url, overlays, onOpened, onFirstPaint, handle }: DocumentViewProps) {
  const { t } = useI18n();
  const [pdf, setPdf] = useState<PDFDocumentProxy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sizes, setSizes] = useState<Record<number, PageSize>>({});
  const [zoom, setZoom] = useState(1);
  const [available, setAvailable] = useState(0);
  const [range, setRange] = useState<[number, number]>([0, 2]);
  const frame = useRef<HTMLDivElement>(null);
  const column = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    let opened: PDFDocumentProxy | null = null;
    performance.mark('gsign:pdf-requested');
    openPdf(url, (err) => {
      if (!cancelled) setError(err.message);
    })
      .then(async (doc) => {
        opened = doc;
        performance.mark('gsign:pdf-opened');
        const first = await doc.getPage(1);
        const viewport = first.getViewport({ scale: 1 });
        if (cancelled) return;
        performance.mark('gsign:page-1-loaded');
        setSizes({ 1: { width: viewport.width, height: viewport.height } });
        setPdf(doc);
        onOpened?.(doc.numPages);
      })
      .catch((err: unknown) => {
        if (!cancelled) setError(err instanceof Error ? err.message : String(err));
      });
    return () => {
      cancelled = true;
      void opened?.destroy();
    };
    // The document is opened once per address.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [url]);

  useEffect(() => {
    const element = frame.current;
    if (!element) return;
    const observer = new ResizeObserver((entries) => {
      const width = entries[0]?.contentRect.width ?? 0;
      setAvailable(width);
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const learnSize = useCallback((page: number, size: PageSize) => {
    setSizes((known) => {
      const old = known[page];
      if (old && old.width === size.width && old.height === size.height) return known;
      return { ...known, [page]: size };
    });
  }, []);

  const first = sizes[1];
  const room = Math.max(available - 16, 200);
  // Each page fits the width on its own (a landscape page among portrait ones too), never
  // larger than 1.5× on a wide screen; zoom multiplies that.
  const scaleOf = (size: PageSize) => fitScale(size.width, room, 0.25, 1.5) * zoom;
  const count = pdf?.numPages ?? 0;
  // Each page's top in the column, and the column's height.
  const tops: number[] = [];
  let height = 0;
  if (first) {
    for (let page = 1; page <= count; page += 1) {
      tops.push(height);
      const size = sizes[page] ?? first;
      height += size.height * scaleOf(size) + GAP;
    }
  }
  const layoutKey = `${count}:${height}`;
  const topsRef = useRef<number[]>([]);
  useEffect(() => {
    topsRef.current = tops;
  });

  // The window of mounted pages follows the scroll (and the layout).
  useEffect(() => {
    const update = () => {
      const element = column.current;
      const offsets = topsRef.current;
      if (!element || offsets.length === 0) return;
      const top = -element.getBoundingClientRect().top;
      const from = pageAt(offsets, Math.max(0, top - OVERSCAN_PX));
      const to = pageAt(offsets, Math.max(0, top + window.innerHeight + OVERSCAN_PX));
      setRange((old) => (old[0] === from && old[1] === to ? old : [from, to]));
    };
    let frameId = 0;
    const schedule = () => {
      cancelAnimationFrame(frameId);
      frameId = requestAnimationFrame(update);
    };
    update();
    window.addEventListener('scroll', schedule, { passive: true });
    window.addEventListener('resize', schedule);
    return () => {
      cancelAnimationFrame(frameId);
      window.removeEventListener('scroll', schedule);
      window.removeEventListener('resize', schedule);
    };
  }, [pdf, available, layoutKey]);

  useEffect(() => {
    if (!handle) return;
    handle({
      goTo: (page) => {
        const element = column.current;
        const offset = topsRef.current[page - 1];
        if (!element || offset === undefined) return;
        const y = element.getBoundingClientRect().top + window.scrollY + offset;
        window.scrollTo({ top: Math.max(0, y - 80) });
      },
    });
    return () => handle(null);
  }, [handle, pdf]);

  const index = ZOOMS.indexOf(zoom);
  if (error) {
    return (
      <p role="alert" className="notice error">
        {t('sign.documentError', { detail: error })}
      </p>
    );
  }
  return (
    <div className="document" ref={frame}>
      <div className="zoom" role="toolbar" aria-label={t('sign.zoomLevel', { percent: Math.round(zoom * 100) })}>
        <button
          type="button"
          onClick={() => setZoom(ZOOMS[Math.max(0, index - 1)] ?? 1)}
          disabled={index <= 0}
          aria-label={t('sign.zoomOut')}
        >
          −
        </button>
        <span aria-live="polite">{Math.round(zoom * 100)}%</span>
        <button
          type="button"
          onClick={() => setZoom(ZOOMS[Math.min(ZOOMS.length - 1, index + 1)] ?? 1)}
          disabled={index >= ZOOMS.length - 1}
          aria-label={t('sign.zoomIn')}
        >
          +
        </button>
        <button type="button" onClick={() => setZoom(1)} disabled={zoom === 1}>
          {t('sign.zoomFit')}
        </button>
      </div>
      {!pdf || !first ? (
        <p className="notice" role="status">
          {t('common.loading')}
        </p>
      ) : (
        <div className="pages" ref={column} style={{ height }} data-layout={layoutKey}>
          {Array.from({ length: Math.max(0, range[1] - range[0] + 1) }, (_, i) => range[0] + i + 1)
            .filter((page) => page <= count)
            .map((page) => {
            const size = sizes[page] ?? first;
            const scale = scaleOf(size);
            // A page without overlays gets no children, so it is not drawn again when
            // another page's fields change (a 2,000-page document has few pages with fields).
            const children = overlays?.(page, scale);
            const empty = Array.isArray(children) && children.length === 0;
            return (
              <Page
                key={page}
                pdf={pdf}
                page={page}
                count={pdf.numPages}
                size={size}
                scale={scale}
                learnSize={learnSize}
                onPainted={page === 1 ? onFirstPaint : undefined}
                top={tops[page - 1] ?? 0}
              >
                {empty ? undefined : children}
              </Page>
            );
          })}
        </div>
      )}
    </div>
  );
}

interface PageProps {
  pdf: PDFDocumentProxy;
  page: number;
  count: number;
  size: PageSize;
  scale: number;
  learnSize: (page: number, size: PageSize) => void;
  onPainted?: () => void;
  /** Offset from the column's top, in CSS pixels. */
  top: number;
  children?: ReactNode;
}

const Page = memo(function Page({
  pdf,
  page,
  count,
  size,
  scale,
  learnSize,
  onPainted,
  top,
  children,
}: PageProps) {
  const { t } = useI18n();
  const holder = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [near, setNear] = useState(false);
  const [painted, setPainted] = useState(false);

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const observer = new IntersectionObserver(
      (entries) => setNear(entries.some((e) => e.isIntersecting)),
      { rootMargin: '150% 0px' },
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const target = canvas.current;
    if (!near || !target) {
      if (target) {
        // Far from view: give the memory back.
        target.width = 0;
        target.height = 0;
      }
      setPainted(false);
      return;
    }
    let cancelled = false;
    let task: { cancel: () => void; promise: Promise<void> } | null = null;
    void (async () => {
      try {
        const proxy = await pdf.getPage(page);
        if (cancelled) return;
        const natural = proxy.getViewport({ scale: 1 });
        learnSize(page, { width: natural.width, height: natural.height });
        const viewport = proxy.getViewport({ scale });
        const ratio = Math.min(window.devicePixelRatio || 1, 2);
        target.width = Math.floor(viewport.width * ratio);
        target.height = Math.floor(viewport.height * ratio);
        task = proxy.render({
          canvas: target,
          viewport,
          transform: ratio === 1 ? undefined : [ratio, 0, 0, ratio, 0, 0],
        });
        await task.promise;
        if (!cancelled) setPainted(true);
      } catch {
        // A cancelled render (scrolled away, zoom changed) is not an error.
      }
    })();
    return () => {
      cancelled = true;
      task?.cancel();
    };
  }, [near, pdf, page, scale, learnSize]);

  // Told once the painted page is on screen (its loading label gone).
  useEffect(() => {
    if (painted) onPainted?.();
  }, [painted, onPainted]);

  return (
    <section
      className="page"
      ref={holder}
      aria-label={t('sign.page', { page, count })}
      data-page={page}
      style={{ top, width: size.width * scale, height: size.height * scale }}
    >
      <canvas ref={canvas} aria-hidden="true" style={{ width: '100%', height: '100%' }} />
      {!painted && (
        <span className="page-loading" aria-hidden="true">
          {t('sign.pageLoading', { page })}
        </span>
      )}
      {children}
    </section>
  );
});

// A PDF shown page by page in the browser (pdf.js), with HTML overlays placed in the API's
// page coordinates. Pages are laid out at once (their size from page 1 until each loads) and
// drawn only when they come near the screen, and dropped again when far away, so a
// 2,000-page document costs what the few pages in view cost. Zoom: buttons and fit-to-width
// (the browser's own pinch zoom is left on).

import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { openPdf, type PDFDocumentProxy } from '../pdf';
import { fitScale } from '../geometry';
import { useI18n } from '../i18n';

/** Size in points of a displayed page (rotation applied). */
interface PageSize {
  width: number;
  height: number;
}

export interface DocumentViewProps {
  /** The PDF's (short-lived) address. */
  url: string;
  /** Overlays for page `page` (1-based) at `scale` CSS pixels per point. */
  overlays?: (page: number, scale: number) => ReactNode;
  /** Told once the document is open, with its page count. */
  onOpened?: (pages: number) => void;
  /** Told when the first page is painted. */
  onFirstPaint?: () => void;
}

const ZOOMS = [0.5, 0.75, 1, 1.25, 1.5, 2, 3];

export function DocumentView({ url, overlays, onOpened, onFirstPaint }: DocumentViewProps) {
  const { t } = useI18n();
  const [pdf, setPdf] = useState<PDFDocumentProxy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sizes, setSizes] = useState<Record<number, PageSize>>({});
  const [zoom, setZoom] = useState(1);
  const [available, setAvailable] = useState(0);
  const frame = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let cancelled = false;
    let opened: PDFDocumentProxy | null = null;
    openPdf(url)
      .then(async (doc) => {
        opened = doc;
        const first = await doc.getPage(1);
        const viewport = first.getViewport({ scale: 1 });
        if (cancelled) return;
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

  if (error) {
    return (
      <p role="alert" className="notice error">
        {t('sign.documentError', { detail: error })}
      </p>
    );
  }
  const first = sizes[1];
  const room = Math.max(available - 16, 200);
  // Each page fits the width on its own (a landscape page among portrait ones too), never
  // larger than 1.5× on a wide screen; zoom multiplies that.
  const scaleOf = (size: PageSize) => fitScale(size.width, room, 0.25, 1.5) * zoom;
  const index = ZOOMS.indexOf(zoom);
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
        <div className="pages">
          {Array.from({ length: pdf.numPages }, (_, i) => i + 1).map((page) => {
            const size = sizes[page] ?? first;
            const scale = scaleOf(size);
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
              >
                {overlays?.(page, scale)}
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
  children?: ReactNode;
}

function Page({ pdf, page, count, size, scale, learnSize, onPainted, children }: PageProps) {
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
        if (!cancelled) {
          setPainted(true);
          onPainted?.();
        }
      } catch {
        // A cancelled render (scrolled away, zoom changed) is not an error.
      }
    })();
    return () => {
      cancelled = true;
      task?.cancel();
    };
  }, [near, pdf, page, scale, learnSize, onPainted]);

  return (
    <section
      className="page"
      ref={holder}
      aria-label={t('sign.page', { page, count })}
      data-page={page}
      style={{ width: size.width * scale, height: size.height * scale }}
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
}

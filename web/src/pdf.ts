// pdf.js, loaded on demand (its own chunk) with its worker, character maps, standard fonts and
// decoders served from our origin: the build copies them to /pdfjs/ (vite.config.ts). No CDN,
// no eval (the Content-Security-Policy forbids it).

import type { PDFDocumentProxy } from 'pdfjs-dist';
// Only the worker's address (a string in the app's own chunk), so the worker can start before
// pdf.js's main chunk has even arrived.
import workerSrc from 'pdfjs-dist/build/pdf.worker.min.mjs?url';

export type { PDFDocumentProxy, PDFPageProxy } from 'pdfjs-dist';

type PdfJs = typeof import('pdfjs-dist');

let warming: Promise<PdfJs> | null = null;

/**
 * Starts loading pdf.js and its worker (once per page load). The signing page calls this
 * before it has asked the API for anything: the worker's 1.3 MB are fetched and compiled on
 * their own thread while the app starts and the signing view is on its way, instead of after.
 */
export function warmPdf(): Promise<PdfJs> {
  warming ??= (async () => {
    const port = new Worker(workerSrc, { type: 'module' });
    const pdfjs = await import('pdfjs-dist');
    pdfjs.GlobalWorkerOptions.workerPort ??= port;
    return pdfjs;
  })();
  return warming;
}

/** Opens the PDF at `url` (a short-lived S3 link: same bytes for the whole visit). */
export async function openPdf(url: string): Promise<PDFDocumentProxy> {
  const pdfjs = await warmPdf();
  return pdfjs.getDocument({
    url,
    cMapUrl: '/pdfjs/cmaps/',
    cMapPacked: true,
    standardFontDataUrl: '/pdfjs/standard_fonts/',
    wasmUrl: '/pdfjs/wasm/',
    iccUrl: '/pdfjs/iccs/',
    isEvalSupported: false,
    // Long documents: only the byte ranges of the pages shown are fetched.
    disableAutoFetch: true,
    rangeChunkSize: 256 * 1024,
  }).promise;
}

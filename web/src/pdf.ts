// pdf.js, loaded on demand (its own chunk) with its worker, character maps, standard fonts and
// decoders served from our origin: the build copies them to /pdfjs/ (vite.config.ts). No CDN,
// no eval (the Content-Security-Policy forbids it).

import type { PDFDocumentProxy } from 'pdfjs-dist';

export type { PDFDocumentProxy, PDFPageProxy } from 'pdfjs-dist';

/** Opens the PDF at `url` (a short-lived S3 link: same bytes for the whole visit). */
export async function openPdf(url: string): Promise<PDFDocumentProxy> {
  const [pdfjs, worker] = await Promise.all([
    import('pdfjs-dist'),
    import('pdfjs-dist/build/pdf.worker.min.mjs?url'),
  ]);
  pdfjs.GlobalWorkerOptions.workerSrc = worker.default;
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

// pdf.js, loaded on demand (its own chunk) with its worker, character maps, standard fonts and
// decoders served from our origin: the build copies them to /pdfjs/ (vite.config.ts). No CDN,
// no eval (the Content-Security-Policy forbids it).
//
// The PDF's bytes are fetched by this module, in ranges, not by pdf.js: its own loader first
// asks for the whole file to learn whether ranges work, then for the ranges it needs, one
// round trip after another. Here the first range is asked for as soon as the address is known
// (while pdf.js itself is still loading), and the file's end (where the cross-reference table
// is) right after, so a 2,000-page document opens in the time of two parallel requests.

import type { PDFDocumentProxy } from 'pdfjs-dist';
// Only the worker's address (a string in the app's own chunk), so the worker can start before
// pdf.js's main chunk has even arrived.
import workerSrc from 'pdfjs-dist/build/pdf.worker.min.mjs?url';

export type { PDFDocumentProxy, PDFPageProxy } from 'pdfjs-dist';

type PdfJs = typeof import('pdfjs-dist');

/** pdf.js asks for bytes in multiples of this. */
const CHUNK = 256 * 1024;

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

/** Bytes `begin` to `end` (exclusive) of a file, and the file's length. */
interface Range {
  begin: number;
  end: number;
  bytes: Uint8Array;
  length: number;
}

async function fetchRange(url: string, begin: number, end: number): Promise<Range> {
  const response = await fetch(url, { headers: { Range: `bytes=${begin}-${end - 1}` } });
  if (!response.ok) throw new Error(`the document could not be read (HTTP ${response.status})`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 206) {
    // The whole file (a server that ignores ranges).
    return { begin: 0, end: bytes.length, bytes, length: bytes.length };
  }
  const length = Number(/\/(\d+)\s*$/.exec(response.headers.get('Content-Range') ?? '')?.[1]);
  if (!Number.isSafeInteger(length)) throw new Error('the document server did not say how long the file is');
  return { begin, end: begin + bytes.length, bytes, length };
}

/** A file read in ranges: what was asked for is remembered, and later asks reuse it. */
class RangedFile {
  /** The ranges asked for, with their bounds known before they arrive. */
  private readonly asked: { begin: number; end: number; range: Promise<Range> }[] = [];
  /** The first chunk and the file's length. */
  readonly head: Promise<Range>;

  constructor(private readonly url: string) {
    this.head = this.fetch(0, CHUNK);
    // The cross-reference table is at the end: the last two chunks, as pdf.js will ask for them.
    void this.head
      .then(({ length }) => {
        const from = Math.max(CHUNK, (Math.ceil(length / CHUNK) - 2) * CHUNK);
        if (from < length) void this.fetch(from, length).catch(() => undefined);
      })
      .catch(() => undefined);
  }

  private fetch(begin: number, end: number): Promise<Range> {
    const range = fetchRange(this.url, begin, end);
    this.asked.push({ begin, end, range });
    return range;
  }

  /**
   * Bytes `begin` to `end`, from a range already asked for when one holds them. Always a
   * copy: pdf.js hands the buffer over to its worker, which empties it here.
   */
  async read(begin: number, end: number): Promise<Uint8Array> {
    const covering = this.asked.find((asked) => asked.begin <= begin && end <= asked.end);
    const range = covering ? await covering.range : await this.fetch(begin, end);
    return range.bytes.slice(begin - range.begin, end - range.begin);
  }
}

const files = new Map<string, RangedFile>();

/** Starts fetching the PDF at `url` (its first and last bytes) before pdf.js asks. */
export function prefetchPdf(url: string): void {
  if (!files.has(url)) files.set(url, new RangedFile(url));
}

/**
 * Opens the PDF at `url` (a short-lived S3 link: same bytes for the whole visit). `onError`
 * hears of a range that could not be read after the document opened (a page then stays blank).
 */
export async function openPdf(url: string, onError: (error: Error) => void): Promise<PDFDocumentProxy> {
  prefetchPdf(url);
  const file = files.get(url) as RangedFile;
  const [pdfjs, head] = await Promise.all([warmPdf(), file.head]);
  const options = {
    cMapUrl: '/pdfjs/cmaps/',
    cMapPacked: true,
    standardFontDataUrl: '/pdfjs/standard_fonts/',
    wasmUrl: '/pdfjs/wasm/',
    iccUrl: '/pdfjs/iccs/',
    isEvalSupported: false,
    // Long documents: only the byte ranges of the pages shown are fetched.
    disableAutoFetch: true,
    rangeChunkSize: CHUNK,
  };
  if (head.end >= head.length) {
    return pdfjs.getDocument({ ...options, data: head.bytes.slice() }).promise;
  }
  class Transport extends pdfjs.PDFDataRangeTransport {
    override requestDataRange(begin: number, end: number): void {
      file.read(begin, end).then(
        (bytes) => this.onDataRange(begin, bytes),
        (error: unknown) => onError(error instanceof Error ? error : new Error(String(error))),
      );
    }
  }
  return pdfjs.getDocument({ ...options, range: new Transport(head.length, head.bytes.slice()) }).promise;
}

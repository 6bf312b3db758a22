import { cpSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

/** pdf.js's character maps, standard fonts, decoders and colour profiles, as our own files. */
function pdfjsAssets(): Plugin {
  const from = fileURLToPath(new URL('./node_modules/pdfjs-dist/', import.meta.url));
  let outDir = 'dist';
  return {
    name: 'gsign-pdfjs-assets',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    closeBundle() {
      for (const dir of ['cmaps', 'standard_fonts', 'wasm', 'iccs']) {
        cpSync(`${from}${dir}`, `${outDir}/pdfjs/${dir}`, { recursive: true });
      }
    },
  };
}

// No dev server proxying or CDN: the runner (locally) and CloudFront (in AWS) serve `dist/`
// with `/v1/*` on the same origin. pdf.js's worker, character maps and standard fonts are
// bundled as files of our own (see src/pdf/loader.ts), never fetched from elsewhere.
export default defineConfig({
  plugins: [pdfjsAssets()],
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'react' },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    rollupOptions: {
      output: {
        // pdf.js in its own chunk, loaded once a document is shown: the app's own code
        // reaches the screen first.
        manualChunks(id: string) {
          // (Not the worker's `?url` module: that is one string the app needs at start.)
          if (id.includes('node_modules/pdfjs-dist') && !id.includes('?url')) return 'pdfjs';
          if (id.includes('node_modules/react')) return 'react';
          return undefined;
        },
      },
    },
  },
});

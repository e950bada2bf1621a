// Vite build of the Smile web UI. The output (dist/) is embedded into the smile binary by
// tools/embed_web.c; hashed files go to dist/assets/ (served with a long cache), files
// from public/ keep their names (served with no-cache + ETag). No CDN: everything the UI
// needs is in dist/.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    target: 'es2022',
    manifest: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
    modulePreload: { polyfill: false },
  },
  server: {
    // `npm run dev` talks to a local `smile serve` (make run) unless VITE_FAKE_API=1.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});

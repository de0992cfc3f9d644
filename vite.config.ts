// Builds the Svelte renderer into out/renderer. `base: './'` so the same files load from file:// in
// Electron and from the browser-mode server.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.js', import.meta.url)) })],
  build: {
    outDir: '../out/renderer',
    emptyOutDir: true,
    // Figures and PDF export are bundled in; one chunk keeps file:// loading simple.
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
  },
});

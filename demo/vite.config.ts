// Vite config for the browser demo (`npm run demo`, `npm run build:demo`). The root is demo/; the app imports
// the library straight from ../src, so the dev server must be allowed to serve the parent folder.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: './',
  server: { host: '127.0.0.1', fs: { allow: [resolve(here, '..')] } },
  preview: { host: '127.0.0.1' },
  // Top-level await and modern syntax: WebGPU browsers are all recent.
  build: {
    target: 'esnext',
    outDir: resolve(here, 'dist'),
    emptyOutDir: true,
    // The embedded MNIST digits are a ~20 MB chunk, loaded by the worker only when MNIST is chosen.
    chunkSizeWarningLimit: 30_000,
    // Kernels stay real files (shaders/NAME.wgsl → assets/NAME-hash.wgsl), fetched by init() like in Node.
    assetsInlineLimit: (file: string) => (file.endsWith('.wgsl') ? false : undefined),
    rollupOptions: { input: { main: resolve(here, 'index.html'), parity: resolve(here, 'parity.html') } },
  },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['webgpu'] },
});

import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The build is served by the controller at `/` (static files, index.html as fallback).
// `npm run dev -w @syncguard/portal` proxies /api to a controller on SYNCGUARD_URL.
export default defineConfig({
  base: '/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: { '/api': process.env.SYNCGUARD_URL ?? 'http://127.0.0.1:8080' },
  },
});

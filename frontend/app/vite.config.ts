/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'
import Components from 'unplugin-vue-components/vite'
import { defineConfig } from 'vite'

// Django serves the build: frontend/static/app is an app static folder (collected into STATIC_ROOT/app) and
// frontend/views.py answers every page path with its index.html.
const djangoOrigin = process.env.DJANGO_ORIGIN ?? 'http://127.0.0.1:8000'

export default defineConfig(({ command }) => ({
  base: command === 'build' ? '/static/app/' : '/',
  plugins: [
    vue(),
    // Element Plus on demand: only the components and their CSS that a page uses end up in its chunk.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: 'src/auto-imports.d.ts' }),
    Components({ resolvers: [ElementPlusResolver()], dts: 'src/components.d.ts', dirs: [] }),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  cacheDir: 'node_modules/.vite',
  define: {
    // vue-i18n: Composition API only, no devtools hooks in production (smaller, no legacy code).
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: '../static/app',
    emptyOutDir: true,
    manifest: true,
    assetsDir: 'assets',
    chunkSizeWarningLimit: 700,
  },
  server: {
    port: 5173,
    // `npm run dev`: the API, the allauth pages and the admin come from Django on :8000 (bin/run), same cookies.
    proxy: Object.fromEntries(
      ['/api', '/accounts', '/admin', '/static', '/health', '/_allauth', '/django-rq'].map((prefix) => [
        prefix,
        { target: djangoOrigin, changeOrigin: false },
      ]),
    ),
  },
  test: {
    environment: 'happy-dom',
    include: ['tests/**/*.test.ts'],
    restoreMocks: true,
    // Mounting 100 dashboard rows takes seconds on a busy 2-core machine: a limit against hangs, not a speed check.
    testTimeout: 30000,
    // Element Plus's ES modules import their CSS: let Vite handle them rather than Node.
    server: { deps: { inline: ['element-plus'] } },
  },
}))

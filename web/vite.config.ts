/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` serves the page with the API proxied to a running stack (script/server):
// the page and the API share one origin, as when the gateway serves web/dist.
const api = process.env.HIFIVE_URL ?? 'http://127.0.0.1:8088'
const proxied = ['/config.json', '/roomStates', '/notifications', '/conferences', '/pays', '/rooms', '/system']

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: { outDir: 'dist', assetsDir: 'assets', sourcemap: false },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(proxied.map((path) => [path, { target: api, changeOrigin: false }])),
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts'],
  },
})

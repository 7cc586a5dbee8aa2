import { defineConfig } from '@playwright/test'

// Browser tests against a running HiFive (script/browser-test starts one): HIFIVE_URL is the
// gateway; screenshots and failure traces go to BROWSER_ARTIFACTS. Debian's Chromium is
// used; no browser is downloaded.
const artifacts = process.env.BROWSER_ARTIFACTS ?? 'test-results'

export default defineConfig({
  testDir: 'e2e',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 300_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  outputDir: `${artifacts}/playwright`,
  use: {
    baseURL: process.env.HIFIVE_URL ?? 'http://127.0.0.1:8088',
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
})

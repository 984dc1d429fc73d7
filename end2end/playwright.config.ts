import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { defineConfig } from '@playwright/test';

import {
  APP_PORT,
  APP_URL,
  BRANDED_PORT,
  BRANDED_URL,
  HIDING_PORT,
  HIDING_URL,
  MAIL_FROM,
  MAILDEV_SMTP_PORT,
  MAILDEV_URL,
  MAILDEV_WEB_PORT,
  SMTP_URL,
} from './tests/servers';

// The suite is run by scripts/test.sh (and CI) after the release server has
// been built; it starts that binary itself through `webServer`.

const CHROMIUM = '/usr/bin/chromium';
const PORT = APP_PORT;
const BASE_URL = APP_URL;

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(`${name} is not set: run the suite through scripts/test.sh`);
  }
  return value;
}

const serverBin = required('LATCHKEY_SERVER_BIN');
const siteRoot = required('LATCHKEY_SITE_ROOT');

// Browsers cannot be downloaded here: we use Debian's Chromium. A missing
// browser must fail the run, never skip it.
if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
}

// Set once, in the runner: workers inherit it (they load this file again), so
// tests that run the server's CLI (create-admin) reach the same database.
process.env.E2E_DATABASE_URL ||= `sqlite://${path.join(os.tmpdir(), `latchkey-e2e-${Date.now()}.db`)}`;
const databaseUrl = process.env.E2E_DATABASE_URL;

// MailDev comes from this package's devDependencies (npm ci). Run the local
// copy: `npx maildev` would quietly download whatever version is newest.
const MAILDEV_BIN = path.join(__dirname, 'node_modules', '.bin', 'maildev');
if (!fs.existsSync(MAILDEV_BIN)) {
  throw new Error(`MailDev not found at ${MAILDEV_BIN}: run \`npm ci\` in end2end/`);
}

// Each run keeps its mail in a directory of its own (MailDev's default,
// $TMPDIR/maildev, is shared by every MailDev on the machine).
const mailDirectory = path.join(os.tmpdir(), `latchkey-e2e-mail-${Date.now()}`);

process.env.E2E_HIDING_DATABASE_URL ||= `sqlite://${path.join(os.tmpdir(), `latchkey-e2e-hiding-${Date.now()}.db`)}`;
const hidingDatabaseUrl = process.env.E2E_HIDING_DATABASE_URL;
process.env.E2E_BRANDED_DATABASE_URL ||= `sqlite://${path.join(os.tmpdir(), `latchkey-e2e-branded-${Date.now()}.db`)}`;
const brandedDatabaseUrl = process.env.E2E_BRANDED_DATABASE_URL;

/** The environment of a Latchkey server under test. */
function serverEnv(port: number, url: string, database: string): Record<string, string> {
  return {
    LEPTOS_SITE_ROOT: siteRoot,
    LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
    PUBLIC_URL: url,
    DATABASE_URL: database,
    // Test-only secret (48+ bytes); never used outside this suite.
    LATCHKEY_SECRET: 'latchkey-end2end-test-secret-not-for-production-0123456789',
    SMTP_URL,
    MAIL_FROM,
    RUST_LOG: 'info',
    // Every test signs up from 127.0.0.1.
    SIGNUPS_PER_HOUR_PER_IP: '1000000',
    CODE_SENDS_PER_HOUR_PER_IP: '1000000',
    METRICS_ADDR: '127.0.0.1:0',
  };
}

/** Quotes a path for the shell that Playwright runs `webServer.command` in. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // Two cores: one for the server (argon2 hashing), one for the browsers.
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],

  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    launchOptions: {
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    },
  },

  projects: [
    {
      name: 'chromium',
      grepInvert: /@nojs/,
      use: { browserName: 'chromium', javaScriptEnabled: true },
    },
    {
      name: 'no-js',
      grep: /@nojs/,
      use: { browserName: 'chromium', javaScriptEnabled: false },
    },
  ],

  // Started in this order; each must answer on its `url` before the next one
  // starts, and Playwright stops both when the run ends.
  webServer: [
    {
      // A real SMTP server that keeps every mail; tests read the codes back
      // from its REST API (tests/helpers.ts: latestCode).
      name: 'MailDev',
      command: [
        shellQuote(MAILDEV_BIN),
        `--smtp ${MAILDEV_SMTP_PORT}`,
        '--ip 127.0.0.1',
        `--web ${MAILDEV_WEB_PORT}`,
        '--web-ip 127.0.0.1',
        `--mail-directory ${shellQuote(mailDirectory)}`,
      ].join(' '),
      cwd: __dirname,
      // GET / answers 404 unless the client asks for text/html; the health
      // check of the REST API is what says the server is up.
      url: `${MAILDEV_URL}/api/healthz`,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      name: 'Latchkey',
      command: shellQuote(serverBin),
      cwd: __dirname,
      url: `${BASE_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        ...serverEnv(PORT, BASE_URL, databaseUrl),
        // Webhook endpoints on 127.0.0.1 (tests/webhooks.spec.ts): a
        // deployment refuses private addresses unless told otherwise.
        WEBHOOK_ALLOW_PRIVATE: 'true',
      },
    },
    {
      // The same binary with SIGNUP_HIDE_EXISTING=true, on a database of
      // its own (tests/signup-hidden.spec.ts).
      name: 'Latchkey (sign-up hides existing accounts)',
      command: shellQuote(serverBin),
      cwd: __dirname,
      url: `${HIDING_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        ...serverEnv(HIDING_PORT, HIDING_URL, hidingDatabaseUrl),
        SIGNUP_HIDE_EXISTING: 'true',
        // A second sign-up for the same address comes seconds later.
        CODE_RESEND_COOLDOWN_SECS: '1',
      },
    },
    {
      // Another product's Latchkey: its brand comes from a settings file
      // (tests/brand.spec.ts).
      name: 'Latchkey (branded)',
      command: shellQuote(serverBin),
      cwd: __dirname,
      url: `${BRANDED_URL}/healthz`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        ...serverEnv(BRANDED_PORT, BRANDED_URL, brandedDatabaseUrl),
        LATCHKEY_CONFIG: path.join(__dirname, 'fixtures', 'brand', 'branded.toml'),
      },
    },
  ],
});

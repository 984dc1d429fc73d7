import { execFileSync } from 'node:child_process';
import path from 'node:path';

import AxeBuilder from '@axe-core/playwright';
import {
  test as base,
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Locator,
  type Page,
} from '@playwright/test';

import { MAILDEV_API } from './servers';

export { expect };

export const PASSWORD = 'correct horse battery staple';
export const LOGIN_FAILED = 'Incorrect email, username or password.';

export interface TestUser {
  username: string;
  email: string;
  password: string;
}

/** A username nobody else has: `u` + time + randomness, 3–32 chars of [a-z0-9]. */
export function uniqueName(prefix = 'u'): string {
  const random = Math.random().toString(36).slice(2, 8).padEnd(6, '0');
  return `${prefix}${Date.now().toString(36)}${random}`;
}

export function newUser(): TestUser {
  const username = uniqueName();
  return { username, email: `${username}@example.com`, password: PASSWORD };
}

/** Runs axe on the page as it is now and expects no violations. */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  const problems = results.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
  expect(problems, `axe on ${what} at ${page.url()}`).toEqual([]);
}

/** Saves a full-page screenshot as end2end/screenshots/<name>.png. */
export async function snap(page: Page, name: string): Promise<void> {
  await page.screenshot({
    path: path.join(__dirname, '..', 'screenshots', `${name}.png`),
    fullPage: true,
  });
}

// Hydration probe. The app is server-rendered, then hydrated by a WASM bundle
// loaded by a module script. We wrap WebAssembly's instantiation to learn when
// the bundle is running; `hydrate()` follows within the same turn of
// microtasks, and waitForHydration waits a little beyond that.
const HYDRATION_PROBE = `(() => {
  const w = window;
  if (w.__lkProbe) return;
  w.__lkProbe = true;
  w.__lkWasmReady = false;
  const mark = (p) => Promise.resolve(p).then((r) => { w.__lkWasmReady = true; return r; });
  for (const key of ['instantiateStreaming', 'instantiate']) {
    const original = WebAssembly[key];
    if (typeof original !== 'function') continue;
    WebAssembly[key] = function (...args) { return mark(original.apply(this, args)); };
  }
})();`;

/**
 * `test` with a page that reports when the WASM bundle has started, and that
 * fails the test on any uncaught error in the page (a panic while hydrating
 * surfaces as one).
 */
export const test = base.extend<{ pageErrors: Error[] }>({
  page: async ({ page }, use) => {
    await page.addInitScript(HYDRATION_PROBE);
    await use(page);
  },
  // Automatic: every test gets this check without asking for it.
  pageErrors: [
    async ({ page }, use) => {
      const errors: Error[] = [];
      page.on('pageerror', (err) => errors.push(err));
      await use(errors);
      expect(errors.map((e) => `${e.name}: ${e.message}`), 'uncaught errors in the page').toEqual([]);
    },
    { auto: true },
  ],
});

/**
 * A page in a browser context of its own (another device of the same or
 * another person), with the hydration probe `open()` relies on.
 */
export async function otherBrowser(
  browser: Browser,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  await context.addInitScript(HYDRATION_PROBE);
  return { context, page: await context.newPage() };
}

/**
 * Waits until the page is hydrated: the network is quiet, the WASM bundle is
 * instantiated, and the tasks that follow it (hydrate(), resolving Suspense)
 * have had their turn. Only for pages with JavaScript enabled.
 */
export async function waitForHydration(page: Page): Promise<void> {
  await page.waitForLoadState('networkidle');
  try {
    await page.waitForFunction(() => (window as unknown as { __lkWasmReady?: boolean }).__lkWasmReady === true, null, {
      timeout: 15_000,
    });
  } catch {
    throw new Error(
      `The app did not hydrate at ${page.url()}: the WASM bundle never started ` +
        '(is LATCHKEY_SITE_ROOT/pkg served, and did the bundle build?)',
    );
  }
  // hydrate() runs right after instantiation; let it and the Suspense
  // children it schedules finish.
  await page.evaluate(() => new Promise<void>((resolve) => setTimeout(resolve, 100)));
  await page.waitForLoadState('networkidle');
}

/**
 * Navigates and waits for hydration. For JavaScript-enabled pages only: tests
 * in the no-js project use page.goto() directly.
 */
export async function open(page: Page, url: string) {
  const response = await page.goto(url);
  await waitForHydration(page);
  return response;
}

export function header(page: Page): Locator {
  return page.locator('header.site-header');
}

export function navUser(page: Page): Locator {
  return page.getByTestId('nav-user');
}

/** Expects the header to show `username` as the signed-in user. */
export async function expectSignedInAs(page: Page, username: string): Promise<void> {
  await expect(navUser(page)).toBeVisible();
  await expect(navUser(page)).toContainText(username);
  await expect(navUser(page)).toHaveAttribute('href', '/profile');
  await expect(header(page).getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(header(page).getByRole('link', { name: 'Log in' })).toHaveCount(0);
}

/** Expects the header to show the signed-out links. */
export async function expectSignedOut(page: Page): Promise<void> {
  await expect(header(page).getByRole('link', { name: 'Log in' })).toHaveAttribute('href', '/login');
  await expect(header(page).getByRole('link', { name: 'Sign up' })).toHaveAttribute('href', '/signup');
  await expect(navUser(page)).toHaveCount(0);
}

/** Fills the sign-up form (the page must be on /signup) and submits it. */
export async function submitSignUp(page: Page, user: Pick<TestUser, 'email' | 'username' | 'password'>): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Username', { exact: true }).fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/**
 * Signs up a new user through the UI (JavaScript on) and expects to land on
 * /verify, signed in, asked for the code mailed to them.
 */
export async function signUp(page: Page, user: TestUser = newUser()): Promise<TestUser> {
  await open(page, '/signup');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
  await submitSignUp(page, user);
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
  await expect(page.getByTestId('verify-email')).toHaveText(user.email);
  await expectSignedInAs(page, user.username);
  return user;
}

/** Signs up (see signUp), then opens the profile, email not yet verified. */
export async function signUpToProfile(page: Page, user: TestUser = newUser()): Promise<TestUser> {
  await signUp(page, user);
  await open(page, '/profile');
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expectSignedInAs(page, user.username);
  return user;
}

/** Fills the log-in form (the page must be on /login) and submits it. */
export async function submitLogin(page: Page, login: string, password: string): Promise<void> {
  // By id, not label: the same in every language.
  await page.locator('#field-login').fill(login);
  await page.locator('#field-password').fill(password);
  await page.locator('form:has(#field-login) button[type="submit"]').click();
}

/**
 * Makes `user` an administrator the operator's way: the server binary's
 * `create-admin` command on the suite's database. Their next request sees
 * the role (it is read from the database every time).
 */
export async function makeAdmin(page: Page, user: TestUser): Promise<void> {
  const serverBin = process.env.LATCHKEY_SERVER_BIN;
  const databaseUrl = process.env.E2E_DATABASE_URL;
  if (!serverBin || !databaseUrl) {
    throw new Error('LATCHKEY_SERVER_BIN and E2E_DATABASE_URL must be set: run the suite through scripts/test.sh');
  }
  // create-admin promotes only a verified address (a never-verified account
  // may be a squatter's). Verify it with the mailed code, in this page's own
  // session when it is the user's (proving the address ends every other
  // session), else in a session of its own.
  const code = await latestCode(page.request, user.email);
  let verified = await page.request.post('/api/v1/me/email/verify', { data: { code } });
  if (verified.status() === 401) {
    const login = await page.request.post('/api/v1/auth/login', {
      data: { login: user.email, password: user.password },
    });
    expect(login.status()).toBe(200);
    const { access_token: token } = await login.json();
    verified = await page.request.post('/api/v1/me/email/verify', {
      data: { code },
      headers: { Authorization: `Bearer ${token}` },
    });
  }
  expect(verified.status(), await verified.text()).toBe(200);
  const out = execFileSync(serverBin, ['create-admin', '--email', user.email, '--username', user.username], {
    env: { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: 'warn' },
    input: '',
    encoding: 'utf8',
  });
  if (!out.includes('is now an administrator')) {
    throw new Error(`create-admin did not promote ${user.email}: ${out}`);
  }
}

/** Creates an account, then forgets the session so the test starts signed out. */
export async function existingUser(page: Page): Promise<TestUser> {
  const user = await signUp(page);
  await page.context().clearCookies();
  return user;
}

// ---------------------------------------------------------------------------
// Mail. The server sends over real SMTP to MailDev (see playwright.config.ts),
// whose REST API lists every mail it received.

/** What MailDev's REST API (GET /api/email) tells about one mail. */
export interface Mail {
  id: string;
  time: string;
  subject: string;
  text?: string;
  html?: string;
  from: { address: string; name?: string }[];
  to: { address: string; name?: string }[];
}

/** Subject of the verification mail; the code is 6 digits, leading zeros kept. */
export const CODE_SUBJECT = /^(\d{6}) is your Latchkey verification code$/;
/** Subject of the passwordless sign-in mail (/login/code). */
export const SIGNIN_SUBJECT = /^(\d{6}) is your Latchkey sign-in code$/;
/** Subject of the mail sent to the new address of an email change (/email). */
export const CHANGE_EMAIL_SUBJECT = /^(\d{6}) is your Latchkey code to change your email$/;

/** Every mail MailDev holds addressed to `email`, oldest first. */
export async function mailsTo(request: APIRequestContext, email: string): Promise<Mail[]> {
  const response = await request.get(`${MAILDEV_API}/email`, { failOnStatusCode: false });
  if (!response.ok()) {
    throw new Error(`MailDev answered ${response.status()} at ${MAILDEV_API}/email: ${await response.text()}`);
  }
  const all = (await response.json()) as Mail[];
  const wanted = email.toLowerCase();
  return all
    .map((mail, index) => ({ mail, index }))
    .filter(({ mail }) => (mail.to ?? []).some((to) => to.address?.toLowerCase() === wanted))
    // Arrival order, by time; the index keeps mails of the same millisecond in order.
    .sort((a, b) => Date.parse(a.mail.time) - Date.parse(b.mail.time) || a.index - b.index)
    .map(({ mail }) => mail);
}

/** Options of latestMail and latestCode. */
export interface MailWait {
  /** How long to wait for the mail. */
  timeoutMs?: number;
  /** Mails already seen (by id): only a mail not among them counts. */
  after?: Mail[];
  /** Only a mail whose (trimmed) subject matches counts. */
  subject?: RegExp;
}

/**
 * Waits (up to `timeoutMs`) for a mail to `email` and returns the newest one.
 * With `after`, only a mail that is not among those (by id) counts; with
 * `subject`, only a mail whose subject matches.
 */
export async function latestMail(
  request: APIRequestContext,
  email: string,
  { timeoutMs = 15_000, after = [], subject }: MailWait = {},
): Promise<Mail> {
  const seen = new Set(after.map((m) => m.id));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = (await mailsTo(request, email))
      .filter((m) => !seen.has(m.id))
      .filter((m) => !subject || subject.test(m.subject?.trim() ?? ''));
    if (fresh.length > 0) return fresh[fresh.length - 1];
    if (Date.now() > deadline) {
      throw new Error(
        `No${seen.size ? ' new' : ''} mail to ${email}${subject ? ` with a subject matching ${subject}` : ''} ` +
          `reached MailDev (${MAILDEV_API}/email) within ${timeoutMs / 1000} s: did the server get SMTP_URL, ` +
          'and did sending fail (see its log)?',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * Returns the 6-digit code (a string: it may start with 0) from the subject of
 * the newest mail to `email`, waiting up to ~15 s for it. By default that is
 * the verification mail (CODE_SUBJECT); pass `subject` (SIGNIN_SUBJECT,
 * CHANGE_EMAIL_SUBJECT) for another kind, and `after` to skip older mails.
 * With `subject`, mails of other kinds are ignored rather than rejected.
 */
export async function latestCode(request: APIRequestContext, email: string, wait: MailWait = {}): Promise<string> {
  const pattern = wait.subject ?? CODE_SUBJECT;
  const mail = await latestMail(request, email, wait);
  const match = pattern.exec(mail.subject?.trim() ?? '');
  if (!match) {
    throw new Error(`The newest mail to ${email} carries no code in its subject: ${JSON.stringify(mail.subject)}`);
  }
  return match[1];
}

/** The 6-digit code field of every code screen (/verify, /login/code, /email). */
export function codeInput(page: Page): Locator {
  return page.getByLabel('Code', { exact: true });
}

/** The error shown under the code field. */
export function codeError(page: Page): Locator {
  return page.locator('#field-code-error');
}

/** A 6-digit code that is not `code`. */
export function wrongCode(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

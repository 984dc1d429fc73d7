import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { APIRequestContext, Page } from '@playwright/test';

import {
  PASSWORD,
  expect,
  expectAccessible,
  expectSignedOut,
  header,
  latestCode,
  navUser,
  newUser,
  open,
  otherBrowser,
  snap,
  submitLogin,
  test,
  waitForHydration,
  type TestUser,
} from './helpers';
import { APP_URL, DOWNSTREAM_PORT, DOWNSTREAM_URL, MAIL_FROM, SMTP_URL } from './servers';

// "Sign in with another OpenID Connect provider". The provider is the
// server under test (APP_URL, on localhost); the deployment with the button
// is a second Latchkey this file starts itself (DOWNSTREAM_URL, on
// 127.0.0.1), on a database of its own. The two hosts differ, so the
// browser keeps their cookies apart, as it would two real sites'.

const PROVIDER_NAME = 'Upstream Latchkey';
const BUTTON = `Sign in with ${PROVIDER_NAME}`;
/** The downstream as an app registered at the provider (its consent page names it). */
const APP_NAME = 'Downstream Latchkey';
const CALLBACK = `${DOWNSTREAM_URL}/login/with/oidc/back`;
/** A loopback address nothing answers on (the discard port). */
const NOWHERE = 'http://127.0.0.1:9';
/** The presets, in the order their buttons show, with each provider's own words for its button. */
const PRESETS = [
  { id: 'google', address: 'ISSUER', en: 'Sign in with Google', ko: 'Google 계정으로 로그인' },
  { id: 'kakao', address: 'ISSUER', en: 'Login with Kakao', ko: '카카오 로그인' },
  { id: 'github', address: 'URL', en: 'Sign in with GitHub', ko: 'GitHub로 로그인' },
  { id: 'naver', address: 'URL', en: 'Log in with NAVER', ko: '네이버 로그인' },
];

/** `text` as a regular expression that matches it literally. */
function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function required(name: string): string {
  const value = process.env[name]?.trim();
  if (!value) {
    throw new Error(`${name} is not set: run the suite through scripts/test.sh`);
  }
  return value;
}

/** Whether this project runs pages with JavaScript (the no-js one does not). */
function scripted(): boolean {
  return test.info().project.use.javaScriptEnabled !== false;
}

/** Waits for the page to hydrate, when it can (JavaScript on). */
async function settle(page: Page): Promise<void> {
  if (scripted()) await waitForHydration(page);
}

/** Opens a page: hydrated with JavaScript, just loaded without. */
async function visit(page: Page, url: string): Promise<void> {
  if (scripted()) {
    await open(page, url);
  } else {
    await page.goto(url);
  }
}

/**
 * An account at the provider (the server under test), made over its API so
 * the browser is not signed in there; `verified`: its address proved with
 * the mailed code.
 */
async function providerPerson(request: APIRequestContext, verified: boolean): Promise<TestUser> {
  const user = newUser();
  const created = await request.post(`${APP_URL}/api/v1/auth/signup`, {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(created.status(), await created.text()).toBe(201);
  if (verified) {
    const { access_token: token } = await created.json();
    const code = await latestCode(request, user.email);
    const proved = await request.post(`${APP_URL}/api/v1/me/email/verify`, {
      data: { code },
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(proved.status(), await proved.text()).toBe(200);
  }
  return user;
}

/** An administrator's API token at the provider (made with create-admin). */
async function adminToken(request: APIRequestContext): Promise<string> {
  const admin = await providerPerson(request, true);
  const out = execFileSync(
    required('LATCHKEY_SERVER_BIN'),
    ['create-admin', '--email', admin.email, '--username', admin.username],
    {
      env: { ...process.env, DATABASE_URL: required('E2E_DATABASE_URL'), RUST_LOG: 'warn' },
      input: '',
      encoding: 'utf8',
    },
  );
  if (!out.includes('is now an administrator')) {
    throw new Error(`create-admin did not promote ${admin.email}: ${out}`);
  }
  // Proving the address ended other sessions: a fresh one, as an admin.
  const login = await request.post(`${APP_URL}/api/v1/auth/login`, {
    data: { login: admin.email, password: admin.password },
  });
  expect(login.status(), await login.text()).toBe(200);
  return (await login.json()).access_token;
}

/** Registers the downstream at the provider, as an administrator does over the API. */
async function registerDownstream(request: APIRequestContext): Promise<{ client_id: string; client_secret: string }> {
  const token = await adminToken(request);
  const registered = await request.post(`${APP_URL}/api/v1/admin/apps`, {
    headers: { authorization: `Bearer ${token}` },
    data: {
      name: APP_NAME,
      redirect_uris: [CALLBACK],
      confidential: true,
      scopes: ['openid', 'email', 'profile'],
      grant_types: ['authorization_code'],
    },
  });
  expect(registered.status(), await registered.text()).toBe(201);
  return registered.json();
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/**
 * Starts the downstream Latchkey with the provider's button (the same
 * settings as playwright.config.ts's serverEnv, on a fresh database), its
 * output in `log`, and waits until it answers.
 */
async function startDownstream(clientId: string, clientSecret: string, log: string): Promise<ChildProcess> {
  if (await answers(`${DOWNSTREAM_URL}/healthz`)) {
    throw new Error(`Something answers on ${DOWNSTREAM_URL} already: a downstream left over from another run?`);
  }
  const database = path.join(
    os.tmpdir(),
    `latchkey-e2e-downstream-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.db`,
  );
  const env: Record<string, string> = {
    LEPTOS_SITE_ROOT: required('LATCHKEY_SITE_ROOT'),
    LEPTOS_SITE_ADDR: `127.0.0.1:${DOWNSTREAM_PORT}`,
    PUBLIC_URL: DOWNSTREAM_URL,
    DATABASE_URL: `sqlite://${database}`,
    // Test-only secret (48+ bytes); never used outside this suite.
    LATCHKEY_SECRET: 'latchkey-end2end-downstream-secret-not-for-production-0123456789',
    SMTP_URL,
    MAIL_FROM,
    RUST_LOG: 'info',
    SIGNUPS_PER_HOUR_PER_IP: '1000000',
    CODE_SENDS_PER_HOUR_PER_IP: '1000000',
    METRICS_ADDR: '127.0.0.1:0',
    UPSTREAM_OIDC_ISSUER: APP_URL,
    UPSTREAM_OIDC_CLIENT_ID: clientId,
    UPSTREAM_OIDC_CLIENT_SECRET: clientSecret,
    UPSTREAM_OIDC_NAME: PROVIDER_NAME,
    // The presets' buttons, for their words and colours: nothing here
    // answers at this address, so these are never clicked (their flows run
    // against each provider's shape in server/tests/it/upstream/shapes.rs).
    ...Object.fromEntries(
      PRESETS.flatMap((p) => [
        [`UPSTREAM_${p.id.toUpperCase()}_CLIENT_ID`, 'e2e-client'],
        [`UPSTREAM_${p.id.toUpperCase()}_CLIENT_SECRET`, 'e2e-secret'],
        [`UPSTREAM_${p.id.toUpperCase()}_${p.address}`, NOWHERE],
      ]),
    ),
  };
  const out = fs.openSync(log, 'a');
  const server = spawn(required('LATCHKEY_SERVER_BIN'), [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  let exited: string | null = null;
  server.on('exit', (code, signal) => {
    exited = `exited (${code ?? signal})`;
  });
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (exited) break;
    if (await answers(`${DOWNSTREAM_URL}/healthz`)) return server;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  server.kill('SIGKILL');
  const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-30).join('\n');
  throw new Error(`The downstream Latchkey ${exited ?? 'did not answer in time'}; its log (${log}) ends:\n${tail}`);
}

/** Stops the downstream and waits until it is gone (the next project starts another on its port). */
async function stopDownstream(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGTERM');
  const late = setTimeout(() => server.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(late);
}

/** An account on the downstream, made over its API (the browser stays signed out). */
async function downstreamAccount(request: APIRequestContext, user: TestUser): Promise<void> {
  const created = await request.post(`${DOWNSTREAM_URL}/api/v1/auth/signup`, {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(created.status(), await created.text()).toBe(201);
}

/** Clicks the provider's button on the downstream's log-in page (the page must be on it). */
async function clickUpstream(page: Page): Promise<void> {
  await page.getByTestId('upstream-buttons').getByRole('button', { name: BUTTON }).click();
}

/**
 * At the provider, signed out: its log-in page, then (first time) its
 * consent page for the downstream, allowed.
 */
async function signInAtProvider(page: Page, person: TestUser): Promise<void> {
  await expect(page).toHaveURL(`${APP_URL}/login`);
  await settle(page);
  await submitLogin(page, person.email, person.password);
  await expect(page).toHaveURL(new RegExp(`^${literally(APP_URL)}/oauth/consent\\?request=`));
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`${APP_NAME} wants to sign you in`);
  await settle(page);
  await page.getByRole('button', { name: 'Allow' }).click();
}

/** Expects the downstream's profile of `email`, signed in. */
async function expectDownstreamProfile(page: Page, email: string): Promise<void> {
  await expect(page).toHaveURL(`${DOWNSTREAM_URL}/profile`);
  await expect(page.getByTestId('profile-email')).toHaveText(email);
  await expect(navUser(page)).toBeVisible();
  await expect(header(page).getByRole('button', { name: 'Log out' })).toBeVisible();
}

/** Logs out of the downstream with the header's button (the provider's session stays). */
async function logOutDownstream(page: Page): Promise<void> {
  await settle(page);
  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(`${DOWNSTREAM_URL}/login`);
  await expectSignedOut(page);
}

test.describe.serial('signing in with another OpenID Connect provider', () => {
  let downstream: ChildProcess | undefined;
  let clientId = '';
  const log = path.join(os.tmpdir(), `latchkey-e2e-downstream-${Date.now()}.log`);

  test.beforeAll(async ({ playwright }) => {
    test.setTimeout(120_000);
    const request = await playwright.request.newContext();
    try {
      const app = await registerDownstream(request);
      clientId = app.client_id;
      downstream = await startDownstream(app.client_id, app.client_secret, log);
    } finally {
      await request.dispose();
    }
  });

  test.afterAll(async () => {
    if (downstream) await stopDownstream(downstream);
    downstream = undefined;
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status !== testInfo.expectedStatus && fs.existsSync(log)) {
      await testInfo.attach('downstream log', { path: log, contentType: 'text/plain' });
    }
  });

  test('a new person signs in with another Latchkey, and is signed straight in next time', async ({
    page,
    request,
  }) => {
    const person = await providerPerson(request, true);

    // The button: a plain form to the server, below the log-in form.
    await page.setViewportSize({ width: 1280, height: 800 });
    await open(page, `${DOWNSTREAM_URL}/login`);
    const buttons = page.getByTestId('upstream-buttons');
    await expect(buttons.locator('form')).toHaveCount(PRESETS.length + 1);
    const form = buttons.locator('form[action="/login/with/oidc"]');
    await expect(form).toHaveCount(1);
    await expect(form).toHaveAttribute('method', 'post');
    await expect(form).toHaveAttribute('action', '/login/with/oidc');
    await expect(form.locator('input[type="hidden"][name="next"]')).toHaveCount(1);
    const button = buttons.getByRole('button', { name: BUTTON });
    await expect(button).toHaveText(BUTTON);
    await expect(button).toHaveClass(/\bupstream-oidc\b/);
    await expect(page.locator('p.divider:has(+ [data-testid="upstream-buttons"])')).toHaveText('or');

    // The post answers with a page that moves on to the provider.
    const onward = await request.post(`${DOWNSTREAM_URL}/login/with/oidc`, {
      form: { next: '' },
      maxRedirects: 0,
    });
    expect(onward.status()).toBe(200);
    const body = await onward.text();
    expect(body).toMatch(/<meta http-equiv="refresh" content="0;url=http:\/\/localhost:3100\/oauth\/authorize\?/);
    expect(body).toContain(`client_id=${clientId}`);
    expect(body).toContain(`redirect_uri=${encodeURIComponent(CALLBACK)}`);

    // First time: the provider's log-in and consent, then back, signed in.
    await clickUpstream(page);
    await signInAtProvider(page, person);
    await expectDownstreamProfile(page, person.email);

    // The new account lists its way in.
    await open(page, `${DOWNSTREAM_URL}/security/accounts`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Other sign-in accounts');
    const linked = page.getByTestId('linked-accounts');
    await expect(linked.getByRole('listitem')).toHaveCount(1);
    await expect(linked).toContainText(PROVIDER_NAME);
    await expect(linked).toContainText(person.email);
    await expect(page.getByRole('heading', { name: 'Remove a linked account' })).toBeVisible();
    // The linked one is not offered again; the others are.
    await expect(page.getByRole('heading', { name: 'Link another account' })).toBeVisible();
    const offered = page.getByTestId('link-buttons').getByRole('button');
    await expect(offered).toHaveText(PRESETS.map((p) => p.en));
    await snap(page, 'upstream-linked-accounts');

    // Next time: the provider remembers the consent and its session, so
    // the button signs straight in, and back to the page that asked for it.
    await logOutDownstream(page);
    await open(page, `${DOWNSTREAM_URL}/sessions`);
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/login?next=%2Fsessions`);
    // Every page the tab asks for on the way, each hop of a redirect too.
    const asked: string[] = [];
    page.on('request', (req) => {
      if (req.isNavigationRequest() && req.frame() === page.mainFrame()) asked.push(req.url());
    });
    await settle(page);
    await clickUpstream(page);
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/sessions`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Devices and sessions');
    await expect(navUser(page)).toBeVisible();
    expect(asked.some((url) => url.startsWith(`${APP_URL}/oauth/authorize?`)), `by the provider: ${asked.join(' ')}`).toBe(
      true,
    );
    expect(asked.filter((url) => url.includes('/oauth/consent') || url.startsWith(`${APP_URL}/login`))).toEqual([]);
    // The same account as the first time.
    await open(page, `${DOWNSTREAM_URL}/profile`);
    await expectDownstreamProfile(page, person.email);
  });

  test('an unverified address at the provider is refused and said', async ({ page, request }) => {
    const person = await providerPerson(request, false);
    await open(page, `${DOWNSTREAM_URL}/login`);
    await clickUpstream(page);
    await signInAtProvider(page, person);

    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/login?upstream=oidc&problem=upstream_no_email`);
    await expect(page.getByTestId('upstream-problem')).toHaveText(
      `${PROVIDER_NAME} did not share a verified email address, so no account can be opened or found with it. ` +
        `Allow access to your email at ${PROVIDER_NAME}, or sign up with your email here.`,
    );
    await expect(page.getByTestId('upstream-problem')).toHaveAttribute('role', 'alert');
    await expectSignedOut(page);
    // No account was opened with the address: it is still free here.
    await downstreamAccount(request, { ...newUser(), email: person.email });
  });

  test('an address that has an account here is linked only after its owner signs in', async ({ page, request }) => {
    // The provider's person first (its code is the newest mail to the
    // address), then an account here with the same address.
    const person = await providerPerson(request, true);
    await downstreamAccount(request, { ...newUser(), email: person.email, password: PASSWORD });

    await open(page, `${DOWNSTREAM_URL}/login`);
    await clickUpstream(page);
    await signInAtProvider(page, person);

    // Not signed in: asked to prove the account here is theirs.
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/login?upstream=oidc&problem=prove`);
    await expect(page.getByTestId('upstream-prove')).toContainText(
      `An account here already uses the email address ${PROVIDER_NAME} gave. Sign in to it below`,
    );
    await expect(page.getByTestId('upstream-problem')).toHaveCount(0);
    await expectSignedOut(page);

    await settle(page);
    await submitLogin(page, person.email, PASSWORD);
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/security/link`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Link this account?');
    await expect(page.getByText(`You signed in with ${PROVIDER_NAME} as ${person.email}.`)).toBeVisible();
    await expect(page.getByRole('button', { name: 'Not now' })).toBeVisible();
    await snap(page, 'upstream-confirm-link');

    await settle(page);
    await page.getByRole('button', { name: `Link ${PROVIDER_NAME}` }).click();
    await expect(page).toHaveURL(new RegExp(`^${literally(DOWNSTREAM_URL)}/security/accounts\\?upstream=oidc&linked$`));
    await expect(page.getByText(`${PROVIDER_NAME} is linked: you can sign in with it now.`)).toBeVisible();
    const linked = page.getByTestId('linked-accounts');
    await expect(linked.getByRole('listitem')).toHaveCount(1);
    await expect(linked).toContainText(PROVIDER_NAME);
    await expect(linked).toContainText(person.email);

    // Linked: the button now signs in to that account, straight.
    await logOutDownstream(page);
    await settle(page);
    await clickUpstream(page);
    await expectDownstreamProfile(page, person.email);
  });

  test('the buttons and pages pass axe', async ({ page, request, browser }) => {
    await open(page, `${DOWNSTREAM_URL}/login`);
    await expect(page.getByTestId('upstream-buttons').getByRole('button', { name: BUTTON })).toBeVisible();
    await expectAccessible(page, 'the log-in page with a provider button');

    await open(page, `${DOWNSTREAM_URL}/login?upstream=oidc&problem=upstream_cancelled`);
    await expect(page.getByTestId('upstream-problem')).toHaveText(
      `You cancelled signing in at ${PROVIDER_NAME}. Nothing was changed.`,
    );
    await expectAccessible(page, 'the log-in page saying the sign-in was cancelled');

    // Someone with a password and nothing linked yet.
    const user = newUser();
    await downstreamAccount(request, user);
    await submitLogin(page, user.username, user.password);
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/profile`);
    await open(page, `${DOWNSTREAM_URL}/security/accounts`);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Other sign-in accounts');
    await expect(page.getByTestId('no-linked-accounts')).toHaveText('No other accounts are linked.');
    await expect(page.getByRole('heading', { name: 'Link another account' })).toBeVisible();
    await expect(page.locator('#link-password')).toBeVisible();
    await expect(page.getByRole('button', { name: BUTTON })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'Remove a linked account' })).toHaveCount(0);
    await expectAccessible(page, 'the linked accounts page');
    // One password, a button per provider: each button posts to its own
    // provider (its formaction), not the form's first. This address is
    // not proven yet, so the provider named in the answer says which.
    await settle(page);
    await page.locator('#link-password').fill(user.password);
    await page.getByTestId('link-buttons').getByRole('button', { name: BUTTON }).click();
    await expect(page).toHaveURL(`${DOWNSTREAM_URL}/security/accounts?upstream=oidc&problem=verify_first`);

    // The button in Korean.
    const korean = await browser.newContext({ locale: 'ko-KR' });
    try {
      const ko = await korean.newPage();
      await ko.goto(`${DOWNSTREAM_URL}/login`);
      await expect(ko.getByTestId('upstream-buttons').locator('form[action="/login/with/oidc"] button')).toHaveText(
        `${PROVIDER_NAME}(으)로 로그인`,
      );
    } finally {
      await korean.close();
    }
  });

  test("every provider's button in its own words, in both languages, on a phone and a desktop", async ({
    browser,
    request,
  }) => {
    // Someone signed in with a password and nothing linked: the security
    // page offers every provider.
    const user = newUser();
    await downstreamAccount(request, user);
    for (const language of ['en', 'ko'] as const) {
      const { context, page } = await otherBrowser(browser, { locale: language === 'ko' ? 'ko-KR' : 'en-US' });
      try {
        for (const [device, width] of [
          ['desktop', 1280],
          ['phone', 360],
        ] as const) {
          await page.setViewportSize({ width, height: 800 });
          await open(page, `${DOWNSTREAM_URL}/login`);
          const buttons = page.getByTestId('upstream-buttons').getByRole('button');
          await expect(buttons).toHaveText([
            ...PRESETS.map((p) => p[language]),
            language === 'ko' ? `${PROVIDER_NAME}(으)로 로그인` : BUTTON,
          ]);
          for (const preset of PRESETS) {
            await expect(page.locator(`form[action="/login/with/${preset.id}"] button`)).toHaveClass(
              new RegExp(`\\bupstream-${preset.id}\\b`),
            );
          }
          // Each button fits its line on a phone: nothing is cut or wraps.
          for (const box of await buttons.evaluateAll((all) =>
            all.map((b) => ({ scroll: b.scrollWidth, client: b.clientWidth, height: b.clientHeight })),
          )) {
            expect(box.scroll).toBeLessThanOrEqual(box.client);
            expect(box.height).toBeLessThan(60);
          }
          await expectAccessible(page, `the log-in page with every provider (${language}, ${device})`);
          await snap(page, `upstream-login-buttons-${language}-${device}`);
        }
        await page.setViewportSize({ width: 1280, height: 800 });
        await open(page, `${DOWNSTREAM_URL}/login`);
        await submitLogin(page, user.username, user.password);
        await expect(page).toHaveURL(`${DOWNSTREAM_URL}/profile`);
        for (const [device, width] of [
          ['desktop', 1280],
          ['phone', 360],
        ] as const) {
          await page.setViewportSize({ width, height: 800 });
          await open(page, `${DOWNSTREAM_URL}/security/accounts`);
          await expect(page.locator('#link-password')).toBeVisible();
          await expect(page.getByTestId('link-buttons').getByRole('button')).toHaveText([
            ...PRESETS.map((p) => p[language]),
            language === 'ko' ? `${PROVIDER_NAME}(으)로 로그인` : BUTTON,
          ]);
          await expectAccessible(page, `the linked accounts page (${language}, ${device})`);
          await snap(page, `upstream-linked-accounts-${language}-${device}`);
        }
      } finally {
        await context.close();
      }
    }
  });

  test('a new person signs in with another Latchkey without JavaScript @nojs', async ({ page, request }) => {
    const person = await providerPerson(request, true);
    await page.goto(`${DOWNSTREAM_URL}/login`);
    await clickUpstream(page);
    // The page the post answers with moves on by itself (a meta refresh).
    await signInAtProvider(page, person);
    await expectDownstreamProfile(page, person.email);

    await page.goto(`${DOWNSTREAM_URL}/security/accounts`);
    await expect(page.getByTestId('linked-accounts')).toContainText(person.email);
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

import type { APIRequestContext, Page } from '@playwright/test';

import { expect, makeAdmin, otherBrowser, signUp, snap, submitLogin, test } from './helpers';
import { APP_URL } from './servers';

// Latchkey as an OpenID Connect provider, with a relying party nobody here
// wrote: a Python app on Authlib (end2end/rp/relying_party.py), which reads
// the discovery document, sends the browser to sign in, trades the code
// (client_secret_basic, PKCE), verifies the ID token against the JWKS and
// calls userinfo.

const RP_PORT = 3190;
const RP_URL = `http://127.0.0.1:${RP_PORT}`;
const SECOND_RP_PORT = 3191;
const SECOND_RP_URL = `http://127.0.0.1:${SECOND_RP_PORT}`;

function rpPython(): string {
  const python = process.env.LATCHKEY_RP_PYTHON?.trim();
  if (!python) {
    throw new Error('LATCHKEY_RP_PYTHON is not set: run the suite through scripts/test.sh (tools.sh --browser installs Authlib)');
  }
  return python;
}

async function startRelyingParty(clientId: string, secret: string, port = RP_PORT): Promise<ChildProcess> {
  const script = path.join(__dirname, '..', 'rp', 'relying_party.py');
  const rp = spawn(rpPython(), [script, APP_URL, clientId, secret, String(port)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/ready`);
      return rp;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  rp.kill();
  throw new Error('the relying party did not start (see its output above)');
}

/** An administrator's API token (made with the server's create-admin). */
async function adminToken(page: Page, request: APIRequestContext): Promise<string> {
  const admin = await signUp(page);
  await makeAdmin(page, admin);
  const login = await request.post('/api/v1/auth/login', {
    data: { login: admin.email, password: admin.password },
  });
  return (await login.json()).access_token;
}

/**
 * Registers a confidential app (at `rpUrl`) the way an administrator does:
 * in the console, signed in on `page`. A mistake first, to see it said and
 * nothing typed lost; then the secret, shown once.
 */
async function registerInConsole(page: Page, name: string, rpUrl: string): Promise<{ client_id: string; client_secret: string }> {
  await page.goto('/admin/apps');
  await snap(page, 'admin-apps');
  await page.getByTestId('register-app').click();
  await expect(page).toHaveURL(/\/admin\/apps\/new$/);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Redirect URIs').fill(`http://notebook.example.com/callback`);
  await page.getByLabel('After sign-out URIs').fill(`${rpUrl}/bye`);
  await page.getByRole('button', { name: 'Register app' }).click();
  await expect(page.locator('#field-redirect_uris-error')).toContainText('Use full addresses that start with https://');
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(name);
  await expect(page.getByLabel('After sign-out URIs')).toHaveValue(`${rpUrl}/bye`);
  await snap(page, 'admin-app-new-error');
  await page.getByLabel('Redirect URIs').fill(`${rpUrl}/callback`);
  await page.getByRole('button', { name: 'Register app' }).click();

  await expect(page.getByTestId('app-name')).toHaveText(name);
  await expect(page.getByTestId('admin-done')).toHaveText('The app is registered.');
  await snap(page, 'admin-app-registered');
  const clientId = (await page.getByTestId('app-client-id').textContent()) ?? '';
  const secret = (await page.getByTestId('app-secret').textContent()) ?? '';
  expect(clientId).toMatch(/^[0-9a-f]{32}$/);
  expect(secret.length).toBeGreaterThan(30);
  // Shown once: a reload shows the app, not its secret.
  await page.reload();
  await expect(page.getByTestId('app-name')).toHaveText(name);
  await expect(page.getByTestId('app-secret')).toHaveCount(0);
  return { client_id: clientId, client_secret: secret };
}

/** Registers an app (at `rpUrl`) over the admin API. */
async function registerApp(
  request: APIRequestContext,
  token: string,
  name: string,
  rpUrl: string,
): Promise<{ client_id: string; client_secret: string }> {
  const registered = await request.post('/api/v1/admin/apps', {
    headers: { authorization: `Bearer ${token}` },
    data: {
      name,
      redirect_uris: [`${rpUrl}/callback`],
      post_logout_redirect_uris: [`${rpUrl}/bye`],
      confidential: true,
      scopes: ['openid', 'email', 'profile'],
      grant_types: ['authorization_code'],
    },
  });
  expect(registered.status()).toBe(201);
  return registered.json();
}

test('an app registered in the console signs a user in with Authlib through log-in and consent', async ({
  page,
  browser,
}) => {
  const admin = await signUp(page);
  await makeAdmin(page, admin);
  const app = await registerInConsole(page, 'Notebook', RP_URL);

  const rp = await startRelyingParty(app.client_id, app.client_secret);
  try {
    // Someone not signed in to Latchkey starts at the app.
    const user = await signUp((await otherBrowser(browser)).page);
    const { context, page: visitor } = await otherBrowser(browser);
    await visitor.goto(`${RP_URL}/login`);
    await expect(visitor).toHaveURL(`${APP_URL}/login`);
    await submitLogin(visitor, user.email, user.password);

    // After signing in: what the app asks for, and whose account.
    await expect(visitor).toHaveURL(/\/oauth\/consent\?request=/);
    await expect(visitor.getByRole('heading', { level: 1 })).toHaveText('Notebook wants to sign you in');
    await expect(visitor.getByTestId('consent-scopes')).toContainText('See your email address');
    await expect(visitor.getByText(`You are signed in as ${user.username}.`)).toBeVisible();
    await snap(visitor, 'oauth-consent');
    await visitor.getByRole('button', { name: 'Allow' }).click();

    // Back at the app, which verified the ID token and read userinfo.
    await expect(visitor).toHaveURL(new RegExp(`^${RP_URL}/callback\\?`));
    await expect(visitor.locator('#who')).toHaveText(`Signed in as ${user.email}`);

    // Asked once: the next sign-in goes straight back.
    await visitor.goto(`${RP_URL}/login`);
    await expect(visitor.locator('#who')).toHaveText(`Signed in as ${user.email}`);

    // The user takes the app's access back; its next sign-in asks again.
    await visitor.goto(`${APP_URL}/security/apps`);
    await expect(visitor.getByTestId('connected-app')).toHaveCount(1);
    await expect(visitor.getByTestId('connected-app')).toContainText('Notebook');
    await snap(visitor, 'connected-apps');
    await visitor.getByRole('button', { name: 'Remove the access of Notebook' }).click();
    await expect(visitor.getByText('Access taken back.')).toBeVisible();
    await expect(visitor.getByTestId('connected-apps-none')).toBeVisible();
    await visitor.goto(`${RP_URL}/login`);
    await expect(visitor).toHaveURL(/\/oauth\/consent\?request=/);
    await context.close();

    // Deny: the app hears access_denied.
    const { context: second, page: other } = await otherBrowser(browser);
    const someone = await signUp(other);
    await other.goto(`${RP_URL}/login`);
    await expect(other).toHaveURL(/\/oauth\/consent\?request=/);
    await other.getByRole('button', { name: 'Deny' }).click();
    await expect(other.locator('#error')).toHaveText('access_denied');
    expect(someone.email).toBeTruthy();
    await second.close();
  } finally {
    rp.kill();
  }
});

test('a request from an unknown app, or to an unregistered address, stays on Latchkey', async ({ page }) => {
  await page.goto('/oauth/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid');
  await expect(page).toHaveURL(/\/oauth\/problem\?why=unknown_app$/);
  await expect(page.getByTestId('oauth-problem')).toContainText('No app registered here sent this request');
  await snap(page, 'oauth-problem');
});

test('two apps share one Latchkey sign-in, and signing out through one ends it', async ({ page, browser, request }) => {
  const token = await adminToken(page, request);
  const first = await registerApp(request, token, 'Notebook', RP_URL);
  const second = await registerApp(request, token, 'Calendar', SECOND_RP_URL);
  const rps = [
    await startRelyingParty(first.client_id, first.client_secret),
    await startRelyingParty(second.client_id, second.client_secret, SECOND_RP_PORT),
  ];
  try {
    const { context, page: visitor } = await otherBrowser(browser);
    const user = await signUp(visitor);
    for (const [rp, name] of [
      [RP_URL, 'Notebook'],
      [SECOND_RP_URL, 'Calendar'],
    ]) {
      // Already signed in to Latchkey: straight to the consent.
      await visitor.goto(`${rp}/login`);
      await expect(visitor.getByRole('heading', { level: 1 })).toHaveText(`${name} wants to sign you in`);
      await visitor.getByRole('button', { name: 'Allow' }).click();
      await expect(visitor.locator('#who')).toHaveText(`Signed in as ${user.email}`);
    }
    // Signing out of Calendar through Latchkey ends the Latchkey session…
    await visitor.goto(`${SECOND_RP_URL}/logout`);
    await expect(visitor).toHaveURL(`${SECOND_RP_URL}/bye?state=see-you`);
    await expect(visitor.locator('#bye')).toHaveText('Signed out (see-you)');
    await visitor.goto(`${APP_URL}/profile`);
    await expect(visitor).toHaveURL(`${APP_URL}/login`);
    // …so Notebook's next sign-in asks for the password again.
    await visitor.goto(`${RP_URL}/login`);
    await expect(visitor).toHaveURL(`${APP_URL}/login`);
    await submitLogin(visitor, user.email, user.password);
    await expect(visitor.locator('#who')).toHaveText(`Signed in as ${user.email}`);
    await context.close();
  } finally {
    for (const rp of rps) rp.kill();
  }
});

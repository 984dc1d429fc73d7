import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

import { expect, makeAdmin, otherBrowser, signUp, snap, submitLogin, test } from './helpers';
import { APP_URL } from './servers';

// Latchkey as an OpenID Connect provider, with a relying party nobody here
// wrote: a Python app on Authlib (end2end/rp/relying_party.py), which reads
// the discovery document, sends the browser to sign in, trades the code
// (client_secret_basic, PKCE), verifies the ID token against the JWKS and
// calls userinfo.

const RP_PORT = 3190;
const RP_URL = `http://127.0.0.1:${RP_PORT}`;

function rpPython(): string {
  const python = process.env.LATCHKEY_RP_PYTHON?.trim();
  if (!python) {
    throw new Error('LATCHKEY_RP_PYTHON is not set: run the suite through scripts/test.sh (tools.sh --browser installs Authlib)');
  }
  return python;
}

async function startRelyingParty(clientId: string, secret: string): Promise<ChildProcess> {
  const script = path.join(__dirname, '..', 'rp', 'relying_party.py');
  const rp = spawn(rpPython(), [script, APP_URL, clientId, secret, String(RP_PORT)], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${RP_URL}/ready`);
      return rp;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  rp.kill();
  throw new Error('the relying party did not start (see its output above)');
}

test('an Authlib app signs a user in through the log-in page and consent, and verifies the tokens', async ({
  page,
  browser,
  request,
}) => {
  // An administrator registers the app over the API.
  const admin = await signUp(page);
  await makeAdmin(page, admin);
  const login = await request.post('/api/v1/auth/login', {
    data: { login: admin.email, password: admin.password },
  });
  const { access_token } = await login.json();
  const registered = await request.post('/api/v1/admin/apps', {
    headers: { authorization: `Bearer ${access_token}` },
    data: {
      name: 'Notebook',
      redirect_uris: [`${RP_URL}/callback`],
      confidential: true,
      scopes: ['openid', 'email', 'profile'],
      grant_types: ['authorization_code'],
    },
  });
  expect(registered.status()).toBe(201);
  const app = await registered.json();

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

import {
  expect,
  expectAccessible,
  makeAdmin,
  newUser,
  open,
  otherBrowser,
  signUp,
  snap,
  submitSignUp,
  test,
  uniqueName,
} from './helpers';
import type { Page } from '@playwright/test';

// The admin console's webhooks (/admin/webhooks): add an endpoint, see its
// secret once, watch a delivery to it, send it again, make a new secret,
// turn it off and delete it. The main server runs with
// WEBHOOK_ALLOW_PRIVATE=true (playwright.config.ts), so a loopback address
// is accepted; nothing listens there, so every delivery fails to connect.

/** A Standard Webhooks secret: `whsec_` and base64. */
const SECRET = /^whsec_[A-Za-z0-9+/=]{40,}$/;

/** An address on 127.0.0.1 where nothing listens, unique to one test. */
function hookUrl(): string {
  return `http://127.0.0.1:3197/hook/${uniqueName('h')}`;
}

/** The endpoint's row in the list (the page must be on /admin/webhooks). */
function row(page: Page, url: string) {
  return page.getByTestId('webhook-row').filter({ hasText: url });
}

test('an admin adds a webhook endpoint, sees its secret once and follows its deliveries', async ({ page, browser }) => {
  const admin = await signUp(page);
  await makeAdmin(page, admin);

  // The tab, between Apps and Activity log.
  await open(page, '/admin/webhooks');
  await expect(page.getByRole('heading', { name: 'Webhooks', level: 1 })).toBeVisible();
  const tabs = page.getByRole('navigation', { name: 'Admin console' }).getByRole('link');
  await expect(tabs).toHaveText(['Overview', 'Users', 'Apps', 'Webhooks', 'Activity log']);
  await expect(tabs.nth(3)).toHaveAttribute('aria-current', 'page');
  // Before any endpoint (other tests delete theirs): what webhooks are.
  if ((await page.getByTestId('webhook-row').count()) === 0) {
    await expect(page.getByTestId('webhooks-none')).toContainText('Standard Webhooks');
    await expect(page.getByRole('link', { name: 'API reference' })).toHaveAttribute('href', '/api/v1/docs');
    await snap(page, 'admin-webhooks-empty');
  }
  await expectAccessible(page, 'the webhooks list');

  // A mistake first: said next to the field, nothing typed lost.
  await page.getByTestId('add-webhook').click();
  await expect(page).toHaveURL(/\/admin\/webhooks\/new$/);
  await expect(page.getByRole('heading', { name: 'Add an endpoint', level: 1 })).toBeVisible();
  const events = page.getByRole('group', { name: 'Events to send' });
  await expect(events.getByRole('checkbox')).toHaveCount(12);
  await expect(events).toContainText('Tick none to send every event');
  await expectAccessible(page, 'the new endpoint form');
  const url = hookUrl();
  await page.getByLabel('Endpoint URL').fill('ftp://127.0.0.1/hook');
  await page.getByLabel('Description').fill('Billing service');
  await events.getByLabel('An account is created').check();
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.locator('#field-url-error')).toContainText('Use a full address');
  await expect(page.getByLabel('Endpoint URL')).toBeFocused();
  await expect(page.getByLabel('Description')).toHaveValue('Billing service');
  await expect(events.getByLabel('An account is created')).toBeChecked();
  await expectAccessible(page, 'the new endpoint form with an error');

  // Added: the secret, shown this once.
  await page.getByLabel('Endpoint URL').fill(url);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page).toHaveURL(/\/admin\/webhooks\/new\?added=ep_/);
  await expect(page.getByTestId('admin-done')).toHaveText('The endpoint is added.');
  await expect(page.getByTestId('webhook-secret-once')).toContainText('will not be shown again');
  const secret = page.getByTestId('webhook-secret');
  await expect(secret).toHaveText(SECRET);
  const first = (await secret.textContent()) ?? '';
  await snap(page, 'admin-webhook-new-secret');
  await expectAccessible(page, 'the added endpoint with its secret');
  await page.reload();
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
  await expect(page.getByTestId('webhook-secret-gone')).toBeVisible();
  await page.getByTestId('webhook-open').click();
  await expect(page).toHaveURL(/\/admin\/webhooks\/ep_[0-9a-f]+$/);
  const detail = page.url();
  await expect(page.getByTestId('webhook-url')).toHaveText(url);

  // In the list: its events and state.
  await open(page, '/admin/webhooks');
  await expect(row(page, url)).toHaveCount(1);
  await expect(row(page, url)).toContainText('Billing service');
  await expect(row(page, url)).toContainText('user.created');
  await expect(row(page, url).getByTestId('webhook-state')).toHaveText('On');
  await snap(page, 'admin-webhooks');
  await expectAccessible(page, 'the webhooks list with an endpoint');

  // Someone signs up elsewhere: a user.created delivery, which fails to
  // connect and waits to be tried again.
  const { context: theirs, page: theirPage } = await otherBrowser(browser);
  await signUp(theirPage);
  await theirs.close();
  await open(page, detail);
  const delivery = page.getByTestId('delivery-row');
  await expect(async () => {
    await page.reload();
    await expect(delivery).toHaveCount(1, { timeout: 1_000 });
    await expect(delivery.getByTestId('delivery-answer')).not.toHaveText('—', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(delivery).toContainText('user.created');
  await expect(delivery.getByTestId('delivery-status')).toHaveText(/^(Pending|Failed)$/);
  await snap(page, 'admin-webhook');
  await expectAccessible(page, "an endpoint's page with its delivery log");

  // Send again: queued once more, the same delivery.
  await delivery.getByRole('button', { name: 'Send again' }).click();
  await expect(page.getByTestId('admin-done')).toHaveText('The delivery is queued to be sent again.');
  await expect(page.getByTestId('delivery-row')).toHaveCount(1);

  // A new secret, shown once; the previous one keeps signing for a day.
  await page.getByRole('button', { name: 'Make a new secret' }).click();
  await expect(page.getByTestId('admin-done')).toContainText('keeps signing beside it for 24 hours');
  await expect(page.getByTestId('webhook-secret')).toHaveText(SECRET);
  await expect(page.getByTestId('webhook-secret')).not.toHaveText(first);
  await expect(page.getByText('Previous secret also signs until')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);

  // Turned off from its settings.
  await page.getByLabel('On: send events to this endpoint').uncheck();
  await page.getByRole('button', { name: 'Save changes' }).click();
  await expect(page.getByTestId('admin-done')).toHaveText('Changes saved.');
  await expect(page.getByTestId('webhook-state')).toHaveText('Off');
  await expect(page.getByLabel('On: send events to this endpoint')).not.toBeChecked();
  await expect(page.getByTestId('webhook-events')).toHaveText('user.created');

  // Deleting asks for the box first.
  await page.getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page.locator('#field-confirm-error')).toHaveText('Tick the box to confirm.');
  await page.getByLabel(`Yes, delete the endpoint at ${url}`).check();
  await page.getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page).toHaveURL(/\/admin\/webhooks\?deleted$/);
  await expect(page.getByTestId('admin-done')).toHaveText('The endpoint was deleted; what it had waiting will not be sent.');
  await expect(row(page, url)).toHaveCount(0);
});

test('an administrator adds a webhook endpoint and sees its secret once without JavaScript', { tag: '@nojs' }, async ({ page }) => {
  expect(test.info().project.use.javaScriptEnabled, 'this test must run with JavaScript off').toBe(false);
  const admin = newUser();
  await page.goto('/signup');
  await submitSignUp(page, admin);
  await expect(page).toHaveURL(/\/verify$/);
  await makeAdmin(page, admin);

  await page.goto('/admin/webhooks/new');
  await page.getByLabel('Endpoint URL').fill('not an address');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.locator('#field-url-error')).toContainText('Use a full address');

  // No event ticked: every event.
  const url = hookUrl();
  await page.getByLabel('Endpoint URL').fill(url);
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  await expect(page.getByTestId('webhook-url')).toHaveText(url);
  await expect(page.getByTestId('webhook-secret')).toHaveText(SECRET);
  await snap(page, 'admin-webhook-new-secret-nojs');

  await page.getByTestId('webhook-open').click();
  await expect(page.getByTestId('webhook-url')).toHaveText(url);
  await expect(page.getByTestId('webhook-events')).toHaveText('All events');
  await expect(page.getByTestId('webhook-secret')).toHaveCount(0);
  await expect(page.getByTestId('deliveries-none')).toBeVisible();
  await snap(page, 'admin-webhook-nojs');

  await page.getByRole('button', { name: 'Make a new secret' }).click();
  await expect(page.getByTestId('webhook-secret')).toHaveText(SECRET);

  await page.getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page.locator('#field-confirm-error')).toHaveText('Tick the box to confirm.');
  await page.getByLabel(`Yes, delete the endpoint at ${url}`).check();
  await page.getByRole('button', { name: 'Delete endpoint' }).click();
  await expect(page).toHaveURL(/\/admin\/webhooks\?deleted$/);
  await expect(row(page, url)).toHaveCount(0);
});

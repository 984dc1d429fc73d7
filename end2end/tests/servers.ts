// Addresses of the servers the suite starts (see webServer in
// playwright.config.ts). Shared by the config and the tests; no test code here.

/**
 * The Latchkey server under test, listening on 127.0.0.1 and reached by
 * name: browsers refuse passkeys on an IP address, and localhost is a
 * secure context without TLS.
 */
export const APP_PORT = 3100;
export const APP_URL = `http://localhost:${APP_PORT}`;

/** The same server with SIGNUP_HIDE_EXISTING=true, on a database of its own. */
export const HIDING_PORT = 3102;
export const HIDING_URL = `http://127.0.0.1:${HIDING_PORT}`;

/**
 * The same server made another product's own (fixtures/brand/branded.toml,
 * through LATCHKEY_CONFIG), on a database of its own.
 */
export const BRANDED_PORT = 3104;
export const BRANDED_URL = `http://127.0.0.1:${BRANDED_PORT}`;

/**
 * A second Latchkey that offers "Sign in with Upstream Latchkey" (the server
 * under test, as its OpenID Connect provider). Started by
 * tests/upstream.spec.ts itself, on 127.0.0.1 so its cookies never meet the
 * provider's (on localhost).
 */
export const DOWNSTREAM_PORT = 3196;
export const DOWNSTREAM_URL = `http://127.0.0.1:${DOWNSTREAM_PORT}`;

/**
 * MailDev (npm "maildev", 3.x): a real SMTP server that keeps what it receives
 * and lists it over HTTP. Both ports are bound to 127.0.0.1 only.
 */
export const MAILDEV_SMTP_PORT = 3125;
export const MAILDEV_WEB_PORT = 3180;
export const MAILDEV_URL = `http://127.0.0.1:${MAILDEV_WEB_PORT}`;
/** MailDev 3 serves its REST API under /api (2.x used the root: /email). */
export const MAILDEV_API = `${MAILDEV_URL}/api`;
export const SMTP_URL = `smtp://127.0.0.1:${MAILDEV_SMTP_PORT}`;
export const MAIL_FROM = 'Latchkey <no-reply@latchkey.test>';

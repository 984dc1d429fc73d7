"""A relying party built on Authlib (PyPI), as any Python web app would sign
its users in through an OpenID Connect provider. Latchkey's Playwright
suite (oidc.spec.ts) starts it and drives a browser through it; nothing
here knows Latchkey beyond its discovery document.

    relying_party.py ISSUER CLIENT_ID CLIENT_SECRET PORT

`/login` starts the authorization code flow (PKCE S256, a nonce, a state);
`/callback` trades the code at the token endpoint (client_secret_basic),
verifies the ID token against the provider's JWKS (signature, iss, aud,
exp, nonce) and reads userinfo, then shows who signed in. `/logout` signs
out through the provider (RP-initiated logout, with the last ID token as
the hint: a test app with one user at a time) and comes back to `/bye`.
"""

import html
import http.server
import secrets
import sys
import urllib.parse
import warnings

import requests
from authlib.integrations.requests_client import OAuth2Session

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*authlib.jose.*")
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

issuer, client_id, client_secret, port = sys.argv[1:5]
metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
if metadata["issuer"] != issuer:
    sys.exit(f"discovery names issuer {metadata['issuer']!r}, not {issuer!r}")
redirect_uri = f"http://127.0.0.1:{port}/callback"
pending = {}
last_id_token = {}


def session(**kwargs):
    return OAuth2Session(
        client_id,
        client_secret,
        scope="openid email profile",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
        **kwargs,
    )


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        try:
            if url.path == "/login":
                self.login()
            elif url.path == "/callback":
                self.callback()
            elif url.path == "/logout":
                self.logout()
            elif url.path == "/bye":
                query = urllib.parse.parse_qs(url.query)
                self.page(200, f'<p id="bye">Signed out ({html.escape(query.get("state", [""])[0])})</p>')
            else:
                self.page(404, "<p>Not here.</p>")
        except Exception as err:  # shown to the test, which fails on it
            self.page(500, f'<p id="error">{html.escape(repr(err))}</p>')

    def login(self):
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(16)
        uri, state = session().create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        pending[state] = (verifier, nonce)
        self.send_response(302)
        self.send_header("Location", uri)
        self.end_headers()

    def callback(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        if "error" in query:
            self.page(200, f'<p id="error">{html.escape(query["error"][0])}</p>')
            return
        state = query["state"][0]
        verifier, nonce = pending.pop(state)
        client = session(state=state)
        token = client.fetch_token(
            metadata["token_endpoint"],
            authorization_response=f"http://127.0.0.1:{port}{self.path}",
            code_verifier=verifier,
        )
        keys = JsonWebKey.import_key_set(requests.get(metadata["jwks_uri"], timeout=10).json())
        claims = jwt.decode(
            token["id_token"],
            keys,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": issuer}},
            claims_params={"nonce": nonce, "client_id": client_id},
        )
        claims.validate()
        info = client.get(metadata["userinfo_endpoint"]).json()
        if info["sub"] != claims["sub"]:
            raise ValueError("userinfo names another user than the ID token")
        last_id_token["value"] = token["id_token"]
        self.page(
            200,
            f'<p id="who">Signed in as {html.escape(info["email"])}</p>'
            f'<p id="sub">{html.escape(claims["sub"])}</p>',
        )

    def logout(self):
        query = urllib.parse.urlencode(
            {
                "id_token_hint": last_id_token["value"],
                "post_logout_redirect_uri": f"http://127.0.0.1:{port}/bye",
                "state": "see-you",
            }
        )
        self.send_response(302)
        self.send_header("Location", f'{metadata["end_session_endpoint"]}?{query}')
        self.end_headers()

    def page(self, status, body):
        data = f"<!doctype html><title>Relying party</title>{body}".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()

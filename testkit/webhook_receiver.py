"""A product's webhook receiver, for the tests: it checks every delivery
with the PyPI `standardwebhooks` package (a verifier nobody here wrote)
and keeps what it accepted.

    python webhook_receiver.py PORT SECRET [SECRET ...]

It listens on loopback at PORT (0: a free one) and prints `listening on
PORT`; started again on the same port it is the receiver back up.
Every POST is verified against the secrets (any may match); a verified
one is answered 204 and kept, anything else 401. Its state:

    GET  /received  the verified deliveries, in arrival order:
                    [{"id", "timestamp", "signatures", "body"}]
    GET  /rejected  how many failed verification
    POST /mode      body `ok`, `fail` (answer 500) or `redirect` (302 to
                    /elsewhere): how later deliveries are answered
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

verifiers = [Webhook(secret) for secret in sys.argv[2:]]
lock = threading.Lock()
received = []
rejected = 0
mode = "ok"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            if self.path == "/received":
                return self.answer(200, json.dumps(received).encode())
            if self.path == "/rejected":
                return self.answer(200, str(rejected).encode())
        self.answer(404)

    def do_POST(self):
        global mode, rejected
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/mode":
            with lock:
                mode = body.decode()
            return self.answer(204)
        if mode == "fail":
            return self.answer(500)
        if mode == "redirect":
            self.send_response(302)
            self.send_header("location", "/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()
            return None
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified = False
        for verifier in verifiers:
            try:
                verifier.verify(body, headers)
                verified = True
                break
            except WebhookVerificationError:
                continue
        with lock:
            if not verified:
                rejected += 1
                return self.answer(401)
            received.append(
                {
                    "id": headers.get("webhook-id"),
                    "timestamp": headers.get("webhook-timestamp"),
                    "signatures": headers.get("webhook-signature"),
                    "body": body.decode(),
                }
            )
        self.answer(204)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()

"""A tiny HTTP server standing in for the portal's enrollment endpoint (no Django, no database)."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakePortal:
    """Answers POST /api/v1/gateways/register with `answers` in turn (status, headers, body); records requests."""

    def __init__(self, answers=None):
        self.answers = list(answers or [])
        self.requests = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                portal.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers, answer = portal.next_answer(body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(json.dumps(answer).encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next_answer(self, body):
        if self.answers:
            return self.answers.pop(0)
        return 201, {}, enrollment_answer(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def enrollment_answer(body):
    return {
        "gateway_id": str(uuid.uuid4()),
        "organization": "acme",
        "name": body.get("name", ""),
        "instance_uid": body.get("instance_uid"),
        "opamp_token": "opamp-token-for-tests",
        "opamp_token_expires_at": "2027-01-01T00:00:00Z",
        "opamp_endpoints": {"ws": "ws://127.0.0.1:9/v1/opamp", "http": "http://127.0.0.1:9/v1/opamp"},
        "heartbeat_interval_seconds": 30,
    }

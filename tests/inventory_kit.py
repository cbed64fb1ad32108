"""An inventory service the replication tests start on 127.0.0.1 (standard
library only): it acknowledges each request with 200 {"ok": true}, or fails
it with 503 while `failing` is above zero (counting down), or with the
statuses queued in `script` first (each answered once, in order), and records
every request (path, headers, JSON body, time, the status it answered)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Inventory:
    """An inventory service: answers 200 {"ok": true}, or 503 while `failing`
    is above zero (counting down), and records every request."""

    def __init__(self):
        self.failing = 0
        self.script: list[int] = []  # statuses answered first, one a request
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        svc = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with svc.lock:
                    status = svc.script.pop(0) if svc.script else 503 if svc.failing > 0 else 200
                    if status == 503 and svc.failing > 0:
                        svc.failing -= 1
                    fail = status != 200
                    svc.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": json.loads(body), "at": time.monotonic(),
                                         "status": status})
                out = b"" if status == 204 else b'{"error": "down"}' if fail else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that went away (a killed server)
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [r["body"] for r in self.requests]

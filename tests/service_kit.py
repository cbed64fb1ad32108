"""A payment-like HTTP service the service-call tests start on 127.0.0.1
(standard library only): it charges, fails, stalls and recovers on demand,
and remembers every request it got (path, headers, body)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class PaymentService:
    """`mode` decides the next answers: "ok" (200 with a receipt), "fail"
    (500), "decline" (402), "stall" (answer nothing until `release()` or
    `stall_s` passed), "garbage" (200, not JSON). A charge with an
    Idempotency-Key seen before answers the first receipt again."""

    def __init__(self, mode: str = "ok", stall_s: float = 30.0):
        self.mode = mode
        self.stall_s = stall_s
        self.requests: list[dict] = []
        self.receipts: dict[str, dict] = {}  # idempotency key -> receipt
        self.lock = threading.Lock()
        self._released = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                service._handle(self, body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that went away (a killed server)
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self._released.set()

    def stall(self) -> None:
        self._released.clear()
        self.mode = "stall"

    def _handle(self, h, body: bytes) -> None:
        key = h.headers.get("Idempotency-Key")
        record = {"path": h.path, "headers": dict(h.headers), "body": json.loads(body or b"null"),
                  "at": time.monotonic()}
        with self.lock:
            self.requests.append(record)
            mode = self.mode
        if mode == "stall":
            self._released.wait(self.stall_s)
            with self.lock:
                mode = self.mode if self.mode != "stall" else "ok"
        if mode == "fail":
            return self._send(h, 500, b'{"error": "the card network is down"}')
        if mode == "decline":
            return self._send(h, 402, b"card declined")
        if mode == "garbage":
            return self._send(h, 200, b"<html>not json</html>")
        with self.lock:
            receipt = self.receipts.get(key)
            if receipt is None:
                receipt = {"charge_id": f"ch_{len(self.receipts) + 1}", "status": "paid",
                           "cents": (record["body"] or {}).get("cents", 0)}
                if key:
                    self.receipts[key] = receipt
        self._send(h, 200, json.dumps(receipt).encode())

    @staticmethod
    def _send(h, status: int, data: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client gave up (a timeout): nothing to tell
            pass

    def charges(self, path: str = "/charge") -> list[dict]:
        with self.lock:
            return [r for r in self.requests if r["path"].endswith(path)]

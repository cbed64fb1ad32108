"""A scripted Chat Completions server the agent tests start on 127.0.0.1
(standard library only; imported as `model_kit`).

Each POST to /v1/chat/completions takes the next step of `script` (the last
one repeats): a reply (`reply(...)`, `calls(...)`), or a misbehaviour:
`("status", code)`, `("slow", seconds, step)` (wait, then answer the step),
`("hold", step)` (wait until `release()`, then answer the step), `("garbage",)`
(200, not JSON), `("huge", n_bytes)` (200, a JSON body of that size). It keeps
every request's JSON body (`requests`).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def reply(text: str = "", tokens: int = 10) -> dict:
    return {"id": "cmpl", "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": tokens // 2, "completion_tokens": tokens - tokens // 2, "total_tokens": tokens}}


def calls(*tools, tokens: int = 10) -> dict:
    """A reply calling tools: each (id, name, arguments as a dict)."""
    out = reply("", tokens)
    out["choices"][0]["finish_reason"] = "tool_calls"
    out["choices"][0]["message"]["tool_calls"] = [
        {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for cid, name, args in tools]
    return out


class ModelServer:
    def __init__(self, script: list):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self._released = threading.Event()
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                model._handle(self, body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a client that went away (a killed server)
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self._released.set()

    def waiting(self) -> int:
        """Requests received so far."""
        with self.lock:
            return len(self.requests)

    def _handle(self, h, body: bytes) -> None:
        with self.lock:
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": json.loads(body or b"null")})
            step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        self._answer(h, step)

    def _answer(self, h, step) -> None:
        if isinstance(step, dict):
            return self._send(h, 200, json.dumps(step).encode())
        kind = step[0]
        if kind == "status":
            return self._send(h, step[1], b'{"error": {"message": "scripted failure"}}')
        if kind == "slow":
            time.sleep(step[1])
            return self._answer(h, step[2])
        if kind == "hold":
            self._released.wait(60)
            return self._answer(h, step[1])
        if kind == "garbage":
            return self._send(h, 200, b"<html>not json</html>")
        if kind == "huge":
            return self._send(h, 200, json.dumps({"pad": "x" * step[1]}).encode())
        raise AssertionError(f"unknown step {step!r}")

    @staticmethod
    def _send(h, status: int, data: bytes) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the caller went away (a timeout, a killed server)
            pass


__all__ = ["ModelServer", "calls", "reply"]

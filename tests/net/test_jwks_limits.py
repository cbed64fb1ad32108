"""A JWKS URL's limits (spec/protocol.md 8.5): a key set larger than
MAX_KEY_TEXT bytes and a provider slower than the fetch timeout are each a
failed fetch (AuthorityError), never a hang or an unbounded read."""
from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from advm.net.authorities import MAX_KEY_TEXT, AuthorityError, fetch_jwks


class Provider(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(2)
            body = b'{"keys": []}'
        elif self.path == "/big":
            body = json.dumps({"keys": [], "pad": "x" * (MAX_KEY_TEXT + 1)}).encode()
        else:
            body = json.dumps({"keys": [], "pad": "x" * (MAX_KEY_TEXT - 100)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_key_set_just_under_the_size_limit_is_read(provider):
    # read whole and parsed: what stops it is its content (no keys), not its size
    with pytest.raises(AuthorityError, match="no signature keys"):
        fetch_jwks(provider + "/fits")


def test_a_key_set_past_the_size_limit_is_a_failed_fetch(provider):
    with pytest.raises(AuthorityError, match="larger than"):
        fetch_jwks(provider + "/big")


def test_a_provider_slower_than_the_timeout_is_a_failed_fetch(provider):
    with pytest.raises(AuthorityError, match="Timeout"):
        fetch_jwks(provider + "/slow", timeout=0.3)

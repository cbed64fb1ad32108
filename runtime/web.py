"""@web handlers in the runtime (spec/language.md 4.28, spec/runtime.md 9).

`route` finds the handler of a request (its method and path) among the
module's meta["web"] and converts the path's parameters to their types;
`response` turns the WebResponse a handler returned (as JSON) into what HTTP
sends: status, headers, body. Both are pure: the server (net/web.py) and the
document (runtime/living.py) share them, so replaying a logged `web` input
routes it exactly as it was routed live.
"""
from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qsl, unquote

MAX_PATH = 2048       # characters of a request's path (without the query)
MAX_SEGMENTS = 64     # segments of a request's path
MAX_QUERY = 4096      # characters of a request's query string (@parameters)
MAX_PARAMETERS = 64   # names in it
MAX_HEADERS = 64      # headers a handler sees (@headers)
MAX_HEADER_CHARS = 8192  # characters of one header's value as a handler sees it
# Headers a handler never sees: the credentials the server itself reads. A put or
# delete is a logged input, and a token or a session cookie has no place in a log.
HIDDEN_HEADERS = frozenset({"authorization", "cookie"})
INT_RANGE = (-(2 ** 31), 2 ** 31 - 1)
LONG_RANGE = (-(2 ** 63), 2 ** 63 - 1)
_INTEGER = re.compile(r"-?[0-9]{1,20}")
_DECIMAL = re.compile(r"-?[0-9]{1,308}(?:\.[0-9]{1,308})?(?:[eE][-+]?[0-9]{1,3})?")

# Specificity of a segment kind: lower wins when several handlers match.
_RANK = {"fixed": 0, "int": 1, "long": 2, "double": 3, "string": 4, "rest": 5}

CONTENT_TYPES = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "xml": "application/xml; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "error": "text/plain; charset=utf-8",
}
METHODS = ("get", "put", "delete", "options")
# The header by which a response names the asset whose bytes are its body: the server
# replaces it with the bytes (net/web.py); it never reaches a client.
ASSET_HEADER = "X-Advm-Asset"


class WebError(Exception):
    """A request no handler answers, or one that does not fit: `status` is the
    HTTP status it gets (400, 404, 405, 414)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def parse_query(query: str) -> dict[str, str]:
    """@parameters of a request: its query string (after the `?`, not
    percent-decoded yet) as {name: value}, values as text, a name given more
    than once keeping its last value. WebError 414 past MAX_QUERY characters,
    400 past MAX_PARAMETERS names or for text that is not UTF-8."""
    if len(query) > MAX_QUERY:
        raise WebError(414, f"the query string is longer than {MAX_QUERY} characters")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=MAX_PARAMETERS)
    except UnicodeDecodeError:
        raise WebError(400, "the query string is not UTF-8 once percent-decoded") from None
    except ValueError:
        raise WebError(400, f"the query string has more than {MAX_PARAMETERS} parameters") from None
    return dict(pairs)


def request_headers(pairs) -> dict[str, str]:
    """@headers of a request: its headers [(name, value)] as {lowercased name:
    value} (a repeated header's values joined by ", "), without HIDDEN_HEADERS.
    WebError 431 past MAX_HEADERS names or a value past MAX_HEADER_CHARS."""
    out: dict[str, str] = {}
    for name, value in pairs:
        name = name.lower()
        if name in HIDDEN_HEADERS:
            continue
        out[name] = f"{out[name]}, {value}" if name in out else value
        if len(out[name]) > MAX_HEADER_CHARS:
            raise WebError(431, f"the header {name} is longer than {MAX_HEADER_CHARS} characters")
    if len(out) > MAX_HEADERS:
        raise WebError(431, f"the request has more than {MAX_HEADERS} headers")
    return out


def request_values(parameters, headers) -> tuple[dict, dict]:
    """(@parameters, @headers) as the handler gets them, from a request or a
    logged web input (None: none); WebError 400 when they are not text to text
    within the limits above."""
    out = []
    for what, value, limit in (("parameters", parameters, MAX_PARAMETERS), ("headers", headers, MAX_HEADERS)):
        if value is None:
            out.append({})
            continue
        if not isinstance(value, dict) or len(value) > limit or not all(
                isinstance(k, str) and isinstance(v, str) and len(v) <= max(MAX_QUERY, MAX_HEADER_CHARS)
                for k, v in value.items()):
            raise WebError(400, f"a web input's {what} are at most {limit} texts by name")
        out.append(dict(value))
    return out[0], out[1]


def split_path(path: str) -> list[str]:
    """The percent-decoded segments of `path` (no query string); "/" is []."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise WebError(400, "a path starts with /")
    if len(path) > MAX_PATH:
        raise WebError(414, f"the path is longer than {MAX_PATH} characters")
    raw = path[1:].split("/") if path != "/" else []
    if len(raw) > MAX_SEGMENTS:
        raise WebError(414, f"the path has more than {MAX_SEGMENTS} segments")
    try:
        return [unquote(s, errors="strict") for s in raw]
    except UnicodeDecodeError:
        raise WebError(400, "the path is not UTF-8 once percent-decoded") from None


def _convert(kind: str, text: str):
    """The value of one typed segment, or None when it is not of that type."""
    if kind == "string":
        return text if text else None
    if kind in ("int", "long"):
        if not _INTEGER.fullmatch(text):
            return None
        v = int(text)
        lo, hi = INT_RANGE if kind == "int" else LONG_RANGE
        return v if lo <= v <= hi else None
    if kind == "double":
        if not _DECIMAL.fullmatch(text):
            return None
        v = float(text)
        return v if math.isfinite(v) else None
    return None


def _match(pattern: list, segments: list[str]):
    """(rank, args) when `segments` match the handler's `pattern`, else None."""
    args, rank = [], []
    for i, (kind, text, type_) in enumerate(pattern):
        if kind == "rest":
            args.append("/".join(segments[i:]))
            rank.append(_RANK["rest"])
            return tuple(rank), args
        if i >= len(segments):
            return None
        seg = segments[i]
        if kind == "fixed":
            if seg != text:
                return None
            rank.append(_RANK["fixed"])
            continue
        v = _convert(type_, seg)
        if v is None:
            return None
        args.append(v)
        rank.append(_RANK[type_])
    if len(pattern) != len(segments):
        return None
    return tuple(rank), args


def route(web: list, method: str, path: str):
    """(handler meta, path arguments) of the request; raises WebError: 404
    when no handler of any method matches the path, 405 when only handlers of
    other methods do. Among matching handlers the most specific wins (its
    first segment that differs is fixed before int, long, double, string,
    rest)."""
    segments = split_path(path)
    best = None
    others = []
    for entry in web:
        got = _match(entry["path"], segments)
        if got is None:
            continue
        if entry["method"] != method:
            others.append(entry["method"])
            continue
        if best is None or got[0] < best[0]:
            best = (got[0], entry, got[1])
    if best is None:
        if others:
            raise WebError(405, f"{path} answers {', '.join(sorted(set(others)))}, not {method}")
        raise WebError(404, f"the document has no @web {method} handler for {path}")
    return best[1], best[2]


def response(value: dict, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """(status, headers, body) of a WebResponse given as JSON (empty maybes
    absent or null); language.md 4.28 gives the rules."""
    def get(name):
        v = value.get(name)
        return None if v is None else v

    headers: list[tuple[str, str]] = []
    status, body = 200, b""
    asset = get("asset")
    if isinstance(asset, dict) and asset.get("id"):
        # an uploaded file: the server sends its bytes from the blob store (net/web.py)
        headers.append(("Content-Type", str(asset.get("type") or "application/octet-stream")))
        headers.append((ASSET_HEADER, str(asset["id"])))
    elif asset is not None:
        status = 404
        headers.append(("Content-Type", CONTENT_TYPES["error"]))
        body = b"no such asset\n"
    for name, kind in CONTENT_TYPES.items() if asset is None else ():
        v = get(name)
        if v is None:
            continue
        if name == "json":
            body = json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        else:
            body = str(v).encode("utf-8")
        if name == "error":
            status = 500
        headers.append(("Content-Type", kind))
        break
    else:
        redirect = get("redirect") if asset is None else None
        if redirect is not None:
            status = 302
            headers.append(("Location", str(redirect)))
        elif get("status") is None and asset is None:
            status = 204 if method != "options" else 200
    st = get("status")
    if isinstance(st, int) and 100 <= st <= 599:
        status = st
    if get("cors") is True:
        headers.append(("Access-Control-Allow-Origin", "*"))
        if method == "options":
            headers.append(("Access-Control-Allow-Methods", "GET, PUT, POST, DELETE, OPTIONS"))
            headers.append(("Access-Control-Allow-Headers", "Authorization, Content-Type"))
    ttl = get("cache_ttl_seconds")
    if isinstance(ttl, int) and ttl >= 1 and method == "get":
        headers.append(("Cache-Control", f"max-age={ttl}"))
    else:
        headers.append(("Cache-Control", "no-store"))
    return status, headers, body


__all__ = ["ASSET_HEADER", "CONTENT_TYPES", "HIDDEN_HEADERS", "MAX_HEADERS", "MAX_PARAMETERS", "MAX_PATH",
           "MAX_QUERY", "MAX_SEGMENTS", "METHODS", "WebError", "parse_query", "request_headers", "request_values",
           "response", "route", "split_path"]

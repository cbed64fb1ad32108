"""The JavaScript client (clients/js/) as the server's pages serve it: every
page hook made by `static_pages` (the dev page, and `advm run --static DIR`)
answers `/advm/NAME.js` with the client's module NAME.js, unless the folder
it serves has a file of that path itself. So a page served by advm imports
the client with `import { Client } from "/advm/index.js"`.

An installed advm carries the client as package data (advm/net/js/, mapped by
setup.py); a source checkout, editable installs included, reads clients/js/.
"""
from __future__ import annotations

from pathlib import Path

PREFIX = "/advm/"
_HERE = Path(__file__).resolve().parent
CLIENT_DIR = next((d for d in (_HERE / "js", _HERE.parent / "clients" / "js")
                   if (d / "index.js").is_file()), None)


def client_page(path: str):
    """(200, type, bytes) for `/advm/NAME.js`, a module of the client; else None."""
    path = path.split("?", 1)[0]
    if CLIENT_DIR is None or not path.startswith(PREFIX):
        return None
    name = path[len(PREFIX):]
    if not name.endswith(".js") or "/" in name or "\\" in name or name.startswith("."):
        return None
    target = CLIENT_DIR / name
    if not target.is_file():
        return None
    return 200, "text/javascript; charset=utf-8", target.read_bytes()

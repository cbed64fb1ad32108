"""`advm token NAME`: print a signed identity token (an HS256 JWT) for a principal.

The key is the store directory's token.key (made on first use), the same one
`advm serve` checks tokens with, so a token minted here works against a
server started on the same store.
"""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, UsageError, add_json_flag, out_json

DEFAULT_TTL = 7 * 24 * 3600


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="PRINCIPAL",
                   help="who the token speaks for: agent@authority, or a bare agent")
    p.add_argument("--store", default=None, metavar="DIR",
                   help="the store directory whose key signs it (default ./.advm)")
    p.add_argument("--ttl", type=float, default=DEFAULT_TTL, metavar="SECONDS",
                   help=f"how long the token is valid (default {DEFAULT_TTL}, a week); "
                        "0 for no expiry (accepted by loopback servers only)")
    p.add_argument("--admin", action="store_true",
                   help="the token also opens the server's admin methods (the dev console's "
                        "document list, logs, previews and replay; spec/protocol.md 8.11)")
    add_json_flag(p, "the token and its principal")


def run(args: argparse.Namespace) -> ExitCode:
    from ..net.tokens import TokenError, Tokens
    from ..store import DEFAULT_DIR
    from .storeargs import is_url

    if args.ttl < 0:
        raise UsageError("--ttl is 0 (no expiry) or a number of seconds")
    try:
        # a PostgreSQL store's hosts keep their key in ./.advm (spec/store.md 20.1)
        where = DEFAULT_DIR if is_url(args.store) else (args.store or DEFAULT_DIR)
        tokens = Tokens.from_store_dir(where)
        token = tokens.mint(args.name, ttl=args.ttl or None, admin=args.admin)
    except TokenError as e:
        raise UsageError(e.message) from None
    except OSError as e:
        raise UsageError(f"cannot use the key in {where}: {e.strerror or e}") from None
    if args.json:
        out_json({"token": token, "principal": tokens.verify(token), "ttl": args.ttl or None,
                  "admin": args.admin})
    else:
        print(token)
    return ExitCode.OK


COMMAND = Command("token", "print a signed identity token for a principal", add_arguments, run)

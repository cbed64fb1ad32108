"""`advm authority`: the identity providers whose JWTs a server accepts.

    advm authority add NAME --pem FILE | --jwks FILE | --jwks-url URL [--issuer I] [--audience A]
    advm authority list
    advm authority remove NAME
    advm authority revoke NAME --jti X | --subject S [--before TIME]

The table is `authorities.json` in the store directory, beside the built-in
key; a server on that store reads it again when it changes (no restart).
A token signed by NAME's keys, whose `iss` is NAME (or I), names `sub@NAME`.
"""
from __future__ import annotations

import argparse
import json
import time
from datetime import datetime

from .base import Command, ExitCode, UsageError, add_json_flag, out_json


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = sub.add_parser("add", help="register an authority's public keys (or replace them)")
    a.add_argument("name", metavar="NAME", help="the authority: principals are sub@NAME")
    src = a.add_mutually_exclusive_group(required=True)
    src.add_argument("--pem", metavar="FILE", help="one public key in PEM (RSA, EC P-256, Ed25519)")
    src.add_argument("--jwks", metavar="FILE", help="a JWKS file: keys chosen by kid")
    src.add_argument("--jwks-url", metavar="URL", help="a JWKS URL, fetched now and again by the server")
    a.add_argument("--issuer", metavar="I", help="the iss its tokens carry (default NAME)")
    a.add_argument("--audience", metavar="A", help="the aud its tokens must carry (default: not checked)")
    ls = sub.add_parser("list", help="the registered authorities")
    r = sub.add_parser("remove", help="forget an authority: its tokens are refused")
    r.add_argument("name", metavar="NAME")
    v = sub.add_parser("revoke", help="refuse one token (--jti) or a subject's tokens issued before a time")
    v.add_argument("name", metavar="NAME", help="a registered authority, or advm for the built-in key's tokens "
                                               "(--subject is then the full principal, agent@authority)")
    v.add_argument("--jti", metavar="X", help="the jti of the token to refuse")
    v.add_argument("--subject", metavar="S", help="the sub whose tokens to refuse")
    v.add_argument("--before", metavar="TIME", default=None,
                   help="with --subject: tokens issued before TIME (ISO 8601 or seconds; default now)")
    for q in (a, ls, r, v):
        q.add_argument("--store", default=None, metavar="DIR", help="the store directory (default ./.advm)")
        add_json_flag(q, "what was stored, or the list")


def _when(text: str | None) -> float:
    if text is None:
        return time.time()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--before {text!r} is not ISO 8601 or a number of seconds") from None
    if t.tzinfo is None:
        raise UsageError(f"--before {text!r} needs a time zone (Z or +HH:MM)")
    return t.timestamp()


def run(args: argparse.Namespace) -> ExitCode:
    from ..net import authorities as au
    from ..store import DEFAULT_DIR

    store = args.store or DEFAULT_DIR
    try:
        if args.action == "add":
            au.check_name(args.name)
            keys, url = None, None
            if args.pem:
                keys = [au.pem_to_jwk(_read(args.pem))]
            elif args.jwks:
                try:
                    data = json.loads(_read(args.jwks))
                except ValueError:
                    raise UsageError(f"{args.jwks}: not JSON") from None
                keys = au.parse_jwks(data)
            else:
                url = args.jwks_url
                if not url.startswith(("https://", "http://")):
                    raise UsageError("--jwks-url is an http(s) URL")
                keys = au.fetch_jwks(url)
            au.add(store, args.name, keys=keys, jwks_url=url, issuer=args.issuer, audience=args.audience)
            result = [x for x in au.listing(store) if x["name"] == args.name][0]
            if not args.json:
                print(f"authority {args.name}: {len(keys)} key{'s' if len(keys) != 1 else ''} "
                      f"(kid {', '.join(str(k.get('kid')) for k in keys)}); tokens with iss "
                      f"{result['issuer']!r} name sub@{args.name}")
        elif args.action == "list":
            result = au.listing(store)
            if not args.json:
                for x in result:
                    print(f"{x['name']}\tiss={x['issuer']}\taud={x['audience'] or '-'}\t"
                          f"{x['jwks_url'] or 'keys'}: {len(x['kids'])}\trevoked: "
                          f"{x['revoked_jti']} jti, {x['revoked_subjects']} subjects")
        elif args.action == "remove":
            au.remove(store, args.name)
            result = {"removed": args.name}
            if not args.json:
                print(f"authority {args.name} removed")
        else:
            if (args.jti is None) == (args.subject is None):
                raise UsageError("revoke takes --jti X or --subject S [--before TIME]")
            if args.before is not None and args.subject is None:
                raise UsageError("--before goes with --subject")
            before = _when(args.before) if args.subject is not None else None
            au.revoke(store, args.name, jti=args.jti, subject=args.subject, before=before)
            result = {"authority": args.name, "jti": args.jti, "subject": args.subject, "before": before}
            if not args.json:
                print(f"revoked in {args.name}: " + (f"jti {args.jti}" if args.jti else
                      f"{args.subject}'s tokens issued before {int(before)}"))
    except au.AuthorityError as e:
        raise UsageError(str(e)) from None
    if args.json:
        out_json(result)
    return ExitCode.OK


def _read(path: str) -> bytes:
    from ..net.authorities import MAX_KEY_TEXT

    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_TEXT + 1)
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from None
    if len(data) > MAX_KEY_TEXT:
        raise UsageError(f"{path}: larger than {MAX_KEY_TEXT} bytes")
    return data


COMMAND = Command("authority", "register identity providers whose JWTs the server accepts; revoke tokens",
                  add_arguments, run, success="success: the table was changed, or listed")

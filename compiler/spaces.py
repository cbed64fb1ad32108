"""Documents that create and send to documents (spec/language.md 4.32).

`space NAME;` says that this document creates and sends to documents of the
program served as space NAME. The compiler reads that program's source (its
abstract syntax only: never its checking, so two programs may name each other)
and makes three things of it:

- the messages the contract needs, copied into this document: @construct's
  message and each complete channel's message, and every message and enum
  their fields name. A message of the same name declared here must have the
  same fields (names and written types), else E0533: one name, one shape;
- a service-like object `NAME` (docinfo.ServiceInfo with `space` set) whose
  methods are `create` (its input @construct's message, or none) and one per
  complete channel (its input the channel's message); both give a
  `result<SpaceReply>`;
- `SpaceReply { string space; string key; }`, added like @web's WebResponse.

Where the other program's source comes from is the caller's: `resolve(name)`
gives (text, filename) or None. By default (`sibling_resolver`) it is the file
beside this one whose space name (the file name without its suffix, lower-cased,
characters other than [a-z0-9_-] as '-', as net/spaces.py names spaces) is NAME.
"""
from __future__ import annotations

import os
from typing import Callable

from . import ast

SPACE_REPLY = "SpaceReply"
CREATE = "create"
# The method name reserved for creation: a channel of that name cannot be sent to
# with this syntax (E0533 says so when it is called).
MAX_SPACES = 64  # `space` declarations in one document

Resolve = Callable[[str], "tuple[str, str] | None"]


def space_name_of(path: str) -> str:
    stem = os.path.splitext(os.path.basename(os.fspath(path).rstrip("/")))[0].lower()
    name = "".join(c if c.isalnum() and c.isascii() or c in "_-" else "-" for c in stem)
    return name.lstrip("_-")[:32] or "space"


def sibling_resolver(filename: str) -> Resolve:
    """The default: programs beside `filename`, by their space name."""
    folder = os.path.dirname(os.path.abspath(filename)) if filename and not filename.startswith("<") else None

    def resolve(name: str):
        if folder is None:
            return None
        try:
            entries = sorted(os.listdir(folder))
        except OSError:
            return None
        for entry in entries:
            if entry.endswith(".adb") and space_name_of(entry) == name:
                path = os.path.join(folder, entry)
                try:
                    with open(path, encoding="utf-8") as f:
                        return f.read(), path
                except (OSError, UnicodeDecodeError):
                    return None
        return None

    return resolve


def files_resolver(paths, fallback: Resolve | None = None) -> Resolve:
    """Programs given by path (`advm run a.adb b.adb`), each under its space
    name, or {space name: path}."""
    named = dict(paths) if isinstance(paths, dict) else {space_name_of(p): p for p in paths}

    def resolve(name: str):
        path = named.get(name)
        if path is None:
            return fallback(name) if fallback is not None else None
        try:
            with open(path, encoding="utf-8") as f:
                return f.read(), path
        except (OSError, UnicodeDecodeError):
            return None

    return resolve


def reply_decl() -> ast.MessageDecl:
    fields = [ast.FieldDecl(n, ast.TypeRef("string"), ast.Privacy("public", explicit=False))
              for n in ("space", "key")]
    decl = ast.MessageDecl(SPACE_REPLY, fields)
    decl.synthetic_space = ""
    return decl


def type_text(ts) -> str:
    if isinstance(ts, ast.ArrayTypeRef):
        return type_text(ts.element) + "[]"
    if ts is None:
        return "?"
    return ts.name + (f"<{', '.join(type_text(a) for a in ts.args)}>" if ts.args else "")


def shape(decl) -> list:
    """What must agree between two declarations of one message or enum."""
    if isinstance(decl, ast.EnumDecl):
        return [(i.name, i.value) for i in decl.items]
    return [(f.name, type_text(f.type)) for f in decl.fields]


def names_in(ts, out: set) -> None:
    if isinstance(ts, ast.ArrayTypeRef):
        names_in(ts.element, out)
    elif ts is not None:
        out.add(ts.name)
        for a in ts.args:
            names_in(a, out)


class Contract:
    """What `space NAME;` found in program NAME: its @construct message name
    (None: it takes none), its complete channels {name: message name}, and
    the message and enum declarations they need."""

    def __init__(self, name: str, program: ast.Program, filename: str):
        self.name = name
        self.filename = filename
        types = {d.name: d for d in program.decls if isinstance(d, (ast.MessageDecl, ast.EnumDecl))}
        self.construct: str | None = None
        self.channels: dict[str, str] = {}
        roots = []
        for d in program.decls:
            if isinstance(d, ast.Handler) and d.event == "construct" and d.param_type is not None \
                    and isinstance(d.param_type, ast.TypeRef) and self.construct is None:
                self.construct = d.param_type.name
                roots.append(d.param_type.name)
            elif isinstance(d, ast.Channel) and d.body is not None and isinstance(d.message, ast.TypeRef):
                self.channels.setdefault(d.name, d.message.name)
                roots.append(d.message.name)
        self.decls: dict[str, ast.Decl] = {}
        todo = [r for r in roots if r in types]
        while todo:
            n = todo.pop()
            if n in self.decls:
                continue
            d = self.decls[n] = types[n]
            if isinstance(d, ast.MessageDecl):
                found: set = set()
                for f in d.fields:
                    names_in(f.type, found)
                todo += [x for x in sorted(found) if x in types and x not in self.decls]


def load_contracts(program: ast.Program, resolve: Resolve | None, parse) -> tuple[dict, list]:
    """{space name: Contract} for each `space` declaration whose program was
    found, and [(SpaceDecl, problem)] for the others."""
    found, problems = {}, []
    for d in program.decls:
        if not isinstance(d, ast.SpaceDecl) or d.name in found:
            continue
        got = resolve(d.name) if resolve is not None else None
        if got is None:
            problems.append((d, f"no program is served as space '{d.name}' here"))
            continue
        text, filename = got
        other, diags = parse(text, filename)
        if other is None:
            problems.append((d, f"program '{d.name}' ({filename}) does not parse"))
            continue
        found[d.name] = Contract(d.name, other, filename)
    return found, problems


__all__ = ["CREATE", "Contract", "SPACE_REPLY", "files_resolver", "load_contracts", "reply_decl",
           "shape", "sibling_resolver", "space_name_of", "type_text"]

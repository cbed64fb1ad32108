"""Questions an editor asks about a checked document: what is at this offset,
what type has it, where was it declared (the language server, advm/commands/lsp.py).

Read-only over what the parser and the checker built: spans on the tree,
`ty` and `ref` on expressions, `DocumentInfo`'s declarations. Nothing here
resolves a name the checker did not; where the tree has no answer (a type
name, a `#label`, a channel's name in a declaration) the word under the cursor
is looked up in the document's declarations.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ast
from . import types as T
from .source import Span


@dataclass(frozen=True)
class Found:
    span: Span  # what the answer is about (to highlight)
    text: str


def _word_at(text: str, offset: int) -> tuple[str, Span] | None:
    """The identifier, `#label` or `@name` around `offset`."""
    n = len(text)
    if offset > n:
        return None
    if offset < n and text[offset] in "#@":
        offset += 1
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    end = offset
    while end < n and (text[end].isalnum() or text[end] == "_"):
        end += 1
    if start == end:
        return None
    if start > 0 and text[start - 1] in "#@":
        start -= 1
    return text[start:end], Span(start, end)


def nodes_at(program: ast.Program, offset: int) -> list[ast.Node]:
    """Every node whose span holds `offset`, outermost first."""
    path: list[ast.Node] = []
    level: list = [program]
    while level:
        nxt = None
        for node in level:
            if isinstance(node, ast.Node) and node.span.start <= offset < max(node.span.end, node.span.start + 1):
                nxt = node
                break
        if nxt is None:
            break
        path.append(nxt)
        # the smallest child that holds the offset wins
        level = sorted(ast.children(nxt), key=lambda c: c.span.end - c.span.start)
    return path


def _in(span: Span, offset: int) -> bool:
    return span.start <= offset < span.end or (span.start == span.end == offset)


def _decl_span(decl) -> Span | None:
    if decl is None:
        return None
    span = getattr(decl, "name_span", None)
    if span is not None and span.end > span.start:
        return span
    return decl.span


def _struct_of(t) -> str | None:
    while isinstance(t, (T.MaybeType, T.ListType, T.ArrayType, T.TableType)):
        t = getattr(t, "element", None) or getattr(t, "inner", None) or getattr(t, "record", None)
    if isinstance(t, (T.RecordType, T.MessageType)):
        return t.name
    return None


def _ref_definition(ref) -> Span | None:
    target = getattr(ref, "target", None)
    if target is None:
        return None
    node = getattr(target, "node", None)  # LocalVar
    if node is not None:
        if isinstance(node, ast.VarDecl) and node.name_span.end > node.name_span.start:
            return node.name_span
        return node.span
    return _decl_span(getattr(target, "decl", None))


def definition(program: ast.Program, info, text: str, offset: int) -> Span | None:
    """Where the thing named at `offset` is declared, or None."""
    word = _word_at(text, offset)
    path = nodes_at(program, offset)
    for i, node in reversed(list(enumerate(path))):
        if isinstance(node, ast.AnonField) and node.span.start <= offset < node.span.start + len(node.name):
            # {rank: 1} written into a table or a record field: the record's field
            for outer in reversed(path[:i]):
                if isinstance(outer, (ast.Ingest, ast.Assign)):
                    owner = _struct_of(outer.target.ty)
                    s = info.struct(owner) if owner else None
                    if s is not None and node.name in s.fields:
                        return _decl_span(s.fields[node.name].decl)
                    break
        if isinstance(node, ast.FieldAccess) and _in(node.name_span, offset):
            owner = _struct_of(node.obj.ty)
            s = info.struct(owner) if owner else None
            if s is not None:
                member = s.fields.get(node.name) or s.formulas.get(node.name) or s.methods.get(node.name)
                if member is not None:
                    return _decl_span(member.decl)
            if isinstance(node.obj.ty, T.ChannelType):
                return None
        ref = getattr(node, "ref", None)
        if isinstance(node, (ast.Name, ast.Call)) and ref is not None:
            span = _ref_definition(ref)
            if span is not None:
                return span
        if isinstance(node, (ast.Name, ast.Call, ast.FieldAccess)):
            break
    if word is None:
        return None
    name = word[0]
    if name.startswith("#"):
        state = info.states.get(name[1:])
        return _decl_span(state.decl) if state else None
    for table in (info.records, info.messages, info.enums, info.channels, info.fields,
                  info.formulas, info.functions, info.policies):
        item = table.get(name)
        if item is not None and getattr(item, "decl", None) is not None:
            return _decl_span(item.decl)
    for s in (*info.records.values(), *info.messages.values()):
        for table in (s.fields, s.formulas, s.methods, s.policies):
            item = table.get(name)
            if item is not None and getattr(item, "decl", None) is not None and any(
                    isinstance(n, (ast.RecordDecl, ast.MessageDecl)) and n.name == s.name for n in path):
                return _decl_span(item.decl)
    return None


def hover(program: ast.Program, info, text: str, offset: int) -> Found | None:
    """The type of what is at `offset`: an expression the checker typed, or a declared name."""
    path = nodes_at(program, offset)
    for node in reversed(path):
        if isinstance(node, ast.Expr) and node.ty is not None and not isinstance(node.ty, T.ErrorType):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.FieldAccess) and _in(node.func.name_span, offset):
                pass  # the method's result, below through the call
            if isinstance(node.ty, T.LibraryType):
                return Found(node.span, f"library {node.ty}")
            what = _kind_of(node)
            return Found(node.span, f"{what}{text[node.span.start:node.span.end]}: {node.ty}")
        if isinstance(node, ast.Decl):
            found = _declared(node, info, offset)
            if found is not None:
                return found
        if isinstance(node, ast.VarDecl) and _in(node.name_span, offset):
            t = _local_type(node, path)
            return Found(node.name_span, f"(local) {node.name}: {t}" if t else f"(local) {node.name}")
    word = _word_at(text, offset)
    if word and word[0].startswith("#") and word[0][1:] in info.states:
        return Found(word[1], f"state {word[0]}")
    if word and word[0] in info.records:
        return Found(word[1], f"record {word[0]}")
    if word and word[0] in info.messages:
        return Found(word[1], f"message {word[0]}")
    if word and word[0] in info.enums:
        return Found(word[1], f"enum {word[0]} {{ {', '.join(info.enums[word[0]].values)} }}")
    return None


def _kind_of(node: ast.Expr) -> str:
    ref = getattr(node, "ref", None)
    kind = getattr(ref, "kind", None)
    if kind in ("local", "field", "record_field", "formula", "bubble", "channel"):
        return f"({kind.replace('_', ' ')}) "
    return ""


def _local_type(node: ast.VarDecl, path) -> str | None:
    if node.value is not None and node.value.ty is not None:
        return str(node.value.ty)
    if node.type is not None:
        return _type_text(node.type)
    return None


def _type_text(t) -> str:
    if isinstance(t, ast.ArrayTypeRef):
        return _type_text(t.element) + "[]"
    if t.args:
        return f"{t.name}<{', '.join(_type_text(a) for a in t.args)}>"
    return t.name


def _declared(node: ast.Decl, info, offset: int) -> Found | None:
    span = getattr(node, "name_span", None)
    if span is None or not _in(span, offset):
        return None
    name = getattr(node, "name", "")
    if isinstance(node, ast.FieldDecl):
        return Found(span, f"(field) {name}: {_type_text(node.type)}")
    if isinstance(node, (ast.Formula, ast.Bubble)):
        f = info.formulas.get(name)
        kind = "bubble" if isinstance(node, ast.Bubble) else "formula"
        return Found(span, f"({kind}) {name}: {f.type}" if f is not None and f.type else f"({kind}) {name}")
    if isinstance(node, ast.Function):
        params = ", ".join(f"{_type_text(p.type)} {p.name}" for p in node.params)
        result = f" -> {_type_text(node.returns)}" if node.returns else ""
        return Found(span, f"{node.kind} {name}({params}){result}")
    if isinstance(node, ast.Channel):
        return Found(span, f"channel {name}: {_type_text(node.message)}")
    if isinstance(node, ast.StateBlock):
        return Found(span, f"state #{name}")
    if isinstance(node, ast.RecordDecl):
        return Found(span, f"record {name}")
    if isinstance(node, ast.MessageDecl):
        return Found(span, f"message {name}")
    if isinstance(node, ast.EnumDecl):
        return Found(span, f"enum {name}")
    return Found(span, f"{type(node).__name__.lower()} {name}")

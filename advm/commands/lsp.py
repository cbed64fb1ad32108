"""`advm lsp`: a language server for Adama documents on stdin/stdout (pygls).

Each time a document is opened or changed it is compiled (parsed, checked and
linted, as `advm check` does) and its diagnostics, errors and warnings, are
published with the ranges of their spans. Hover shows the type the checker
gave what is under the cursor; go to definition jumps to the declaration of a
field, local, record, message, enum, channel, state (#label), function,
procedure, method, formula or policy (compiler/locate.py answers both);
formatting gives the canonical layout of `advm fmt`.
"""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, UsageError


def make_server():
    """The language server (a pygls LanguageServer with advm's features)."""
    from lsprotocol import types as L
    from pygls.lsp.server import LanguageServer

    from .. import __version__
    from .. import compiler
    from ..compiler import locate
    from ..compiler.format import FormatError, format_source
    from ..compiler.lints import lint

    server = LanguageServer("advm", __version__, text_document_sync_kind=L.TextDocumentSyncKind.Full)
    compiled: dict[str, object] = {}  # uri -> the Compilation of its latest text

    def span_range(doc, span) -> L.Range:
        return L.Range(doc.client_position_at_offset(span.start),
                       doc.client_position_at_offset(max(span.end, span.start)))

    def publish(uri: str) -> None:
        doc = server.workspace.get_text_document(uri)
        comp = compiler.compile_source(doc.source, doc.filename or uri)
        lint(comp)
        compiled[uri] = comp
        diagnostics = []
        for d in comp.diagnostics:
            message = d.message + (f"\nhelp: {d.hint}" if d.hint else "")
            diagnostics.append(L.Diagnostic(
                range=span_range(doc, d.span),
                message=message,
                severity=L.DiagnosticSeverity.Error if d.severity == "error" else L.DiagnosticSeverity.Warning,
                code=d.code,
                source="advm",
            ))
        server.text_document_publish_diagnostics(
            L.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=doc.version))

    @server.feature(L.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls, params: L.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls, params: L.DidChangeTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(L.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls, params: L.DidCloseTextDocumentParams) -> None:
        compiled.pop(params.text_document.uri, None)
        server.text_document_publish_diagnostics(
            L.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    def checked(uri: str):
        comp = compiled.get(uri)
        if comp is None or comp.program is None or comp.info is None:
            return None, None
        return comp, server.workspace.get_text_document(uri)

    @server.feature(L.TEXT_DOCUMENT_HOVER)
    def hover(ls, params: L.HoverParams) -> L.Hover | None:
        comp, doc = checked(params.text_document.uri)
        if comp is None:
            return None
        offset = doc.offset_at_position(params.position)
        found = locate.hover(comp.program, comp.info, comp.source.text, offset)
        if found is None:
            return None
        return L.Hover(contents=L.MarkupContent(kind=L.MarkupKind.Markdown,
                                                value=f"```adama\n{found.text}\n```"),
                       range=span_range(doc, found.span))

    @server.feature(L.TEXT_DOCUMENT_DEFINITION)
    def definition(ls, params: L.DefinitionParams) -> L.Location | None:
        comp, doc = checked(params.text_document.uri)
        if comp is None:
            return None
        offset = doc.offset_at_position(params.position)
        span = locate.definition(comp.program, comp.info, comp.source.text, offset)
        if span is None:
            return None
        return L.Location(uri=params.text_document.uri, range=span_range(doc, span))

    @server.feature(L.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls, params: L.DocumentFormattingParams) -> list[L.TextEdit] | None:
        doc = server.workspace.get_text_document(params.text_document.uri)
        try:
            new = format_source(doc.source)
        except FormatError:
            return None  # syntax errors: the diagnostics already say where
        if new == doc.source:
            return []
        whole = L.Range(L.Position(0, 0), doc.client_position_at_offset(len(doc.source)))
        return [L.TextEdit(range=whole, new_text=new)]

    return server


def run(args: argparse.Namespace) -> ExitCode:
    try:
        import pygls  # noqa: F401
    except ImportError:
        raise UsageError("advm lsp needs pygls: pip install 'advm[lsp]'") from None
    make_server().start_io()
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stdio", action="store_true",
                   help="talk LSP on stdin/stdout (the default and only transport; "
                        "accepted because editors pass it)")


COMMAND = Command(
    "lsp",
    "a language server on stdin/stdout: diagnostics as you type, hover types, go to definition, "
    "formatting",
    add_arguments,
    run,
    success="the editor ended the session (shutdown, exit)",
)

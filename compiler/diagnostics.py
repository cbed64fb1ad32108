"""One diagnostic model, several renderers.

Every stage returns `Diagnostic`s; none prints. A diagnostic has a stable code
and name from `CODES` (the one table of them, documented in spec/language.md),
a message, a span and an optional hint. `render_text` gives the ruff/rustc
shape a person reads; `to_json` gives the machine shape.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .source import NOSPAN, Source, Span

# code -> name. Ranges: E01xx syntax, E02xx names and scopes, E03xx types,
# E04xx statements and control flow, E05xx document structure, E09xx not
# supported yet; W05xx are warnings about the document's structure
# (compiler/lints.py). Codes are stable: never renumber, only add.
CODES: dict[str, str] = {
    # syntax
    "E0101": "syntax-error",
    "E0102": "unterminated-comment",
    "E0103": "unterminated-string",
    "E0104": "invalid-number",
    "E0105": "reserved-word",
    # names and scopes
    "E0201": "unknown-name",
    "E0202": "unknown-type",
    "E0203": "unknown-field",
    "E0204": "duplicate-definition",
    "E0205": "unknown-function",
    "E0206": "unknown-state",
    "E0207": "unknown-enum-value",
    "E0208": "unknown-channel",
    "E0209": "unknown-method",
    "E0210": "unknown-policy",
    "E0211": "shadowed-name",
    "E0212": "duplicate-field",
    "E0213": "not-available-here",
    "E0214": "bad-earlier-name",
    # types
    "E0301": "type-mismatch",
    "E0302": "bad-operand",
    "E0303": "not-callable",
    "E0304": "wrong-argument-count",
    "E0305": "not-a-maybe",
    "E0306": "not-iterable",
    "E0307": "not-a-table",
    "E0308": "not-a-record",
    "E0309": "bad-type-argument",
    "E0310": "not-assignable",
    "E0311": "condition-not-bool",
    "E0312": "cannot-infer",
    "E0313": "bad-anonymous-object",
    "E0314": "not-a-future",
    "E0315": "bad-channel-use",
    "E0316": "bad-index",
    "E0317": "readonly-write",
    "E0318": "impure-function",
    "E0319": "bad-aggregate",
    "E0320": "bad-conversion",
    "E0321": "bad-message-field",
    "E0322": "constant-out-of-range",
    "E0330": "bad-service-call",
    # statements and control flow
    "E0401": "missing-return",
    "E0402": "return-outside-function",
    "E0403": "break-outside-loop",
    "E0404": "continue-outside-loop",
    "E0405": "return-value-mismatch",
    "E0406": "unreachable-code",
    "E0407": "abort-not-allowed",
    "E0408": "await-not-allowed",
    "E0409": "transition-not-allowed",
    "E0410": "duplicate-case",
    "E0411": "debug-format",
    "E0412": "destroy-not-allowed",
    # document structure
    "E0501": "duplicate-handler",
    "E0502": "bad-handler-signature",
    "E0503": "bad-cron-schedule",
    "E0504": "bad-static-property",
    "E0505": "bad-privacy",
    "E0506": "formula-cycle",
    "E0507": "bad-table-element",
    "E0508": "bad-index-hint",
    "E0509": "bad-channel-message",
    "E0512": "infinite-record",
    "E0513": "empty-enum",
    "E0514": "incomplete-dispatch",
    "E0530": "bad-service",
    "E0531": "bad-web",
    "E0532": "bad-asset",
    "E0533": "bad-space",
    "E0540": "bad-agent",
    "E0541": "unbounded-agent",
    "E0542": "tool-writes-document",
    "E0543": "tool-writes-outside-mutables",
    # document structure, warnings (compiler/lints.py: advm check, a serving advm run)
    "W0510": "nobody-can-connect",
    "W0511": "nobody-can-create",
    # not supported yet
    "E0901": "not-supported-yet",
    "E0999": "internal-error",
}


@dataclass(slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span = NOSPAN
    hint: str | None = None
    severity: str = "error"
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return CODES[self.code]


def error(code: str, message: str, span: Span = NOSPAN, hint: str | None = None) -> Diagnostic:
    if code not in CODES:  # a typo here would print a wrong code forever
        raise KeyError(f"unknown diagnostic code {code}")
    return Diagnostic(code, message, span, hint)


def sort_key(d: Diagnostic) -> tuple[int, int, str]:
    return (d.span.start, d.span.end, d.code)


def render_text(d: Diagnostic, source: Source) -> str:
    """`doc.adb:12:7: error[E0203] (unknown-field): message`, the line, carets, help."""
    line, col = source.line_col(d.span.start)
    end_line, end_col = source.line_col(d.span.end)
    text = source.line_text(line)
    gutter = str(line)
    pad = " " * len(gutter)
    if end_line == line:
        width = max(1, end_col - col)
    else:
        width = max(1, len(text) - col + 1)
    # Tabs keep their width so the caret lands under the right character.
    lead = "".join("\t" if ch == "\t" else " " for ch in text[: col - 1])
    out = [
        f"{source.filename}:{line}:{col}: {d.severity}[{d.code}] ({d.name}): {d.message}",
        f"{pad} |",
        f"{gutter} | {text}",
        f"{pad} | {lead}{'^' * width}",
    ]
    for note in d.notes:
        out.append(f"{pad} = note: {note}")
    if d.hint:
        out.append(f"{pad} = help: {d.hint}")
    return "\n".join(out)


def to_json(d: Diagnostic, source: Source) -> dict:
    line, col = source.line_col(d.span.start)
    end_line, end_col = source.line_col(d.span.end)
    return {
        "code": d.code,
        "name": d.name,
        "severity": d.severity,
        "message": d.message,
        "hint": d.hint,
        "filename": source.filename,
        "location": {"row": line, "column": col},
        "end_location": {"row": end_line, "column": end_col},
    }

"""`advm fmt` and compiler/format.py: the canonical layout (spec/syntax.md, "Canonical form").

The formatter only moves white space, so every example that compiles must
compile to the same module after formatting, position tables aside.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.cli import main
from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.compiler.format import FormatError, format_source, tokenize

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([*ROOT.glob("examples/**/*.adb"), *ROOT.glob("spec/cases/**/*.adb")])
IDS = [str(p.relative_to(ROOT)) for p in DOCUMENTS]


def module_without_positions(text: str, filename: str):
    comp = compile_source(text, filename)
    if not comp.ok:
        return None
    try:
        m = build_module(comp)
    except Exception:  # a document the code generator refuses is compared by its checks only
        return None
    return (
        [(f.name, f.params, f.result, f.nregs, f.code, f.kint, f.kdbl, repr(f.kobj))
         for f in m.functions],
        repr(m.records), repr(m.hosts), m.document, repr(m.meta),
    )


def test_examples_and_cases_are_found():
    assert len(DOCUMENTS) > 100


@pytest.mark.parametrize("path", DOCUMENTS, ids=IDS)
def test_formatting_keeps_meaning_and_is_idempotent(path):
    text = path.read_text()
    try:
        once = format_source(text)
    except FormatError:
        # a document with syntax errors is left as it is
        assert compile_source(text, path.name).program is None
        return
    assert format_source(once) == once
    assert [t.text for t in tokenize(once)] == [t.text for t in tokenize(text)]
    before = compile_source(text, path.name)
    after = compile_source(once, path.name)
    assert [(d.code, d.severity) for d in after.diagnostics] == \
        [(d.code, d.severity) for d in before.diagnostics]
    if before.ok:
        assert module_without_positions(once, path.name) == module_without_positions(text, path.name)


def test_layout_rules():
    src = (
        "// header\n\n\n"
        "enum   Color {Red,Green}\n"
        "record R { public int x; /* kept */ public string s = \"a\"; }\n"
        "public int n=1+2*3 ;  // trailing\n"
        "table<R>_rs;\n"
        "function f(int a,int b)->int{if(a<b){return -a;}else{return b- -a;}}\n"
        "procedure g() { switch (n) { case 1: n = 2; break; default: n = -1; } }\n"
        "procedure h() { do { n++; } while (n < 3); _rs <- {x:1, s: \"y\"}; }\n"
        "public formula xs = iterate _rs\n   where x > 0\n   order by x;\n"
    )
    assert format_source(src) == (
        "// header\n\n"
        "enum Color { Red, Green }\n"
        "record R {\n"
        "  public int x; /* kept */\n"
        "  public string s = \"a\";\n"
        "}\n"
        "public int n = 1 + 2 * 3; // trailing\n"
        "table<R> _rs;\n"
        "function f(int a, int b) -> int {\n"
        "  if (a < b) {\n"
        "    return -a;\n"
        "  } else {\n"
        "    return b - -a;\n"
        "  }\n"
        "}\n"
        "procedure g() {\n"
        "  switch (n) {\n"
        "    case 1:\n"
        "      n = 2;\n"
        "      break;\n"
        "    default:\n"
        "      n = -1;\n"
        "  }\n"
        "}\n"
        "procedure h() {\n"
        "  do {\n"
        "    n++;\n"
        "  } while (n < 3);\n"
        "  _rs <- {x: 1, s: \"y\"};\n"
        "}\n"
        "public formula xs = iterate _rs\n"
        "  where x > 0\n"
        "  order by x;\n"
    )


def test_a_case_block_opens_on_its_label_line():
    src = "procedure p() { switch (n) { case 1: { n = 2; break; } case 2: // two\n n = 1; } }\n"
    assert format_source(src) == (
        "procedure p() {\n"
        "  switch (n) {\n"
        "    case 1: {\n"
        "      n = 2;\n"
        "      break;\n"
        "    }\n"
        "    case 2: // two\n"
        "      n = 1;\n"
        "  }\n"
        "}\n"
    )


def test_comments_are_all_kept():
    src = ("/* a\n   block */\nint x; // one\n// own line\nprocedure p() {\n"
           "  // inside\n  x = 1; /* after */\n  /* before */ x = 2;\n}\n")
    out = format_source(src)
    comments = [t.text for t in tokenize(src) if "comment" in t.kind]
    assert [t.text for t in tokenize(out) if "comment" in t.kind] == comments
    assert "int x; // one\n// own line\n" in out
    assert "  // inside\n  x = 1; /* after */\n  /* before */ x = 2;\n" in out


def test_syntax_errors_are_refused():
    with pytest.raises(FormatError, match="syntax errors"):
        format_source("int x; /* never ends")
    with pytest.raises(FormatError, match="syntax errors"):
        format_source("record A {\n  int x;\n\nrecord B { int y; }\n")


# The examples with their white space shaken up (spaces added or dropped, a
# line indented anew, more blank lines): the layout must not change, since it
# depends only on the tokens, on where lines break and on where blank lines are.
_EXAMPLES = [p for p in DOCUMENTS if p.parent.name == "examples" or p.parent.name == "seeds"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_EXAMPLES), st.data())
def test_round_trip_whatever_the_spacing(path, data):
    text = path.read_text()
    toks = tokenize(text)
    pieces = []
    for i, t in enumerate(toks):
        if i:
            gap = text[toks[i - 1].end:t.start]
            lines = gap.count("\n")
            if toks[i - 1].kind == "linecomment" and not lines:
                lines = 1
            if lines >= 2:
                choices = [gap, "\n\n", "\n  \n\n    "]
            elif lines == 1:
                choices = [gap, "\n", " \n      "]
            else:
                choices = [gap] + ([" ", "   "] if gap else [])
            pieces.append(data.draw(st.sampled_from(choices)))
        pieces.append(text[t.start:t.end])
    shaken = "".join(pieces)
    assert format_source(shaken) == format_source(format_source(text))


def test_cli_prints_checks_and_writes(tmp_path, capsys):
    messy = tmp_path / "messy.adb"
    messy.write_text("int   x ;\nprocedure p() { x = 1; }\n")
    os.chmod(messy, 0o640)
    clean = tmp_path / "clean.adb"
    clean.write_text("int x;\n")
    assert main(["fmt", str(messy)]) == 0
    assert capsys.readouterr().out == "int x;\nprocedure p() {\n  x = 1;\n}\n"

    assert main(["fmt", "--check", str(messy), str(clean)]) == 1
    err = capsys.readouterr().err
    assert f"{messy}: would reformat" in err and str(clean) + ":" not in err
    assert main(["fmt", "--check", str(clean)]) == 0
    capsys.readouterr()

    assert main(["fmt", "--write", str(tmp_path)]) == 0
    assert messy.read_text() == "int x;\nprocedure p() {\n  x = 1;\n}\n"
    assert messy.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean.adb", "messy.adb"]
    assert main(["fmt", "--check", str(tmp_path)]) == 0


def test_cli_cannot_format(tmp_path, capsys):
    bad = tmp_path / "bad.adb"
    bad.write_text("int x; /* never ends\n")
    assert main(["fmt", str(bad)]) == 1
    assert "cannot format" in capsys.readouterr().err
    assert main(["fmt", "--check", str(bad)]) == 1
    assert main(["fmt", str(tmp_path / "missing.adb")]) == 2


def test_a_pumped_message_stays_an_object():
    # `@pump {..} into c;` takes an anonymous message: its braces are an object, not a block.
    src = "message M { int n; }\nchannel give(M m) {}\ntest t { @pump {n: 3} into give; }\n"
    out = format_source(src)
    assert "  @pump {n: 3} into give;\n" in out
    assert format_source(out) == out


def test_a_template_is_kept_as_written():
    # A template's text (language.md 4.26) is one token: its spaces, line breaks and inner
    # backquotes are its meaning, and it ends its declaration.
    text = "`html`<p>Hi,  {name}!</p>\n  <p>a `code` span</p>`html`"
    src = f"template welcome:   {text}\npublic int x;\ntemplate brief: ``Hi``  template other: `t`x`t`\n"
    out = format_source(src)
    assert f"template welcome: {text}\npublic int x;\n" in out
    assert "template brief: ``Hi``\ntemplate other: `t`x`t`\n" in out
    assert format_source(out) == out
    with pytest.raises(FormatError):
        format_source("template open: `t`never closed\n")


def test_an_agents_tools_start_their_own_lines_after_their_description():
    text = ('agent A {\nmax_tool_rounds = 2;\nmutable int n;\n@description ("d")\n    mutating tool<M, M> t {\n'
            'n = 1;\nreturn {};\n}\n}\n')
    assert format_source(text) == ('agent A {\n  max_tool_rounds = 2;\n  mutable int n;\n  @description("d")\n'
                                   '  mutating tool<M, M> t {\n    n = 1;\n    return {};\n  }\n}\n')

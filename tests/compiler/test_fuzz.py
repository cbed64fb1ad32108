"""Fuzzing the front end: whatever the text, the compiler answers with
diagnostics and the CLI with exit 1 (or 0), never an exception or traceback.

Bounded and derandomized so CI sees the same inputs on every run; a failure
prints the input, and hypothesis shrinks it first.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.compiler import Compilation, compile_source
from advm.compiler.diagnostics import CODES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = sorted((ROOT / "examples").rglob("*.adb"))
CASE_FILES = sorted((ROOT / "spec" / "cases").rglob("*.adb"))

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,  # derandomized runs replay themselves; keep CI's tree clean
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

KEYWORDS = """
record message enum table channel function procedure readonly aborts public private
viewer_is use_policy formula bubble policy int long double string bool principal label
maybe list map future date datetime time timespan dynamic if else while do for foreach in
switch case default break continue return abort transition invoke assert let var auto
iterate where order by asc desc limit offset shuffle true false test create invent
maximum_history daily hourly monthly service replication agent session fetch decide choose
await size delete @construct @load @connected @disconnected @delete @cron @static @destroy
@debug @who @no_one @maybe @convert @asset @can_attach @web Time Random String Math Document
""".split()

PUNCTUATION = """
{ } ( ) [ ] < > ; , . : :: ? = == != <= >= + - * / % && || ! ++ -- += -= *= <- -> # @ ~ ^ &
| $ \\ `
""".split()

ODDITIES = [
    '"text"', '"unterminated', '"esc\\"aped"', "'c'", "/* comment */", "/* open",
    "// line comment\n", "0", "42", "-7", "3.14", "1e9", "2147483648", "9999999999999999999L",
    "1L", "0x1F", "1.", ".5", "\t", "\r\n", "\x00", "é", "名前", "\ufeff", "🙂",
]

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
tokens = st.one_of(
    st.sampled_from(KEYWORDS),
    st.sampled_from(PUNCTUATION),
    st.sampled_from(ODDITIES),
    identifiers,
    st.integers(-(2**70), 2**70).map(str),
)
separators = st.sampled_from([" ", " ", "\n", "", "\t"])


@st.composite
def token_soup(draw) -> str:
    parts = draw(st.lists(st.tuples(tokens, separators), max_size=60))
    return "".join(tok + sep for tok, sep in parts)


@st.composite
def mutant(draw) -> str:
    """An example document with a few random edits, the kind a person makes
    halfway through typing: spans cut, doubled, swapped, stray tokens, a cut-off end."""
    assert EXAMPLE_FILES and CASE_FILES, "nothing to mutate under examples/ and spec/cases/"
    # Half from the examples: the cases are many but small, and big documents
    # reach the deeper corners of the checker.
    pick = st.sampled_from(EXAMPLE_FILES) | st.sampled_from(CASE_FILES)
    text = draw(pick).read_text(encoding="utf-8")

    def span():
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 80)))
        return i, j

    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "truncate"]))
        if op == "delete":
            i, j = span()
            text = text[:i] + text[j:]
        elif op == "duplicate":
            i, j = span()
            text = text[:j] + text[i:j] + text[j:]
        elif op == "swap":
            i, j = span()
            k, m = span()
            if j <= k:
                text = text[:i] + text[k:m] + text[j:k] + text[i:j] + text[m:]
        elif op == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(tokens) + text[i:]
        else:
            text = text[: draw(st.integers(0, len(text)))]
    return text


def assert_answers_with_diagnostics(text: str) -> Compilation:
    c = compile_source(text, "fuzz.adb")
    assert isinstance(c, Compilation)
    for d in c.diagnostics:
        assert d.code in CODES, d
        assert d.severity in ("error", "warning"), d
        assert 0 <= d.span.start <= d.span.end <= len(text), d
        assert d.message.strip(), d
    # The renderers must cope with whatever spans the stages produced.
    c.render()
    json.dumps(c.to_json())
    if c.program is None:
        assert not c.ok, "no program and no error: the parser failed silently"
    return c


@settings(FUZZ, max_examples=60)
@given(token_soup())
def test_token_soup_never_raises(text):
    assert_answers_with_diagnostics(text)


@settings(FUZZ, max_examples=80)
@given(mutant())
def test_mutated_examples_never_raise(text):
    assert_answers_with_diagnostics(text)


@pytest.fixture(scope="module")
def fuzz_file(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.adb"


# The fixtures are reused across examples on purpose: the file is rewritten
# for each one and capture is reset inside the `cli` runner.
@settings(FUZZ, max_examples=50, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutant(), token_soup()))
def test_cli_answers_bad_input_with_exit_1_and_a_diagnostic(cli, fuzz_file, text):
    fuzz_file.write_text(text, encoding="utf-8")
    r = cli("check", fuzz_file)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err
    assert r.out == ""
    last = r.err.splitlines()[-1]
    if r.code == 1:
        assert "error[E" in r.err
        # `N errors`, and `, N warnings` when advm check's W05xx lints fire too.
        assert re.fullmatch(rf"{re.escape(str(fuzz_file))}: \d+ errors?(, \d+ warnings?)?",
                            last), last
    else:
        assert r.code == 0, r.err
        assert last.startswith(f"{fuzz_file}: ok"), last


# Hand-picked inputs that tend to break recursive-descent parsers and
# renderers, in a real child process. Deep but well-formed nesting may compile
# or be refused with a diagnostic; it may not crash.
NASTY = {
    # name: (text, definitely an error)
    "deep-parens": ("public int x = " + "(" * 3000 + "1" + ")" * 3000 + ";\n", False),
    "deep-unclosed": ("public int x = " + "(" * 3000 + "\n", True),
    "deep-blocks": ("procedure p() {" + "{" * 2000 + "}" * 2000 + "}\n", False),
    "deep-types": ("public " + "list<" * 1500 + "int" + ">" * 1500 + " x;\n", False),
    "nul-bytes": ("record R {\x00 int x; }\n", True),
    "lone-brace": ("}\n", True),
    "long-line": ("public int x = " + " + ".join(["1"] * 4000) + " +;\n", True),
    "only-comment-open": ("/*", True),
    "only-string-open": ('"', True),
    "record-garbage": ("record { ;;; }\n", True),
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_nasty_inputs_never_crash_a_child_process(advm_proc, tmp_path, name):
    text, is_error = NASTY[name]
    path = tmp_path / f"{name}.adb"
    path.write_text(text, encoding="utf-8")
    r = advm_proc("check", path)
    assert "Traceback" not in r.err and "internal error" not in r.err, r.err[-2000:]
    assert r.code in ((1,) if is_error else (0, 1)), r.err[-2000:]
    if r.code == 1:
        assert "error[E" in r.err

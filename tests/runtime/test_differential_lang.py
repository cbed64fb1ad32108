"""Language-level differential tests: hypothesis writes random Adama expression
programs over int, long, double, bool and string, the compiler and the VM run
them, and a Python evaluator of the DOCUMENTED semantics (spec/language.md
2.3, 3.1, 3.2, 3.4, 3.10, 5.2-5.6, library.md's Math.toInt) must agree.

The generators stay separate per result type so that one disagreement does not
hide the others. Every generated node is a pair (Adama text, evaluator); the
evaluator reads an environment holding the function's parameters and the
temporaries that statements hoisted in front of the `return` set: `if (m as v)`
unwrapping, and locals updated by `+=`, `-=`, `*=`, `++`, `--` (5.7, 6.2).
Generated code is pure, so hoisting changes nothing observable.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from runkit import program

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1

# derandomize: the same examples every run -- for a given set of loaded modules,
# since Hypothesis also draws constants it finds in local modules' source, so a
# run of this file alone and a whole-suite run try different programs.
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    # No shrinking: every attempt compiles a program, so shrinking one
                    # failure took a minute; the message prints the failing function and
                    # arguments, and the pinned tests below give minimal cases.
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- the documented semantics


def wrap(x: int, bits: int) -> int:
    """Two's complement wrap (3.1: int and long arithmetic wraps)."""
    half = 1 << (bits - 1)
    return ((x + half) % (1 << bits)) - half


def tmod(x: int, y: int) -> int:
    """Remainder with the dividend's sign (5.2: truncated division, as in C and Java)."""
    r = abs(x) % abs(y)
    return -r if x < 0 else r


def spec_double_eq(x: float, y: float) -> bool:
    """3.10: exactly equal, or both finite and `abs(a - b) <= 1e-9 * max(1,
    abs(a), abs(b))`; NaN equals nothing."""
    if x == y:
        return True
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def spec_double_text(x: float) -> str:
    """5.6: the shortest round-tripping text, spelled as Python's repr, with
    the non-finite values spelled `Infinity`, `-Infinity`, `NaN`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def spec_text(ty: str, v) -> str:
    if ty == "double":
        return spec_double_text(v)
    if ty == "bool":
        return "true" if v else "false"
    return str(v)  # int, long: decimal; string: itself


BITS = {"int": 32, "long": 64}
NUMERIC = ("int", "long", "double")


def wider(a: str, b: str) -> str:
    """3.2: int -> long -> double."""
    return max(a, b, key=NUMERIC.index)


def widen(v, ty: str):
    return float(v) if ty == "double" else v


# ---------------------------------------------------------------- leaves

INT_EDGES = [0, 1, -1, 2, -2, 7, -7, 3, 46341, 65536, INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1]
LONG_EDGES = [0, 1, -1, 7, -7, 2**31, -(2**31) - 1, 2**32, 3037000500, 2**53 + 1, LONG_MAX, LONG_MIN,
              LONG_MAX - 1]
DOUBLE_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 2.5, 1e-10, 1e16, 1e21, 1e-7, 123.456,
                2147483648.0, 9.223372036854776e18, 1e308, 1.7976931348623157e308, 5e-324]

INTS = st.one_of(st.sampled_from(INT_EDGES), st.integers(INT_MIN, INT_MAX))
LONGS = st.one_of(st.sampled_from(LONG_EDGES), st.integers(LONG_MIN, LONG_MAX))
DOUBLES = st.one_of(st.sampled_from(DOUBLE_EDGES), st.floats(allow_nan=False, allow_infinity=False))

# The function's parameters: values arrive at run time, so nothing folds them.
PARAMS = [("i", "int"), ("j", "int"), ("l", "long"), ("m", "long"), ("x", "double"), ("y", "double"),
          ("p", "bool")]
SIGNATURE = ", ".join(f"{ty} {name}" for name, ty in PARAMS)
# `x` may also be NaN or an infinity (literals cannot be); `y` stays finite.
PARAM_VALUES = st.tuples(INTS, INTS, LONGS, LONGS,
                         st.one_of(st.sampled_from(DOUBLE_EDGES), st.floats()), DOUBLES, st.booleans())


# Binding levels of spec/language.md 5.1 (a lower number binds tighter); the
# printer writes only the parentheses these levels require, so the parser's
# precedence and grouping are under test too.
ATOM, POSTFIX, UNARY, MUL, ADD, ORDER, EQUAL, AND, XOR, OR, COND = range(11)
LEVEL = {"*": MUL, "/": MUL, "%": MUL, "+": ADD, "-": ADD, "<": ORDER, "<=": ORDER, ">": ORDER,
         ">=": ORDER, "==": EQUAL, "!=": EQUAL, "&&": AND, "^^": XOR, "||": OR}


class Node(NamedTuple):
    text: str
    fn: Callable  # env -> value (None for an empty maybe)
    level: int


def under(node: Node, limit: int) -> str:
    """The node's text, parenthesised unless it binds at least as tight as `limit`."""
    return node.text if node.level <= limit else f"({node.text})"


def binary(a: Node, op: str, b: Node, fn) -> Node:
    level = LEVEL[op]
    # Left to right (5.1): a left operand of the same level needs no parentheses, a right one does.
    return Node(f"{under(a, level)} {op} {under(b, level - 1)}", fn, level)


def prefix(op: str, a: Node, fn) -> Node:
    text = under(a, UNARY)
    if op == "-" and text.startswith("-"):
        text = f"({text})"  # `--x` would be a decrement
    return Node(f"{op}{text}", fn, UNARY)


def method(receiver: Node, call: str, fn) -> Node:
    return Node(f"{under(receiver, POSTFIX)}.{call}", fn, POSTFIX)


def literal(ty: str, v) -> Node:
    """A constant; a negative one is `-` on a literal, which the checker folds (2.3)."""
    if ty == "bool":
        text, level = ("true" if v else "false"), ATOM
    elif ty == "double":  # copysign: -0.0 is written `-0.0`
        negative = math.copysign(1, v) < 0
        text, level = (f"-{abs(v)!r}", UNARY) if negative else (repr(v), ATOM)
    else:
        suffix = "L" if ty == "long" else ""
        text, level = (f"-{-v}{suffix}", UNARY) if v < 0 else (f"{v}{suffix}", ATOM)
    return Node(text, lambda env: v, level)


# ---------------------------------------------------------------- the generator


class Gen:
    """Draws one typed expression as a Node; `if (m as v)` forms and locals go
    to `stmts` as (text, effect on the environment)."""

    def __init__(self, draw, budget: int):
        self.draw = draw
        self.stmts: list[tuple[str, Callable]] = []
        self.count = 0
        self.budget = budget  # nodes left, so programs stay small

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def fresh(self) -> int:
        self.count += 1
        return self.count

    def expr(self, ty: str, depth: int) -> Node:
        self.budget -= 1
        if depth <= 0 or self.budget <= 0 or self.draw(st.integers(0, 4)) == 0:
            return self.leaf(ty)
        node = getattr(self, "node_" + ty)(depth - 1)
        if self.draw(st.integers(0, 9)) == 0:  # now and then a redundant pair
            return Node(f"({node.text})", node.fn, ATOM)
        return node

    def leaf(self, ty: str) -> Node:
        names = [n for n, t in PARAMS if t == ty]
        if ty == "string":
            s = self.pick(["", "a", "x y", "-"])
            return Node(f'"{s}"', lambda env: s, ATOM)
        if names and self.draw(st.booleans()):
            name = self.pick(names)
            return Node(name, lambda env: env[name], ATOM)
        v = self.draw({"int": INTS, "long": LONGS, "double": DOUBLES, "bool": st.booleans()}[ty])
        return literal(ty, v)

    # --- pieces shared by the numeric types

    def numeric_pair(self, result: str, depth: int):
        """Two operands whose wider type is `result` (mixed operands widen, 3.2)."""
        allowed = NUMERIC[: NUMERIC.index(result) + 1]
        ta, tb = self.pick(allowed), self.pick(allowed)
        if wider(ta, tb) != result:
            ta = result
        return ta, self.expr(ta, depth), tb, self.expr(tb, depth)

    def arith(self, ty: str, depth: int) -> Node:
        op = self.pick(["+", "-", "*"])
        _, a, _, b = self.numeric_pair(ty, depth)
        py = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}[op]
        if ty == "double":
            return binary(a, op, b, lambda env: py(float(a.fn(env)), float(b.fn(env))))
        bits = BITS[ty]
        return binary(a, op, b, lambda env: wrap(py(a.fn(env), b.fn(env)), bits))

    def negate(self, ty: str, depth: int) -> Node:
        a = self.expr(ty, depth)
        if ty == "double":
            return prefix("-", a, lambda env: -a.fn(env))
        bits = BITS[ty]
        return prefix("-", a, lambda env: wrap(-a.fn(env), bits))

    def ternary(self, ty: str, depth: int) -> Node:
        c = self.expr("bool", depth)
        if ty in NUMERIC:
            _, a, _, b = self.numeric_pair(ty, depth)
        else:
            a, b = self.expr(ty, depth), self.expr(ty, depth)
        # 5.5: the branches unify to the wider type; only the chosen one runs.
        # Right to left (5.1): `p ? a : q ? b : c` needs no parentheses.
        text = f"{under(c, COND - 1)} ? {under(a, COND - 1)} : {under(b, COND)}"
        return Node(text, lambda env: widen(a.fn(env) if c.fn(env) else b.fn(env), ty), COND)

    def maybe(self, ty: str, depth: int) -> Node:
        """A maybe<ty> made by `/` or `%`; its evaluator gives the value or None."""
        if ty == "double":
            _, a, _, b = self.numeric_pair(self.pick(NUMERIC), depth)

            def quotient(env):
                x, y = float(a.fn(env)), float(b.fn(env))
                return None if y == 0 else x / y  # 5.2: computed in doubles, empty on zero
            return binary(a, "/", b, quotient)
        _, a, _, b = self.numeric_pair(ty, depth)

        def remainder(env):
            x, y = a.fn(env), b.fn(env)
            return None if y == 0 else wrap(tmod(x, y), BITS[ty])
        return binary(a, "%", b, remainder)

    def unwrap(self, ty: str, depth: int) -> Node:
        """`.getOrDefaultTo(d)` or an `if (m as v)` statement hoisted before the return."""
        d = self.expr(ty, depth)
        if self.draw(st.booleans()):
            m = self.maybe(ty, depth)

            def get(env):
                got = m.fn(env)
                return d.fn(env) if got is None else got
            return method(m, f"getOrDefaultTo({d.text})", get)
        # The bound value may be narrower than the temporary and widen into it (3.2).
        m = self.maybe(self.pick(NUMERIC[: NUMERIC.index(ty) + 1]), depth)
        k = self.fresh()
        t, v = f"t{k}", f"v{k}"
        text = f"{ty} {t}; if ({m.text} as {v}) {{ {t} = {v}; }} else {{ {t} = {d.text}; }}"

        def effect(env):
            got = m.fn(env)
            env[t] = widen(d.fn(env) if got is None else got, ty)
        self.stmts.append((text, effect))
        return Node(t, lambda env: env[t], ATOM)

    def local(self, ty: str, depth: int) -> Node:
        """A hoisted local of type `ty` set from a narrower-or-equal value and
        updated with a compound assignment or an increment (3.2, 5.7, 6.2)."""
        allowed = NUMERIC[: NUMERIC.index(ty) + 1]
        a = self.expr(self.pick(allowed), depth)
        op = self.pick(["+=", "-=", "*=", "++", "--"])
        k = self.fresh()
        t = f"t{k}"
        if op in ("++", "--"):
            text = f"{ty} {t} = {a.text}; {t}{op};"
            b = Node("1", lambda env: 1, ATOM)
        else:
            b = self.expr(self.pick(allowed), depth)
            text = f"{ty} {t} = {a.text}; {t} {op} {b.text};"
        py = {"+=": lambda x, y: x + y, "++": lambda x, y: x + y, "-=": lambda x, y: x - y,
              "--": lambda x, y: x - y, "*=": lambda x, y: x * y}[op]

        def effect(env):
            x, y = widen(a.fn(env), ty), widen(b.fn(env), ty)
            env[t] = py(x, y) if ty == "double" else wrap(py(x, y), BITS[ty])
        self.stmts.append((text, effect))
        return Node(t, lambda env: env[t], ATOM)

    def numeric(self, ty: str, depth: int) -> Node:
        kind = self.pick(["arith", "arith", "negate", "ternary", "unwrap", "local"])
        if kind == "unwrap" and ty == "int" and self.draw(st.booleans()):
            a = self.expr("long", depth)  # library.md: Math.toInt(long) keeps the low 32 bits
            return Node(f"Math.toInt({a.text})", lambda env: wrap(a.fn(env), 32), POSTFIX)
        return getattr(self, kind)(ty, depth)

    def node_int(self, depth):
        return self.numeric("int", depth)

    def node_long(self, depth):
        return self.numeric("long", depth)

    def node_double(self, depth):
        return self.numeric("double", depth)

    # --- bool

    def node_bool(self, depth) -> Node:
        kind = self.pick(["order", "equal", "equal", "logic", "not", "ternary", "maybe"])
        if kind == "order":
            op = self.pick(["<", "<=", ">", ">="])
            ta, a, tb, b = self.numeric_pair(self.pick(NUMERIC), depth)
            exact = wider(ta, tb) != "double"
            py = {"<": lambda x, y: x < y, "<=": lambda x, y: x <= y,
                  ">": lambda x, y: x > y, ">=": lambda x, y: x >= y}[op]
            # 5.3: numbers compare after widening; double ordering is exact.
            return binary(a, op, b, lambda env: py(a.fn(env), b.fn(env)) if exact
                          else py(float(a.fn(env)), float(b.fn(env))))
        if kind == "equal":
            op = self.pick(["==", "!="])
            ty = self.pick(NUMERIC + ("bool",))
            if ty == "bool":
                a, b = self.expr("bool", depth), self.expr("bool", depth)
                same = lambda env: a.fn(env) == b.fn(env)  # noqa: E731
            else:
                _, a, _, b = self.numeric_pair(ty, depth)
                if ty == "double":
                    same = lambda env: spec_double_eq(float(a.fn(env)), float(b.fn(env)))  # noqa: E731
                else:
                    same = lambda env: a.fn(env) == b.fn(env)  # noqa: E731
            return binary(a, op, b, lambda env: same(env) == (op == "=="))
        if kind == "logic":
            op = self.pick(["&&", "||", "^^"])
            a, b = self.expr("bool", depth), self.expr("bool", depth)
            py = {"&&": lambda x, y: x and y, "||": lambda x, y: x or y, "^^": lambda x, y: x != y}[op]
            return binary(a, op, b, lambda env: py(a.fn(env), b.fn(env)))
        if kind == "not":
            a = self.expr("bool", depth)
            return prefix("!", a, lambda env: not a.fn(env))
        if kind == "ternary":
            return self.ternary("bool", depth)
        return self.maybe_test(depth)

    def maybe_test(self, depth) -> Node:
        """`.has()` and the maybe rows of 3.10's equality table."""
        ty = self.pick(NUMERIC)
        m = self.maybe(ty, depth)
        form = self.pick(["has", "maybe==maybe", "maybe==value"])
        eq = spec_double_eq if ty == "double" else (lambda x, y: x == y)
        if form == "has":
            return method(m, "has()", lambda env: m.fn(env) is not None)
        if form == "maybe==maybe":
            n = self.maybe(ty, depth)

            def both(env):
                x, y = m.fn(env), n.fn(env)
                return x is None and y is None or (x is not None and y is not None and eq(x, y))
            return binary(m, "==", n, both)
        v = self.expr(ty, depth)

        def full_and_equal(env):
            x = m.fn(env)
            return x is not None and eq(x, v.fn(env))
        return binary(m, "==", v, full_and_equal)

    # --- string

    def node_string(self, depth) -> Node:
        ty = self.pick(["int", "long", "double", "bool", "string", "string"])
        o, s = self.expr(ty, depth), self.expr("string", depth)
        # 5.6: a string on either side makes `+` concatenate; grouping is left
        # to right, so `1 + 2 + "a"` is "3a" and `"a" + 1 + 2` is "a12".
        if self.draw(st.booleans()):
            return binary(s, "+", o, lambda env: s.fn(env) + spec_text(ty, o.fn(env)))
        return binary(o, "+", s, lambda env: spec_text(ty, o.fn(env)) + s.fn(env))


@st.composite
def programs(draw, ty: str, count: int = 4, depth: int = 4):
    """`count` functions returning `ty`, all with the same parameters."""
    functions = []
    for n in range(count):
        g = Gen(draw, budget=14)
        text, ret, _ = g.expr(ty, depth)
        body = " ".join(s for s, _ in g.stmts)
        functions.append((f"function f{n}({SIGNATURE}) -> {ty} {{ {body} return {text}; }}",
                          [e for _, e in g.stmts], ret))
    return functions


def model(stmts, ret, args):
    env = {name: v for (name, _), v in zip(PARAMS, args)}
    for effect in stmts:
        effect(env)
    return ret(env)


def same(ty: str, got, want) -> bool:
    if ty == "double":  # bit for bit: IEEE arithmetic is deterministic, and -0.0 prints differently
        return type(got) is float and (repr(got) == repr(want))
    return type(got) is type(want) and got == want


def check(ty: str, functions, args):
    p = program("\n".join(src for src, _, _ in functions))
    for n, (src, stmts, ret) in enumerate(functions):
        want = model(stmts, ret, args)
        got = getattr(p, f"f{n}")(*args)
        assert same(ty, got, want), f"{src}\nargs={args}\nVM gave {got!r}, the spec says {want!r}"


# ---------------------------------------------------------------- random programs


@SETTINGS
@given(programs("int"), PARAM_VALUES)
def test_int_expressions(functions, args):
    check("int", functions, args)


@SETTINGS
@given(programs("long"), PARAM_VALUES)
def test_long_expressions(functions, args):
    check("long", functions, args)


@SETTINGS
@given(programs("double"), PARAM_VALUES)
def test_double_expressions(functions, args):
    check("double", functions, args)


@SETTINGS
@given(programs("bool"), PARAM_VALUES)
def test_bool_expressions(functions, args):
    check("bool", functions, args)


@SETTINGS
@given(programs("string", depth=3), PARAM_VALUES)
def test_string_concatenation(functions, args):
    check("string", functions, args)


# ---------------------------------------------------------------- pinned disagreements and edges
# Minimal cases, each a single construct, so a failure names the rule.


def run1(ty: str, expr: str, *args):
    p = program(f"function f({SIGNATURE}) -> {ty} {{ return {expr}; }}")
    full = list(args) + [0, 0, 0, 0, 0.0, 0.0, False][len(args):]
    return p.f(*full)


@pytest.mark.parametrize("ty,expr,want", [
    # 5.2: `-(-2147483648)` is -2147483648 -- also when the operand is a folded literal.
    ("int", "-(-2147483648)", INT_MIN),
    ("string", '"" + -(-2147483648)', str(INT_MIN)),
    ("bool", "-(-2147483648) == 2147483648L", False),
    ("long", "-(-9223372036854775808L)", LONG_MIN),
    ("int", "2147483647 + 1", INT_MIN),
    ("long", "9223372036854775807L + 1", LONG_MIN),
    ("int", "-2147483648 * -1", INT_MIN),
    ("int", "(-2147483648 % -1).getOrDefaultTo(5)", 0),
    ("long", "(-9223372036854775808L % -1L).getOrDefaultTo(5L)", 0),
    ("int", "(-7 % 3).getOrDefaultTo(0)", -1),
    ("int", "(7 % -3).getOrDefaultTo(0)", 1),
    ("int", "(7 % 0).getOrDefaultTo(42)", 42),
    ("double", "(-2147483648 / -1).getOrDefaultTo(0.0)", 2147483648.0),
    ("double", "(1 / -0.0).getOrDefaultTo(7.0)", 7.0),
    ("int", "Math.toInt(4294967301L)", 5),
])
def test_constant_arithmetic(ty, expr, want):
    got = run1(ty, expr)
    assert type(got) is type(want) and got == want, f"{expr}: VM gave {got!r}, the spec says {want!r}"


@pytest.mark.parametrize("value,want", [
    (float("inf"), "Infinity"), (float("-inf"), "-Infinity"), (float("nan"), "NaN"),
    (1e21, "1e+21"), (1e-07, "1e-07"), (3.0, "3.0"), (-0.0, "-0.0"), (0.1, "0.1"),
])
def test_double_text_is_pythons_repr(value, want):
    # 5.6 and decision 11: Python's repr, non-finite values spelled as Adama (Java) does
    assert run1("string", '"" + x', 0, 0, 0, 0, value) == want


@pytest.mark.parametrize("a,b,want", [
    (0.1 + 0.2, 0.3, True), (1.0, 1.0 + 2e-9, False), (1e10, 1e10 + 5, True), (1e10, 1e10 + 20, False),
    (float("nan"), float("nan"), False), (1e-10, 0.0, True), (2e-9, 0.0, False),
    # 3.10: an infinity equals only itself.
    (float("inf"), float("inf"), True),
    (float("inf"), 0.0, False),
    (float("-inf"), 1e300, False),
])
def test_double_equality_follows_the_formula(a, b, want):
    assert run1("bool", "x == y", 0, 0, 0, 0, a, b) is want
    assert run1("bool", "x != y", 0, 0, 0, 0, a, b) is (not want)


@pytest.mark.parametrize("ty,body,want", [
    # 5.7: used as a value, `x++`/`x--` yield the old value, `++x`/`--x` the new one.
    ("int", "int a = i; int b = a++; return b * 100 + a;", 506),
    ("int", "int a = i; int b = --a; return b * 100 + a;", 404),
    ("int", "int a = i; return a++;", 5),
    ("int", "int a = i; return a++ + a;", 11),
    ("int", "int a = i; return ++a * 2;", 12),
    ("int", "int a = i; return -a--;", -5),
    ("int", "int a = 2147483647; int b = ++a; return b;", INT_MIN),
    ("long", "long a = l; return --a + a;", wrap(2 * (LONG_MIN + 1), 64)),
    ("double", "double d = x; return d++ + d;", 0.5 + 1.5),
])
def test_increments_as_values(ty, body, want):
    p = program(f"function g({SIGNATURE}) -> {ty} {{ {body} }}")
    got = p.g(5, 0, LONG_MIN + 2, 0, 0.5, 0.0, False)
    assert type(got) is type(want) and got == want, f"{body}: VM gave {got!r}, the spec says {want!r}"

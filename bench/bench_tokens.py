"""Issue 23 point 3, the reconnect wave: what a reconnect's token costs the
server's event loop.

A CPU profile of the server (main thread, `time.thread_time`) during
`bench/soak.py`'s reconnect waves put about half of a reconnect's work on
the loop in the first check of a token (`identity/mint` checks the token it
mints; a client's first connect with a token checks it): PyJWT decoded the
token three times (header, unverified payload, verified), each checking
every base64url character in Python. The built-in key's tokens are now
checked by net/tokens.py (`Tokens._builtin`: one base64 and JSON decode of
each part, HMAC-SHA256, the claims). This measures that first check against
the same check through PyJWT as it was (the baseline), in the same run; and
minting (`identity/mint`, once per reconnect of the soak), now written by
net/tokens.py, against jwt.encode.

Group `tokens` (pytest-benchmark):

    python -m pytest bench/bench_tokens.py --benchmark-enable

CPU time, the two alternated:

    python bench/bench_tokens.py [--rounds 5] [--tokens 2000]
"""
from __future__ import annotations

import argparse
import sys
import time

import jwt
import pytest

from advm.net.tokens import BUILTIN_ALG, Tokens, check_principal

KEY = b"k" * 32


def fresh_tokens(n: int) -> list[str]:
    minter = Tokens(KEY)
    return [minter.mint(f"viewer{i}@lab", ttl=3600) for i in range(n)]


def check_now(tokens: list[str]) -> None:
    """The first check of each token, as the server makes it now."""
    for token in tokens:
        Tokens(KEY).check(token)  # a new Tokens: nothing remembered


def check_before(tokens: list[str]) -> None:
    """The same, through PyJWT as net/tokens.py did before (the baseline):
    the header, the unverified payload, then the verified decode."""
    options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
               "verify_iss": False, "require": ["sub"], "enforce_minimum_key_length": True}
    for token in tokens:
        jwt.get_unverified_header(token)
        jwt.decode(token, options={"verify_signature": False})
        payload = jwt.decode(token, KEY, algorithms=[BUILTIN_ALG], options=options)
        check_principal(payload["sub"])


def mint_now(tokens: list[str]) -> None:
    """Minting as many tokens (identity/mint on a development server: one per reconnect of the soak)."""
    t = Tokens(KEY)
    for i in range(len(tokens)):
        t.mint(f"viewer{i}@lab", ttl=3600)


def mint_before(tokens: list[str]) -> None:
    """The same through jwt.encode, as Tokens.mint did before (the baseline)."""
    for i in range(len(tokens)):
        jwt.encode({"sub": f"viewer{i}@lab", "iat": 1, "jti": "x" * 16, "exp": 3601}, KEY, algorithm=BUILTIN_ALG)


CASES = {"now": check_now, "pyjwt-before": check_before, "mint-now": mint_now, "mint-pyjwt-before": mint_before}


@pytest.mark.benchmark(group="tokens")
@pytest.mark.parametrize("case", sorted(CASES))
def test_first_check_of_a_token(benchmark, case):
    tokens = fresh_tokens(200)
    benchmark.pedantic(CASES[case], args=(tokens,), rounds=20, iterations=1, warmup_rounds=2)
    assert all(Tokens(KEY).verify(t) == f"viewer{i}@lab" for i, t in enumerate(tokens[:3]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="CPU time of a token's first check, now and through PyJWT")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tokens", type=int, default=2000)
    args = p.parse_args(argv)
    tokens = fresh_tokens(args.tokens)
    per = {name: [] for name in CASES}
    for r in range(args.rounds):
        for name in (sorted(CASES) if r % 2 == 0 else sorted(CASES, reverse=True)):
            t = time.process_time()
            CASES[name](tokens)
            per[name].append((time.process_time() - t) / len(tokens) * 1e6)
    for name, v in per.items():
        s = sorted(v)
        print(f"{name:>17}: CPU us per token min {s[0]:.1f}, median {s[len(s) // 2]:.1f} "
              f"({', '.join(f'{x:.1f}' for x in v)})")
    for now, before in (("now", "pyjwt-before"), ("mint-now", "mint-pyjwt-before")):
        a, b = sorted(per[now]), sorted(per[before])
        print(f"{now} / {before}: min {a[0] / b[0]:.2f}x, median {a[len(a) // 2] / b[len(b) // 2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

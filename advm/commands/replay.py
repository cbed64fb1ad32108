"""`advm replay --log`: rebuild a document from its input log and verify it.

Prints one line per logged transaction (seq, document time, principal, what
it was, the outcome the sender got), checks every input's frames and every
stored snapshot on the way by hash, and exits 1 naming the first sequence
number that diverges. `--until SEQ` stops there and shows the document as it
was at that point (time travel). The store is opened read-only, so a host may
keep running on it.
"""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, UsageError, add_json_flag, err, out_json
from .progress import advance, progress_bar
from .storeargs import add_store_arguments, open_store, require_document, store_failure

PROGRESS_FROM = 1000  # a progress bar only for logs at least this long, on a terminal


def step_line(step) -> str:
    from ..durable.inspect import iso

    what = step.kind + (f" {step.channel}" if step.channel else "")
    outcome = step.outcome
    if step.matched is False:
        outcome += f"  DIVERGES (logged: {step.logged})"
    return f"{step.seq:>7}  {iso(step.time)}  {step.principal or '-':<20} {what:<24} {outcome}"


def _progress(total: int, enabled: bool):
    """A rich progress bar on standard error (a terminal, not --json, a long log), or None."""
    return progress_bar("replaying", total, enabled=enabled, minimum=PROGRESS_FROM)


def run(args: argparse.Namespace) -> ExitCode:
    from ..store import StoreError
    from ..durable.inspect import describe, render
    from ..durable.replay import replay
    from ..views.viewers import Viewers

    if args.until is not None and args.until < 0:
        raise UsageError("--until is a sequence number, 0 or more")
    store = open_store(args.store)
    try:
        require_document(store, args.doc)
        total = store.last_seq(args.doc) if args.until is None else min(args.until, store.last_seq(args.doc))
        steps = []
        progress = _progress(total, not args.json)

        def on_step(step) -> None:
            if args.json:
                steps.append(step.to_json())
            elif not args.quiet:
                print(step_line(step))
            advance(progress)

        try:
            if progress is not None:
                with progress:
                    result = replay(store, args.doc, until=args.until, on_step=on_step,
                                    check=args.check, live_viewers=Viewers)
            else:
                result = replay(store, args.doc, until=args.until, on_step=on_step,
                                check=args.check, live_viewers=Viewers)
        except StoreError as e:
            raise store_failure(e) from None
        state = None
        if args.until is not None and result.living is not None:
            data = result.living.snapshot()
            state = describe(data, result.module, key=args.doc, seq=result.head,
                             time=result.living.clock, living=result.living)
    finally:
        store.close()
    checked = result.checks
    if args.json:
        out_json({**result.to_json(), "transactions": steps, "state": state})
    else:
        if state is not None:
            print(render(state))
        verdict = (f"{args.doc}: replayed seq {result.start + 1}..{result.head} "
                   f"({result.steps} transaction{'s' if result.steps != 1 else ''})")
        if checked:
            verdict += f", {sum(c.ok for c in checked)}/{len(checked)} snapshots verified by hash"
        else:
            verdict += ", no stored snapshot in range (frames checked only)"
        err(verdict if result.ok else verdict + "; " + str(result.divergence))
    # The report (stdout) and the verdict (stderr) already name the diverging seq.
    return ExitCode.OK if result.ok else ExitCode.FAILURE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log", action="store_true",
                   help="rebuild the document from its input log (the only mode; may be omitted)")
    add_store_arguments(p)
    p.add_argument("--until", metavar="SEQ", type=int, default=None,
                   help="stop after this sequence number and show the document as it was then")
    p.add_argument("--check", choices=("all", "newest"), default="all",
                   help="compare the replayed state with every kept snapshot (default), or with "
                        "the newest only (faster; a difference there is then located)")
    p.add_argument("--quiet", action="store_true",
                   help="print only the verdict, not one line per transaction")
    add_json_flag(p, "the transactions, checks and verdict (and the state with --until)")


COMMAND = Command(
    "replay",
    "rebuild a stored document from its input log, print each transaction, verify by hash",
    add_arguments,
    run,
    success="the document was rebuilt and every check matched",
    failure="the replay diverged (the output names the first sequence number), or the store "
            "is damaged or of another version",
)

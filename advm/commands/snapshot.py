"""`advm snapshot inspect|export|import`: look inside a stored document, and
move one between stores.

    advm snapshot inspect [--store DIR] [--doc KEY] [--seq SEQ] [--json]
    advm snapshot export  [--store DIR] [--doc KEY] -o FILE
    advm snapshot import  FILE... [--store DIR] [--doc KEY]
    advm snapshot export  --space NAME -o DIR     every document of a space, a file each
    advm snapshot import  DIR/*.advx --space NAME into a space (spec/store.md 2.1)

`inspect` shows the document as it is now (its newest snapshot plus the inputs
logged after it, replayed in memory; nothing is written), or with `--seq` a
kept snapshot exactly as stored. `export` writes the document (code,
snapshot, log, wake time) to one file; `import` adds it to another store,
where it resumes where it was, mid-await included.
"""
from __future__ import annotations

import argparse
import contextlib
import sys

from .base import Command, ExitCode, UsageError, add_json_flag, err, out_json, read_bytes
from .progress import advance, progress_bar
from .storeargs import add_store_arguments, open_store, require_document, store_failure


def inspect(args: argparse.Namespace) -> ExitCode:
    from ..store import StoreError
    from ..durable.document import base, rebuild
    from ..views.viewers import Viewers
    from ..durable.inspect import describe, module_history, render

    store = _open(args)
    try:
        require_document(store, args.doc)
        try:
            if args.seq is not None:
                snap = store.snapshot(args.doc, args.seq)
                if snap is None:
                    kept = store.snapshot_seqs(args.doc)
                    raise UsageError(f"document {args.doc!r} has no snapshot at seq {args.seq}; "
                                     f"kept: {', '.join(map(str, kept)) or 'none'}")
                living, module = base(store, args.doc, snap, None, viewers=Viewers)
                d = describe(snap.data, module, key=args.doc, seq=snap.seq, time=snap.time,
                             digest=snap.hash, record_bytes=len(snap.data), living=living)
                d["source"] = {"snapshot": snap.seq, "replayed": 0}
            else:
                rec = store.load(args.doc)
                living, module = rebuild(store, args.doc, rec.snapshot, rec.entries, viewers=Viewers)
                head = rec.entries[-1].seq if rec.entries else rec.seq
                data = living.snapshot() if rec.entries or rec.snapshot is None else rec.snapshot.data
                d = describe(data, module, key=args.doc, seq=head, time=living.clock,
                             record_bytes=len(rec.snapshot.data) if rec.snapshot else None,
                             living=living)
                d["source"] = {"snapshot": rec.seq if rec.snapshot else None,
                               "replayed": len(rec.entries)}
            d["space"] = store.space
            d["modules"] = module_history(store, args.doc)
            if living.replicas:  # replication<svc:method> values (spec/language.md 4.30)
                d["replication"] = replication_status(living)
            d["log"] = {"first": store.first_seq(args.doc), "last": store.last_seq(args.doc),
                        "snapshots": store.snapshot_seqs(args.doc),
                        "wake": store.timer(args.doc)}
        except StoreError as e:
            raise store_failure(e) from None
    finally:
        store.close()
    if args.json:
        out_json(d)
        return ExitCode.OK
    print(render(d))
    print(f"space     {d['space']}")
    src, log = d["source"], d["log"]
    base_text = f"snapshot at seq {src['snapshot']}" if src["snapshot"] is not None else "no snapshot"
    print(f"stored    {base_text}, {src['replayed']} logged input(s) after it replayed; "
          f"log seq {log['first']}..{log['last']}, snapshots kept at "
          f"{', '.join(map(str, log['snapshots'])) or 'none'}")
    for m in d["modules"]:
        print(f"module    {m['module']} from seq {m['seq']} ({m['time_iso']}){'  ' + m['filename'] if m['filename'] else ''}")
        moved = m.get("renames", {})
        renamed = [f"{a} -> {b}" for a, b in moved.get("fields", {}).items()] + \
            [f"{r}.{a} -> {r}.{b}" for r, pairs in moved.get("records", {}).items() for a, b in pairs.items()]
        if renamed:
            print(f"          renamed {', '.join(renamed)}")
    for r in d.get("replication", ()):
        acked = r["acked"][:12] if r["acked"] else "nothing"
        op = r["pending"]
        state = "in step" if op is None else (
            f"pending {op['op']} {op['call']} (hash {(op['hash'] or 'none')[:12]}), {op['attempts']} failed "
            f"attempt(s){', last: ' + op['error'] if op['error'] else ''}")
        if r["too_large"]:
            state += f"; the value {r['too_large'][:12]} is over 1 MiB as JSON and not sent"
        if r["failed"]:
            f = r["failed"]
            state += (f"; failed {f['op']} {f['call']} (hash {(f['hash'] or 'none')[:12]}) refused for good "
                      f"after {f['attempts']} attempt(s): {f['error']}")
        print(f"replicate {r['name']} -> {r['service']}:{r['method']}: acknowledged {acked}, {r['ops']} "
              f"operation(s) issued, {state}")
    return ExitCode.OK


def replication_status(living) -> list[dict]:
    """Each replicated value: its target, the hash the service acknowledged,
    the operations issued, the pending one with its attempts, and the last one
    the service refused for good (`failed`, a 4xx but 408 and 429)."""
    return living.replicas.status()  # runtime/replication.py: admin/view shows the same


def export(args: argparse.Namespace) -> ExitCode:
    from ..store import StoreError
    from ..durable.transfer import export_document

    if args.output is None:
        raise UsageError("export needs -o FILE (or -o - for standard output)")
    if args.space is not None and not args.doc_given:
        return export_space(args)
    store = _open(args)
    try:
        require_document(store, args.doc)
        try:
            data = export_document(store, args.doc)
        except StoreError as e:
            raise store_failure(e) from None
    finally:
        store.close()
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            with open(args.output, "wb") as fh:
                fh.write(data)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot write: {e.strerror or e}") from None
        err(f"{args.doc}: exported {len(data)} bytes to {args.output}")
    return ExitCode.OK


def import_(args: argparse.Namespace) -> ExitCode:
    from ..store import StoreError
    from ..durable.transfer import import_document, read_export

    if not args.file:
        raise UsageError("import needs the export FILE")
    if len(args.file) > 1 and args.doc_given:
        raise UsageError("--doc names the document of one import; give one FILE with it")
    if len(args.file) > 1 and "-" in args.file:
        raise UsageError("standard input ('-') is for a single import")
    # Every file is read and its export checked before anything is written.
    exports = []
    for path in args.file:
        data = sys.stdin.buffer.read() if path == "-" else read_bytes(path)
        try:
            original = read_export(data)["doc"]
        except StoreError as e:
            raise store_failure(e) from None
        exports.append((path, data, original))
    done = []
    store = _open(args, readonly=False)
    try:
        bar = progress_bar("importing", len(exports), enabled=not args.json, minimum=2)
        with bar or contextlib.nullcontext():
            for path, data, original in exports:
                key = args.doc if args.doc_given else original
                try:
                    key, last = import_document(store, data, key)
                except StoreError as e:
                    raise store_failure(e) from None
                done.append({"doc": key, "from": original, "last_seq": last, "file": path})
                if not args.json:
                    err(f"{key}: imported (exported as {original!r}), log ends at seq {last}")
                advance(bar)
    finally:
        store.close()
    if args.json:
        if len(done) == 1:
            out_json({"ok": True, **{k: v for k, v in done[0].items() if k != "file"}})
        else:
            out_json({"ok": True, "documents": done})
    return ExitCode.OK


def _open(args, readonly: bool = True):
    """The store as the documents of `--space` see it (the default space's without it)."""
    from .deploy import in_space

    return in_space(open_store(args.store, readonly=readonly), args.space)


EXPORT_SUFFIX = ".advx"


def export_space(args) -> ExitCode:
    """Every document of a space, one export file each in the folder -o
    names (KEY.advx, the key percent-encoded); `import DIR/*.advx --space`
    reads them back."""
    import os
    from urllib.parse import quote

    from ..store import StoreError
    from ..durable.transfer import export_document

    store = _open(args)
    try:
        keys = store.documents()
        if not keys:
            raise UsageError(f"space {args.space!r} has no documents in the store at {args.store}")
        try:
            os.makedirs(args.output, exist_ok=True)
        except OSError as e:
            raise UsageError(f"{args.output}: cannot make the folder: {e.strerror or e}") from None
        written = []
        for key in keys:
            try:
                data = export_document(store, key)
            except StoreError as e:
                raise store_failure(e) from None
            path = os.path.join(args.output, quote(key, safe="") + EXPORT_SUFFIX)
            with open(path, "wb") as fh:
                fh.write(data)
            written.append({"doc": key, "file": path, "bytes": len(data)})
    finally:
        store.close()
    if args.json:
        out_json({"ok": True, "space": args.space, "documents": written})
    else:
        err(f"space {args.space}: exported {len(written)} documents to {args.output}")
    return ExitCode.OK


ACTIONS = {"inspect": inspect, "export": export, "import": import_}


def run(args: argparse.Namespace) -> ExitCode:
    args.doc_given = args.doc is not None
    if args.doc is None:
        from .storeargs import DEFAULT_DOC

        args.doc = DEFAULT_DOC
    if args.action != "import" and args.file:
        raise UsageError(f"{args.action} takes no FILE argument (did you mean -o FILE?)")
    if args.action != "export" and args.output is not None:
        raise UsageError(f"-o is for export only")
    if args.action != "inspect" and args.seq is not None:
        raise UsageError("--seq is for inspect only")
    return ACTIONS[args.action](args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=sorted(ACTIONS), help="what to do")
    p.add_argument("file", nargs="*", metavar="FILE", default=[],
                   help="import: export files, one document each ('-' for standard input); "
                        "a progress bar on a terminal when there are several")
    add_store_arguments(p)
    # import keeps the exported key unless --doc says otherwise
    p.set_defaults(doc=None)
    p.add_argument("--seq", type=int, default=None,
                   help="inspect: a kept snapshot as stored, instead of the document now")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="export: where to write ('-' for standard output); with --space and no "
                        "--doc, a folder that gets every document of the space")
    p.add_argument("--space", metavar="NAME", default=None,
                   help="the space the document is in (default: the default space); export with "
                        "no --doc: the whole space")
    add_json_flag(p, "the description (inspect) or the result (import)")


COMMAND = Command(
    "snapshot",
    "inspect a stored document; export it from one store and import it into another",
    add_arguments,
    run,
    success="done",
    failure="the store or the export file is damaged or of another version",
)

"""A runtime snapshot as a person (or a program, as JSON) wants to see it:
what state the document is in, what its fields hold, what code is suspended
where and waiting for whom, what will run when, and how big it all is.

`describe()` builds a plain JSON-able dict; `render()` turns it into text.
The snapshot is restored into a runtime (without @load) to read it, so what is
shown is exactly what the runtime would continue from.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cbor2

from ..runtime.living import LivingDocument
from ..runtime.memory import estimate
from ..store.snapshots import content_hash
from ..vm import table
from ..vm.values import to_json
from .noviews import NoViewers

TEXT_WIDTH = 100


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def describe(data: bytes, module, *, key: str | None = None, seq: int | None = None,
             time: int | None = None, digest: bytes | None = None,
             record_bytes: int | None = None, living=None) -> dict:
    """Everything inspect shows about one runtime snapshot. `living` may be the
    runtime already restored from `data` (replay has it)."""
    body = cbor2.loads(data)
    if living is None:
        # No views are computed: what the viewers were sent is read from the
        # snapshot's own bytes (`body`), not from a viewers object.
        living = LivingDocument.restore(module, data, viewers=NoViewers, load=False)
    doc = living.engine
    meta = module.meta
    fields, tables = _fields(doc, meta)
    out = {
        "key": key,
        "seq": seq,
        "time": time,
        "time_iso": iso(time),
        "hash": (digest or content_hash(data)).hex(),
        "module": {"id": module.module_id(), "filename": module.filename},
        "created": doc.created,
        "destroyed": living.destroyed,
        "state": doc.state or None,
        "clock": living.clock,
        "clock_iso": iso(living.clock),
        "fields": fields,
        "tables": tables,
        "waiting": _waiting(doc, module),
        "asks": _asks(doc),
        "pending": (None if living.pending is None else
                    {"state": living.pending.label, "due": living.pending.due,
                     "due_iso": iso(living.pending.due)}),
        "cron": _cron(living, meta),
        "next_due": living.next_due(),
        "rng": [int(w) for w in doc.machine.rng_state],
        "connected": list(living.connected),
        "viewers": [{"who": v["who"], "seq": v["seq"]} for v in body["viewers"]["viewers"]],
        "queue": list(living.queue),
        "outbox": len(living.outbox),
        "bytes": _sizes(data, body, record_bytes),
    }
    return out


def _fields(doc, meta) -> tuple[dict, dict]:
    fields, tables = {}, {}
    for f in meta["document"]["fields"]:
        value = doc.machine.doc.f[f["slot"]]
        kind = f["type"]
        if isinstance(kind, list) and kind[0] == "table":
            tables[f["name"]] = {"record": kind[1], "rows": table.size(value) if value else 0}
        else:
            fields[f["name"]] = to_json(value, kind, meta)
    return fields, tables


def _waiting(doc, module) -> dict | None:
    """The suspended block: its frames (outermost first) and what it awaits."""
    cont = doc.cont
    if cont is None:
        return None
    frames = []
    for fid, pc, *_ in cont.frames:
        fn = module.functions[fid]
        line, col = fn.position(pc)
        frames.append({"function": fn.name, "line": line, "col": col,
                       "source": _source_line(module.filename, line)})
    out = {"frames": frames}
    w = cont.payload
    if isinstance(w, dict) and "state" in w:  # a service call's result (runtime/services.py)
        out["awaits"] = {"ask": w.get("id"), "channel": "service call", "kind": "result",
                         "from": "its service", "options": None, "answered": bool(w.get("done"))}
    elif isinstance(w, dict):
        out["awaits"] = {"ask": w.get("id"), "channel": w.get("channel"), "kind": w.get("kind"),
                         "from": w.get("who"),
                         "options": len(w["options"]) if w.get("options") is not None else None,
                         "answered": bool(w.get("done"))}
    return out


def _source_line(filename: str, line: int) -> str | None:
    """The document's source line, when its file is where the module says."""
    if not line:
        return None
    try:
        lines = Path(filename).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return lines[line - 1].strip() if 0 < line <= len(lines) else None


def _asks(doc) -> list[dict]:
    book = doc.asks
    out = []
    for ask in sorted(book.asks.values(), key=lambda a: a.id):
        if ask.kind == "service":
            status = ("result in, waiting for its await" if ask.answered else
                      "in flight (made again when the document loads after a restart)"
                      if ask.id in book.calls else "made")
        elif ask.answered:
            status = "answered, waiting for its await"
        elif ask.id in book.shown:
            status = "open"
        elif ask.live:
            status = "queued behind an older ask"
        else:
            status = "made, not yet shown"
        out.append({"id": ask.id, "to": ask.who, "channel": ask.channel, "kind": ask.kind,
                    "options": None if ask.options is None else len(ask.options),
                    "status": status})
    return out


def _cron(living, meta) -> list[dict]:
    if living.crons is None:
        return []
    out = []
    for job in living.crons.jobs.values():
        spec = meta["crons"].get(job.name, {})
        out.append({"name": job.name, "schedule": spec.get("schedule"),
                    "values": spec.get("values"), "zone": living.crons.zone,
                    "next": job.next, "next_iso": iso(job.next),
                    "last": job.last, "last_iso": iso(job.last)})
    return out


def _sizes(data: bytes, body: dict, record_bytes: int | None) -> dict:
    sizes = {"snapshot": len(data), "document": len(body.get("document", b"")),
             "viewers": len(cbor2.dumps(body.get("viewers"))),
             "queue": len(cbor2.dumps(body.get("queue"))),
             "memory": estimate(len(data))}  # loaded, estimated (runtime/memory.py)
    if record_bytes is not None:
        sizes["record"] = record_bytes
    return sizes


# ---------------------------------------------------------------- text


def _short(value, width: int = TEXT_WIDTH) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= width else text[:width - 3] + "..."


def _when(ms, clock) -> str:
    if ms is None:
        return "-"
    delta = (ms - clock) / 1000
    rel = f"in {delta:g} s" if delta >= 0 else f"{-delta:g} s ago"
    return f"{iso(ms)} ({rel})"


def render(d: dict) -> str:
    lines = []
    head = f"document {d['key']!r}" if d.get("key") is not None else "snapshot"
    if d.get("seq") is not None:
        head += f" at seq {d['seq']}"
    lines.append(head)
    lines.append(f"  module     {d['module']['id']} ({d['module']['filename']})")
    lines.append(f"  hash       {d['hash']}")
    status = "destroyed" if d["destroyed"] else "created" if d["created"] else "not created"
    lines.append(f"  status     {status}; state {'#' + d['state'] if d['state'] else '(none)'}")
    lines.append(f"  clock      {d['clock_iso']}")
    b = d["bytes"]
    sizes = f"{b['snapshot']} snapshot, {b['document']} values, {b['viewers']} viewers"
    if "record" in b:
        sizes += f", {b['record']} stored"
    lines.append(f"  bytes      {sizes}")
    if "memory" in b:
        lines.append(f"  memory     about {b['memory']} bytes when loaded (estimated from the snapshot's size)")
    lines.append(f"  rng        {' '.join(f'{w:016x}' for w in d['rng'])}")
    lines.append("fields")
    for name, value in d["fields"].items():
        lines.append(f"  {name:<18} {_short(value)}")
    if d["tables"]:
        lines.append("tables")
        for name, t in d["tables"].items():
            lines.append(f"  {name:<18} {t['rows']} row{'s' if t['rows'] != 1 else ''} of {t['record']}")
    w = d["waiting"]
    lines.append("suspended" + ("" if w else "  (nothing is waiting)"))
    if w:
        for k, f in enumerate(w["frames"]):
            where = f"{d['module']['filename']}:{f['line']}:{f['col']}"
            src = f"    {f['source']}" if f.get("source") else ""
            lines.append(f"  {'  ' * k}{f['function']} at {where}{src}")
        a = w.get("awaits")
        if a:
            extra = f", {a['options']} options" if a.get("options") is not None else ""
            got = " (answer taken)" if a.get("answered") else ""
            lines.append(f"  awaits {a['kind']} on '{a['channel']}' from {a['from']} "
                         f"(ask {a['ask']}{extra}){got}")
    if d["asks"]:
        lines.append("asks")
        for a in d["asks"]:
            lines.append(f"  {a['id']:>4} {a['kind']:<7} '{a['channel']}' to {a['to']}: {a['status']}")
    lines.append("timers")
    p = d["pending"]
    lines.append(f"  transition {'#' + p['state'] + ' at ' + _when(p['due'], d['clock']) if p else '(none)'}")
    for c in d["cron"]:
        sched = f"{c['schedule']} {' '.join(str(v) for v in c['values'] or [])}".strip()
        lines.append(f"  cron {c['name']} ({sched}, {c['zone']}): next {_when(c['next'], d['clock'])}, "
                     f"last {iso(c['last']) or 'never'}")
    lines.append(f"  wakes      {_when(d['next_due'], d['clock']) if d['next_due'] is not None else '(never)'}")
    lines.append("viewers")
    if not d["viewers"]:
        lines.append("  (none)")
    for v in d["viewers"]:
        on = "connected" if v["who"] in d["connected"] else "not connected"
        seq = "not replayed (views are derived)" if v["seq"] is None else f"delta seq {v['seq']}"
        lines.append(f"  {v['who']:<18} {seq}, {on}")
    lines.append(f"queued inputs  {len(d['queue'])}; frames waiting for the next input {d['outbox']}")
    for item in d["queue"]:
        lines.append(f"  {_short(item)}")
    return "\n".join(lines)


def module_history(store, doc: str) -> list[dict]:
    """The modules the document ran, oldest first (spec/runtime.md 9.5): from
    its create entry (or, with the log's start trimmed, the oldest kept
    snapshot) and every `upgrade` event: {seq, time, module, filename}."""
    from .document import module_id_of

    out = []

    def add(seq, time, digest=None, module_id=None, extra=None):
        found = store.module(bytes(digest)) if digest is not None else None
        out.append({"seq": seq, "time": time, "time_iso": iso(time),
                    "module": module_id or bytes(digest).hex()[:32],
                    "filename": (found[1] or {}).get("filename") if found else None})
        renames = {}  # what the upgrade renamed (`@was` or --rename): spec/runtime.md 9.2
        if extra and extra.get("renames"):
            renames["fields"] = dict(extra["renames"])
        if extra and extra.get("record_renames"):
            renames["records"] = {r: dict(m) for r, m in extra["record_renames"].items()}
        if renames:
            out[-1]["renames"] = renames

    first = store.first_seq(doc)
    if first > 1:
        kept = [s for s in store.snapshot_seqs(doc) if s >= first - 1]
        if kept:
            snap = store.snapshot(doc, kept[0])
            add(snap.seq, snap.time, module_id=module_id_of(doc, snap))
    for entry in store.entries(doc, after=max(first - 1, 0)):
        if entry.kind in ("create", "upgrade") and "module" in entry.extra:
            add(entry.seq, entry.time, digest=entry.extra["module"], extra=entry.extra)
    return out


def stored_modules(store, keys) -> list[dict]:
    """Which module each stored document runs, as its next wake would find it
    (`advm deploy --status`, admin/modules; spec/runtime.md 9.1), read without
    decoding any document: the module its newest snapshot names, or the last
    create or `upgrade` entry after that snapshot (an upgrade always commits a
    snapshot with it). Each row: {doc, module, filename, seq}."""
    from .document import module_id_of

    names: dict[str, str | None] = {}
    for h in store.module_hashes():
        found = store.module(h)
        names[h.hex()[:32]] = (found[1] or {}).get("filename") if found else None
    out = []
    for key in keys:
        rec = store.load(key)
        module = module_id_of(key, rec.snapshot) if rec.snapshot is not None else None
        for entry in rec.entries:
            if entry.kind in ("create", "upgrade") and "module" in entry.extra:
                module = bytes(entry.extra["module"]).hex()[:32]
        out.append({"doc": key, "module": module, "filename": names.get(module),
                    "seq": rec.entries[-1].seq if rec.entries else rec.seq})
    return out


__all__ = ["describe", "iso", "module_history", "render", "stored_modules"]

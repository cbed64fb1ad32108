"""`advm new NAME`: write a starter document and a scripted session for it.

    advm new duel      ->  duel.adb, sessions/duel.jsonl

The document is a small private two-person one (docs/first-document.md
explains each part): a `@static create` policy and a `@connected` rule, so
it can be created and opened once served; a shared table, private fields,
channels, tests. The session creates it, connects both people and a third
who is refused, sends, restarts and shows each view, so `advm check`, `advm
test` and `advm run NAME.adb --script sessions/NAME.jsonl` pass at once.
Existing files are never overwritten.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from .base import Command, ExitCode, UsageError, err

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")

DOCUMENT = """\
// NAME: a living document made by `advm new`. Two people share it: whoever
// creates it (the owner) and the first other signed-in person to connect
// (the partner). Both see the shared lines; each sees only their own note.
//
// advm check NAME.adb                             diagnostics and warnings
// advm test NAME.adb                              the test blocks below
// advm run NAME.adb --script sessions/NAME.jsonl  a scripted session
// advm run NAME.adb                               serve it on 127.0.0.1:8080

// Who may create a document: anyone signed in, not a guest. Without a
// create policy nobody may create one (advm check warns).
@static {
  create {
    return !@who.isAnonymous();
  }
}

record Line {
  public int id;
  public principal author;
  public string text;
}

message Say {
  string text;
}

message Note {
  string text;
}

public principal owner;
public principal partner;
table<Line> _lines;
public formula lines = iterate _lines;
public formula count = _lines.size();
// Privacy: each note is sent to one viewer only.
viewer_is<owner> string owner_note;
viewer_is<partner> string partner_note;

@construct {
  owner = @who;
}

// Who may connect: the owner, and one partner (the first other signed-in
// person). Without @connected nobody may connect (advm check warns).
@connected {
  if (@who == owner || @who == partner) {
    return true;
  }
  if (partner == @no_one && !@who.isAnonymous()) {
    partner = @who;
    return true;
  }
  return false;
}

function member(principal who, principal a, principal b) -> bool {
  return who != @no_one && (who == a || who == b);
}

procedure add(principal who, string text) {
  _lines <- {author: who, text: text.trim()};
}

// Each message is one transaction: an abort rolls all of it back.
channel say(Say s) {
  if (!member(@who, owner, partner) || s.text.trim() == "") {
    abort;
  }
  add(@who, s.text);
}

channel note(Note n) {
  if (@who == owner) {
    owner_note = n.text;
  } else if (@who == partner) {
    partner_note = n.text;
  } else {
    abort;
  }
}

test lines_are_trimmed_and_counted {
  add(@no_one, "  hello ");
  assert (count == 1);
  assert ((iterate _lines where text == "hello").size() == 1);
}

test only_the_two_are_members {
  assert (!member(@no_one, owner, partner));
}
"""

SESSION = """\
{"op":"create","as":"alice"}
{"op":"connect","as":"alice"}
{"op":"connect","as":"bob"}
{"op":"connect","as":"eve"}
{"op":"send","as":"alice","channel":"say","message":{"text":"  hello, bob "}}
{"op":"send","as":"bob","channel":"note","message":{"text":"bring the cards"}}
{"op":"send","as":"eve","channel":"say","message":{"text":"let me in"}}
{"op":"restart"}
{"op":"view","as":"alice"}
{"op":"view","as":"bob"}
"""


def paths(name: str) -> tuple[Path, Path]:
    """NAME.adb and sessions/NAME.jsonl beside it (NAME may name a folder too)."""
    target = Path(name[:-4] if name.endswith(".adb") else name)
    if not NAME.fullmatch(target.name):
        raise UsageError(f"{name!r}: a name starts with a letter and holds letters, digits, "
                         "'_' and '-' (at most 64)")
    if not target.parent.is_dir():
        raise UsageError(f"{target.parent}: no such folder")
    return target.with_suffix(".adb"), target.parent / "sessions" / f"{target.name}.jsonl"


def run(args: argparse.Namespace) -> ExitCode:
    document, session = paths(args.name)
    existing = [p for p in (document, session) if p.exists()]
    if existing:
        raise UsageError(*(f"{p}: already exists; advm new never overwrites a file (choose "
                           "another name)" for p in existing))
    stem = document.stem
    session.parent.mkdir(exist_ok=True)
    written = []
    try:
        for path, text in ((document, DOCUMENT), (session, SESSION)):
            with open(path, "x", encoding="utf-8") as fh:  # "x": never replace a file
                written.append(path)
                fh.write(text.replace("NAME", stem))
    except FileExistsError as e:  # appeared since the check above
        for path in written:
            path.unlink()
        raise UsageError(f"{e.filename}: already exists; advm new never overwrites a file") from None
    err(f"wrote {document} and {session}; next:")
    err(f"  advm check {document}")
    err(f"  advm test {document}")
    err(f"  advm run {document} --script {session}")
    err(f"  advm run {document}")
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME",
                   help="the document's name: writes NAME.adb and sessions/NAME.jsonl")


COMMAND = Command(
    "new",
    "write a starter document (NAME.adb) and a scripted session for it (sessions/NAME.jsonl)",
    add_arguments,
    run,
    success="both files were written",
)

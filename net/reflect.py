"""What a client may send to the program's documents: its channels, their
message types and the constructor's message, for `space/reflect`
(spec/protocol.md 8.3). The browser dev page builds its forms from this.

Only the sending side is described. Document fields and records stay out:
their names (private ones included) are the document's business, and a
viewer learns what it may see from its view.
"""
from __future__ import annotations


def reflect(meta: dict) -> dict:
    """The reflection of a module's metadata: plain JSON."""
    messages = meta.get("messages", {})
    used: dict[str, dict] = {}

    def visit(desc) -> None:
        # Messages reach other messages through their fields; send only the
        # ones a channel or the constructor can carry.
        if isinstance(desc, list):
            if desc[0] == "message" and desc[1] not in used and desc[1] in messages:
                info = messages[desc[1]]
                used[desc[1]] = {"fields": [{"name": f["name"], "type": f["type"]}
                                            for f in info["fields"]]}
                for f in info["fields"]:
                    visit(f["type"])
            elif desc[0] in ("maybe", "list"):
                visit(desc[1])
            elif desc[0] == "map":
                visit(desc[1])
                visit(desc[2])
            elif desc[0] == "anon":
                for _, inner in desc[1]:
                    visit(inner)

    channels = {}
    for name, ch in meta.get("channels", {}).items():
        channels[name] = {"message": ch["message"], "array": bool(ch["array"]),
                          "complete": bool(ch["complete"])}
        visit(["message", ch["message"]])
    construct = (meta.get("handlers", {}).get("construct") or {}).get("message")
    if construct is not None:
        visit(["message", construct])
    enums = {name: list(info["values"]) for name, info in meta.get("enums", {}).items()}
    return {"channels": channels, "messages": used, "enums": enums, "constructor": construct}


__all__ = ["reflect"]

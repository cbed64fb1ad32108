"""Agents over a real `advm run` and a scripted Chat Completions server (issue 15
point 2; spec/language.md 4.31, protocol.md 8.18): a client asks with
`agent/ask`, the server calls the model, tools run in the document; the model
failing, answering slowly, garbage or too much; SIGKILL of the server with a
completion in flight and recovery finishing the loop with each tool applied
once; and the conversation replayed from the log with no model at all."""
from __future__ import annotations

import asyncio
import os
import signal
import time

from advm.durable.replay import replay
from advm.net.client import Client, ClientError
from advm.net.models import MAX_REPLY_BYTES
from advm.net.tokens import Tokens
from advm.store import Store
from model_kit import ModelServer, calls, reply
from test_server_cli import Served

SOURCE = """
@static { create { return true; } }
@connected { return true; }
message NoteIn { string topic; }
message NoteOut { int applied; }
agent Helper {
  instructions = "You keep notes.";
  model = "test-model";
  max_tool_rounds = 3;
  mutable string topic;
  mutable int applied;
  @description("Write down a topic")
  mutating tool<NoteIn, NoteOut> note {
    topic = request.topic;
    applied++;
    return {applied: applied};
  }
}
public session<Helper> chat;
private session<Helper> hidden;
"""


def serve(tmp_path, model: ModelServer, timeout_ms: int = 5000, attempts: int = 1,
          source: str = SOURCE) -> tuple[Served, str]:
    doc = tmp_path / "notes.adb"
    doc.write_text(source)
    services = tmp_path / "services.toml"
    services.write_text(f'[models]\nbase_url = "{model.url}"\nkey = "sk-test-secret"\ntimeout_ms = {timeout_ms}\n'
                        f'attempts = {attempts}\nmap = {{ "test-model" = "scripted-1" }}\n')
    store = tmp_path / "store"
    server = Served("run", doc, "--port", "0", "--store", store, "--workers", "1", "--services", services,
                    cwd=tmp_path)
    return server, Tokens.from_store_dir(store).mint("alice")


async def until(view, pred, deadline: float = 30.0) -> dict:
    end = time.monotonic() + deadline
    while not pred(view.view):
        assert time.monotonic() < end, view.view
        await asyncio.sleep(0.02)
    return view.view


def ended(v) -> bool:
    return v.get("chat", {}).get("status") == "idle" and v["chat"].get("ending") != ""


async def ask(c: Client, view, text: str) -> dict:
    return await c.request("agent/ask", connection=view.id, session="chat", text=text)


def test_a_client_asks_and_the_tool_loop_runs_over_the_server(tmp_path):
    with ModelServer([calls(("c1", "note", {"topic": "work"}), ("c2", "note", {"topic": "rest"})),
                      reply("Both noted.", tokens=7)]) as model:
        server, token = serve(tmp_path, model)
        try:
            async def scenario():
                async with await Client.connect(server.ws_url, token) as c:
                    await c.create("n1")
                    view = await c.open("n1")
                    await ask(c, view, "note work then rest")
                    v = await until(view, ended)
                    try:
                        await c.request("agent/ask", connection=view.id, session="hidden", text="no")
                        raise AssertionError("a private session took an ask")
                    except ClientError as e:
                        assert e.reason == "input"
                    return v["chat"]

            chat = asyncio.run(asyncio.wait_for(scenario(), 60))
        finally:
            server.kill()
        assert (chat["ending"], chat["applied"], chat["topic"], chat["rounds"]) == ("finished", 2, "rest", 1)
        assert [t["role"] for t in chat["history"]] == ["user", "assistant", "tool", "tool", "assistant"]
        first, second = model.requests
        assert first["path"] == "/v1/chat/completions"
        assert first["headers"]["Authorization"] == "Bearer sk-test-secret"
        assert first["body"]["model"] == "scripted-1"  # the document's name, mapped by the configuration
        assert second["body"]["messages"][-1] == {"role": "tool", "tool_call_id": "c2", "content": '{"applied":2}'}


def test_the_model_failing_garbage_too_large_and_too_slow_each_fail_the_ask(tmp_path):
    with ModelServer([("status", 500), ("garbage",), ("huge", MAX_REPLY_BYTES),
                      ("slow", 2.0, reply("late")), ("huge", MAX_REPLY_BYTES - 100), reply("fine")]) as model:
        server, token = serve(tmp_path, model, timeout_ms=700)
        try:
            async def scenario():
                out = []
                async with await Client.connect(server.ws_url, token) as c:
                    await c.create("n2")
                    view = await c.open("n2")
                    for i in range(6):
                        await ask(c, view, f"try {i}")
                        await until(view, lambda v, i=i: ended(v) and v["chat"]["asks"] == i + 1)
                        out.append((view.view["chat"]["ending"], view.view["chat"]["error"]))
                return out

            endings = asyncio.run(asyncio.wait_for(scenario(), 90))
        finally:
            server.kill()
    assert [e for e, _ in endings] == ["failed"] * 5 + ["finished"]
    errors = [m for _, m in endings]
    assert "(500)" in errors[0] and "sk-test-secret" not in errors[0]
    assert "not JSON" in errors[1]
    assert f"larger than {MAX_REPLY_BYTES} bytes" in errors[2]
    assert "within 700 ms" in errors[3]
    assert "not a chat completion" in errors[4]  # just under the size limit: read, and not a completion


def test_sigkill_mid_loop_and_recovery_finish_the_ask_with_each_tool_applied_once(tmp_path):
    with ModelServer([calls(("c1", "note", {"topic": "once"})), ("hold", reply("late")), reply("done")]) as model:
        server, token = serve(tmp_path, model)
        try:
            async def start():
                async with await Client.connect(server.ws_url, token) as c:
                    await c.create("k1")
                    view = await c.open("k1")
                    await ask(c, view, "note once")
                    await until(view, lambda v: v["chat"]["applied"] == 1)

            asyncio.run(asyncio.wait_for(start(), 60))
            end = time.monotonic() + 30
            while model.waiting() < 2:  # the second completion is in flight, held by the model
                assert time.monotonic() < end
                time.sleep(0.02)
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.communicate()
            model.release()  # its answer goes to a dead socket
            server, _ = serve(tmp_path, model)

            async def settle():
                async with await Client.connect(server.ws_url, token) as c:
                    view = await c.open("k1")  # loading it lists the completion it still wants
                    return (await until(view, ended))["chat"]

            chat = asyncio.run(asyncio.wait_for(settle(), 60))
        finally:
            server.kill()
        assert (chat["ending"], chat["applied"]) == ("finished", 1)
        turns = chat["history"]
        assert [t["call_id"] for t in turns if t["role"] == "tool"] == ["c1"]
        assert turns[-1]["content"] == "done"
        assert len(model.requests) == 3  # the one in flight at the kill was asked again
        assert model.requests[1]["body"] == model.requests[2]["body"]
    # The model is gone: the log replays the whole conversation without it.
    store = Store(tmp_path / "store")
    try:
        result = replay(store, "k1")
        assert result.ok, result.divergence
        fields = result.living.engine.fields()
        assert (fields["chat"]["ending"], fields["chat"]["applied"]) == ("finished", 1)
    finally:
        store.close()


def test_a_session_stuck_past_its_staleness_timeout_is_reset_after_a_restart(tmp_path):
    source = SOURCE.replace("max_tool_rounds = 3;", "max_tool_rounds = 3;\n  staleness_timeout = 1;")
    with ModelServer([calls(("c1", "note", {"topic": "lost"})), ("hold", reply("late"))]) as model:
        server, token = serve(tmp_path, model, source=source)
        try:
            async def start():
                async with await Client.connect(server.ws_url, token) as c:
                    await c.create("s1")
                    view = await c.open("s1")
                    await ask(c, view, "note and hang")
                    await until(view, lambda v: v["chat"]["applied"] == 1)

            asyncio.run(asyncio.wait_for(start(), 60))
            end = time.monotonic() + 30
            while model.waiting() < 2:
                assert time.monotonic() < end
                time.sleep(0.02)
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.communicate()
            time.sleep(1.2)  # down for longer than the session's staleness timeout
            server, _ = serve(tmp_path, model, source=source)

            async def settle():
                async with await Client.connect(server.ws_url, token) as c:
                    view = await c.open("s1")
                    return (await until(view, ended))["chat"]

            chat = asyncio.run(asyncio.wait_for(settle(), 60))
        finally:
            server.kill()
    # Reset, not resumed: the ask failed as stale and its mutable changes were put back.
    assert (chat["ending"], chat["applied"], chat["topic"]) == ("stale", 0, "")

// client.admin against a real loopback server (`advm run` on 127.0.0.1, kit.js):
// such a server answers admin/* to clients that are not browsers.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";

import { Admin, AdvmError, Client } from "../index.js";
import { scratch, serve, webSocket } from "./kit.js";

const WebSocket = webSocket();
const CONSOLE = fileURLToPath(new URL("../../../tests/fixtures/console.adb", import.meta.url));

let server;
const cleanup = [];
before(async () => {
  server = await serve({ document: CONSOLE, store: scratch({ after: (fn) => cleanup.push(fn) }) });
});
after(async () => {
  await server.stop();
  for (const fn of cleanup) fn();
});

test("documents, log, a principal's view at a seq, and the @debug lines", async () => {
  const alice = await Client.connect(server.url, { WebSocket });
  try {
    await alice.mint("alice", { use: true });
    await alice.create("d1");
    const doc = await alice.open("d1");
    await doc.send("say", { text: "one" });
    await doc.send("say", { text: "two" });

    assert.ok(alice.admin instanceof Admin);
    const { backend, documents } = await alice.admin.documents();
    assert.equal(backend, "durable");
    assert.equal(documents.length, 1);
    const [row] = documents;
    assert.equal(row.key, "d1");
    assert.equal(row.loaded, true);
    assert.equal(row.state, "waiting");
    assert.deepStrictEqual(row.viewers, { "alice@": 1 });

    const log = await alice.admin.log("d1");
    const says = log.entries.filter((e) => e.channel === "say");
    assert.deepStrictEqual(says.map((e) => e.input), [{ text: "one" }, { text: "two" }]);
    assert.equal(log.last, log.entries.at(-1).seq);
    const tail = await alice.admin.log("d1", { after: says[0].seq, limit: 1 });
    assert.deepStrictEqual(tail.entries.map((e) => e.seq), [says[0].seq + 1]);

    const then = await alice.admin.view("d1", "alice@", { seq: says[0].seq });
    assert.equal(then.preview, true);
    assert.equal(then.view.count, 1);
    assert.equal(then.view.note, "secret one");
    assert.equal(then.delta.count, 1);
    const bob = await alice.admin.view("d1", "bob@");
    assert.equal(bob.seq, log.last);
    assert.equal(bob.view.count, 2);
    assert.equal("note" in bob.view, false);

    const debug = await alice.admin.debug("d1");
    assert.deepStrictEqual(debug.lines, ["said one as number 1", "said two as number 2"]);

    await assert.rejects(alice.admin.log("missing"), (e) => e instanceof AdvmError && e.reason === "not_found" && e.method === "admin/log");
  } finally {
    await alice.close();
  }
});

test("client.debug: the live @debug lines, for whom the debug policy allows", async () => {
  const alice = await Client.connect(server.url, { WebSocket });
  const bob = await Client.connect(server.url, { WebSocket });
  try {
    await alice.mint("alice", { use: true });
    await bob.mint("bob", { use: true });
    await alice.create("live");
    const doc = await alice.open("live");
    const got = [];
    let arrived;
    const next = () => new Promise((resolve) => { arrived = resolve; });
    const stream = await alice.debug("live", (lines) => { got.push(...lines); arrived(); });
    assert.equal(stream.status, "open");
    let waiting = next();
    await doc.send("say", { text: "one" });
    await waiting;
    assert.deepStrictEqual(got, ["said one as number 1"]);
    // The fixture's @static debug lets alice only.
    await assert.rejects(bob.debug("live", () => {}),
      (e) => e instanceof AdvmError && e.reason === "debug_refused" && e.method === "document/debug");
    await assert.rejects(alice.debug("nowhere", () => {}), (e) => e instanceof AdvmError && e.reason === "not_found");
    // Ended: no more lines, and the "end" event says it was asked for.
    let ended;
    stream.on("end", (error) => { ended = error; });
    await stream.end();
    assert.equal(stream.status, "ended");
    assert.equal(ended, null);
    await doc.send("say", { text: "two" });
    const again = await alice.debug("live", (lines) => { got.push(...lines); arrived(); });
    waiting = next();
    await doc.send("say", { text: "three" });
    await waiting;
    assert.deepStrictEqual(got, ["said one as number 1", "said three as number 3"]);
    await again.end();
  } finally {
    await alice.close();
    await bob.close();
  }
});

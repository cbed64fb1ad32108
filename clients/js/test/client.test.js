// The client against a real server: `advm run` on 127.0.0.1 (kit.js) serving
// fixtures/board.adb, a document with a reordered table, a value list, a map
// with awkward keys, a decide ask and an @connected that refuses eve.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import { AdvmError, Client } from "../index.js";
import { scratch, serve, webSocket } from "./kit.js";

const WebSocket = webSocket();
const FAST = { initial: 50, max: 400 }; // reconnect quickly in tests

let server;
before(async () => {
  server = await serve({});
});
after(async () => {
  await server.stop();
});

async function signedIn(name, options = {}) {
  const client = await Client.connect(server.url, { WebSocket, ...options });
  if (name) await client.mint(name, { use: true });
  return client;
}

// The view the server holds for a principal, from scratch: a new socket's
// stream starts with the whole encoded view.
async function wholeView(key) {
  const client = await signedIn("checker");
  try {
    const doc = await client.open(key);
    return doc.view;
  } finally {
    await client.close();
  }
}

test("create, open and send: the merged view equals the server's whole view", async () => {
  const alice = await signedIn("alice");
  try {
    assert.deepStrictEqual(await alice.create("merge"), {});
    const doc = await alice.open("merge");
    assert.equal(doc.status, "open");
    assert.equal(doc.seq, 1);
    assert.deepStrictEqual(doc.view, { items: [], tags: [], counts: {}, picked: 0, sent: 0, big: "0" });
    const patches = [];
    doc.on("change", (update) => patches.push(update.data));

    for (const [text, rank] of [["a", 5], ["b", 3], ["c", 9], ["d", 1], ["e", 7]]) {
      await doc.send("add", { text, rank });
    }
    const ids = () => doc.view.items.map((row) => row.text).join("");
    assert.equal(ids(), "dbaec");
    await doc.send("move", { id: 4, rank: 10 }); // d to the end: a range of the prior order
    assert.equal(ids(), "baecd");
    await doc.send("drop", { id: 5 });
    assert.equal(ids(), "bacd");
    await doc.send("tag", { names: ["x", "y", "z"] });
    await doc.send("tag", { names: ["x"] });
    for (const [key, value] of [["__proto__", 1], ["@x", 2], ["constructor", 3], ["@", 4]]) {
      await doc.send("put", { key, value });
    }
    const view = doc.view;
    assert.deepStrictEqual(view.tags, ["x"]);
    assert.equal(view.sent, 13);
    assert.deepStrictEqual(Object.keys(view.counts).sort(), ["@", "@x", "__proto__", "constructor"]);
    assert.equal(view.counts.__proto__, 1);
    assert.equal(Object.getPrototypeOf(view.counts), Object.prototype);
    assert.equal(view.counts.constructor, 3);
    // what the stream carried: order arrays with ranges, value lists by index
    const text = JSON.stringify(patches);
    assert.match(text, /"@o":\[\[/);
    assert.match(text, /"@s":1/);
    assert.ok(patches.length >= 12);

    assert.deepStrictEqual(view, await wholeView("merge"));
    assert.equal(doc.seq, 1 + patches.length);
  } finally {
    await alice.close();
  }
});

test("a long past 2^53 goes out as a BigInt and comes back as digits", async () => {
  const alice = await signedIn("alice");
  try {
    await alice.create("long");
    const doc = await alice.open("long");
    assert.equal(doc.view.big, "0"); // views write longs as strings (spec/protocol.md 9.2)
    await doc.send("setbig", { v: 2n ** 62n + 1n });
    assert.equal(doc.view.big, "4611686018427387905");
    await doc.send("setbig", { v: -(2n ** 63n) });
    assert.equal(doc.view.big, "-9223372036854775808");
  } finally {
    await alice.close();
  }
});

test("two viewers see each other's changes", async () => {
  const alice = await signedIn("alice");
  const bob = await signedIn("bob");
  try {
    await alice.create("pair");
    const a = await alice.open("pair");
    const b = await bob.open("pair");
    await b.send("add", { text: "from bob", rank: 1 });
    const seen = await a.waitFor((view) => view.items.length === 1);
    assert.equal(seen.items[0].text, "from bob");
    assert.deepStrictEqual(a.view, b.view);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test("ViewState: the sender's connection is told, and nobody else", async () => {
  const alice = await signedIn("alice");
  const bob = await signedIn("bob");
  try {
    await alice.create("told");
    const a = await alice.open("told");
    const b = await bob.open("told");
    const heard = [];
    a.on("viewstate", (change) => heard.push(change));
    const reply = await a.send("tab", { name: "news" });
    assert.deepStrictEqual(reply.viewstate, [{ merge: { tab: "news", page: null } }, { goto: "/tabs/news" }]);
    assert.deepStrictEqual(heard, reply.viewstate);
    assert.deepStrictEqual(a.viewerState, { tab: "news" });
    assert.deepStrictEqual(a.goneTo, ["/tabs/news"]);
    assert.deepStrictEqual(b.viewerState, {});
    assert.deepStrictEqual(b.goneTo, []);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test("asks arrive in outstanding and are answered", async () => {
  const alice = await signedIn("alice");
  try {
    await alice.create("asks");
    const doc = await alice.open("asks");
    assert.deepStrictEqual(doc.outstanding, []);
    await doc.send("ask", { size: 3 });
    await doc.waitFor(() => doc.outstanding.length === 1);
    const [ask] = doc.outstanding;
    assert.equal(ask.kind, "decide");
    assert.equal(ask.channel, "pick");
    assert.deepStrictEqual(ask.options, [{ n: 1 }, { n: 2 }, { n: 3 }]);
    // an answer that is not one of the options is refused, and the ask stays open
    await assert.rejects(doc.answer(ask, { n: 7 }),
      (e) => e instanceof AdvmError && e.reason === "invalid_answer" && e.method === "connection/send");
    assert.equal(doc.outstanding.length, 1);
    await doc.answer(ask, ask.options[1]);
    await doc.waitFor((view) => view.picked === 2 && doc.outstanding.length === 0);
    // answering it again: the ask is gone
    await assert.rejects(doc.answer(ask.id, { n: 1 }), (e) => e instanceof AdvmError && e.reason !== "internal");
  } finally {
    await alice.close();
  }
});

test("failures are AdvmErrors that carry the protocol's reason", async () => {
  const alice = await signedIn("alice");
  const eve = await signedIn("eve");
  try {
    await alice.create("refusing");
    await assert.rejects(alice.create("refusing"), { name: "AdvmError", reason: "already_created" });
    const refused = await eve.open("refusing").then(() => null, (e) => e);
    assert.ok(refused instanceof AdvmError);
    assert.equal(refused.reason, "connect_refused");
    assert.equal(refused.detail, "@connected returned false for eve@ on document 'refusing'");
    assert.equal(refused.method, "connection/create");
    assert.equal(refused.message, `connect_refused: ${refused.detail}`);
    await assert.rejects(alice.open("never-made"), { reason: "not_found" });
    await assert.rejects(alice.open("x", { identity: "advm1.not.signed" }), { reason: "bad_token" });
    await assert.rejects(alice.mint("x@anonymous"), { reason: "bad_request", method: "identity/mint" });
    await assert.rejects(alice.request("document/list"), { reason: "unknown_method" });
  } finally {
    await alice.close();
    await eve.close();
  }
});

test("whoami, mint and reflect", async () => {
  const guest = await Client.connect(server.url, { WebSocket });
  try {
    const me = await guest.whoami();
    assert.equal(me.anonymous, true);
    assert.match(me.principal, /^guest-.+@anonymous$/);
    const minted = await guest.mint("carol@team");
    assert.equal(minted.principal, "carol@team");
    assert.equal(guest.identity, "anonymous"); // not used unless asked
    assert.deepStrictEqual(await guest.whoami({ identity: minted.identity }),
      { principal: "carol@team", agent: "carol", authority: "team", anonymous: false });
    const reflection = await guest.reflect();
    assert.deepStrictEqual(reflection.channels.pick, { message: "Choice", array: false, complete: false });
    assert.deepStrictEqual(reflection.messages.Add.fields, [{ name: "text", type: "string" }, { name: "rank", type: "int" }]);
    assert.equal(guest.server.server, "advm");
  } finally {
    await guest.close();
  }
});

test("a server that is not there: unreachable", async () => {
  const gone = await serve({});
  const url = gone.url;
  await gone.stop();
  await assert.rejects(Client.connect(url, { WebSocket }), (e) => e instanceof AdvmError && e.reason === "unreachable");
});

test("after the server restarts on the same store, the stream resumes", async (t) => {
  const store = `${scratch(t)}/store`;
  let first = await serve({ store });
  const alice = await Client.connect(first.url, { WebSocket, backoff: FAST });
  let second = null;
  try {
    await alice.mint("alice", { use: true });
    await alice.create("durable");
    const doc = await alice.open("durable");
    await doc.send("add", { text: "before", rank: 1 });
    const statuses = [];
    alice.on("status", (s) => statuses.push(`client ${s}`));
    doc.on("status", (s) => statuses.push(`doc ${s}`));

    const lost = doc.waitFor(() => doc.status === "reconnecting");
    await first.stop();
    await lost;
    assert.equal(alice.status, "reconnecting");
    await assert.rejects(doc.send("add", { text: "offline", rank: 2 }), { reason: "closed" });
    assert.deepStrictEqual(doc.view.items.map((row) => row.text), ["before"]); // still shown

    second = await serve({ store, port: first.port });
    await doc.waitFor(() => doc.status === "open", { timeout: 30_000 });
    assert.deepStrictEqual(doc.view.items.map((row) => row.text), ["before"]);
    assert.equal(doc.seq, 1); // a new stream: a whole view
    await doc.send("add", { text: "after", rank: 2 });
    assert.deepStrictEqual(doc.view.items.map((row) => row.text), ["before", "after"]);
    assert.deepStrictEqual(statuses, ["doc reconnecting", "client reconnecting", "client open", "doc open"]);
    assert.deepStrictEqual(doc.view, await (async () => {
      const check = await Client.connect(second.url, { WebSocket });
      try {
        await check.mint("alice", { use: true });
        return (await check.open("durable")).view;
      } finally {
        await check.close();
      }
    })());
  } finally {
    await alice.close();
    if (second) await second.stop();
  }
});

test("end and close end the streams for good", async () => {
  const alice = await signedIn("alice");
  await alice.create("ending");
  const doc = await alice.open("ending");
  await doc.end();
  assert.equal(doc.status, "ended");
  assert.equal(doc.error, null);
  await assert.rejects(doc.send("add", { text: "late", rank: 1 }), { reason: "ended" });
  const again = await alice.open("ending");
  await alice.close();
  assert.equal(alice.status, "closed");
  assert.equal(again.status, "ended");
  assert.equal(again.error.reason, "closed");
  await assert.rejects(alice.request("identity/whoami", {}), { reason: "closed" });
});

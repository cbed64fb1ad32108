// Uploads over the WebSocket (attachment/start, append, finish; spec/protocol.md
// 8.3) with the client's attach() against a real `advm run` (kit.js) serving
// examples/gallery.adb: members may attach, @attached keeps images only, and
// GET /~d/<key>/photo/<n> answers the file's bytes back over HTTP.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { ATTACH_CHUNK, AdvmError, Client } from "../index.js";
import { scratch, serve, webSocket } from "./kit.js";

const WebSocket = webSocket();
const GALLERY = fileURLToPath(new URL("../../../examples/gallery.adb", import.meta.url));

let server;
before(async (t) => {
  // a store folder of its own: the blob store is beside it
  server = await serve({ document: GALLERY, store: scratch(t) });
});
after(async () => {
  await server.stop();
});

async function member(name, key) {
  const client = await Client.connect(server.url, { WebSocket });
  await client.mint(name, { use: true });
  const doc = await client.open(key);
  await doc.send("join", { name });
  await doc.waitFor((v) => v.members.some((m) => m.name === name));
  return { client, doc };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AdvmError, String(error));
    return error;
  }
  assert.fail("it was not refused");
}

test("a member's file goes up in pieces, @attached keeps it and the server answers its bytes", async () => {
  const owner = await Client.connect(server.url, { WebSocket });
  await owner.mint("olga", { use: true });
  await owner.create("album");
  await owner.close();
  const { client, doc } = await member("ann", "album");
  try {
    const bytes = randomBytes(2 * ATTACH_CHUNK + 1234); // three appends
    const progress = [];
    const asset = await client.attach("album", bytes, {
      name: "cat.png", type: "image/png", onProgress: (sent, total) => progress.push([sent, total]) });
    assert.deepStrictEqual(progress, [[ATTACH_CHUNK, bytes.length], [2 * ATTACH_CHUNK, bytes.length],
      [bytes.length, bytes.length]]);
    const sha384 = createHash("sha384").update(bytes).digest("hex");
    assert.deepStrictEqual(asset, {
      id: sha384, size: bytes.length, md5: createHash("md5").update(bytes).digest("hex"), sha384,
      name: "cat.png", type: "image/png" });
    const view = await doc.waitFor((v) => v.count === 1);
    assert.equal(view.photos[0].file.id, sha384);
    assert.equal(view.photos[0].caption, "cat.png");
    assert.equal(view.cover.name, "cat.png");
    // served back over HTTP by @web get /photo/$n:int
    const got = await fetch(`${server.page}~d/album/photo/${view.photos[0].id}`);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get("content-type"), "image/png");
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
  } finally {
    await client.close();
  }
});

test("a Blob gives its type; the low-level methods go one step at a time", async () => {
  const { client, doc } = await member("bob", "album");
  try {
    const before = doc.view.count;
    const gif = await client.attach("album", new Blob([new Uint8Array([71, 73, 70, 56])], { type: "image/gif" }),
      { name: "tiny.gif" });
    assert.equal(gif.type, "image/gif");
    assert.equal(gif.size, 4);
    const upload = await client.attachmentStart("album", { name: "two.png", type: "image/png" });
    assert.equal(typeof upload, "number");
    assert.equal(await client.attachmentAppend(upload, new Uint8Array([1, 2])), 2);
    assert.equal(await client.attachmentAppend(upload, new Uint8Array([3])), 3);
    const two = await client.attachmentFinish(upload);
    assert.equal(two.size, 3);
    assert.equal(two.id, createHash("sha384").update(Buffer.from([1, 2, 3])).digest("hex"));
    await doc.waitFor((v) => v.count === before + 2);
    // finished: the id is gone from the socket
    const gone = await rejection(client.attachmentAppend(upload, new Uint8Array([4])));
    assert.equal(gone.reason, "unknown_upload");
    assert.equal(gone.method, "attachment/append");
  } finally {
    await client.close();
  }
});

test("@can_attach refuses a stranger; @attached's abort refuses a file that is not an image", async () => {
  const stranger = await Client.connect(server.url, { WebSocket });
  const { client, doc } = await member("cy", "album");
  try {
    await stranger.mint("stranger", { use: true });
    const refused = await rejection(stranger.attach("album", new Uint8Array([1]), { type: "image/png" }));
    assert.equal(refused.reason, "attach_refused");
    assert.equal(refused.method, "attachment/start");
    const before = doc.view.count;
    const aborted = await rejection(client.attach("album", new TextEncoder().encode("not an image"),
      { name: "notes.txt", type: "text/plain" }));
    assert.equal(aborted.reason, "abort");
    assert.equal(aborted.method, "attachment/finish");
    assert.equal(doc.view.count, before);
    // what is not bytes is refused before the server is asked anything
    await assert.rejects(client.attach("album", "text"), TypeError);
  } finally {
    await stranger.close();
    await client.close();
  }
});


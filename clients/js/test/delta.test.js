// The JavaScript merge reproduces the Python reference's vectors (made by
// make_vectors.py from advm.views) and refuses what it refuses.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { DeltaError, ViewState, applyDelta, materialize } from "../index.js";
import { canonical } from "./kit.js";

const { vectors, refused } = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

test("every vector: before + patch = after, and the plain view", () => {
  assert.ok(vectors.length > 100);
  for (const [i, v] of vectors.entries()) {
    const held = applyDelta(JSON.parse(JSON.stringify(v.before)), v.patch);
    assert.equal(canonical(held), canonical(v.after), `vector ${i}`);
    assert.deepStrictEqual(materialize(held), v.view, `vector ${i}`);
  }
});

test("the vectors cover order ranges, value lists and keys JavaScript treats specially", () => {
  const patches = JSON.stringify(vectors.map((v) => v.patch));
  assert.match(patches, /"@o":\[\[/);
  assert.match(patches, /"@s":/);
  const proto = vectors.find((v) => Object.prototype.hasOwnProperty.call(v.view, "__proto__"));
  assert.ok(proto, "a view with a __proto__ member");
  // materialized as a member, not as the object's prototype
  const plain = materialize(applyDelta(JSON.parse(JSON.stringify(proto.before)), proto.patch));
  assert.ok(Object.prototype.hasOwnProperty.call(plain, "__proto__"));
  assert.equal(Object.getPrototypeOf(plain), Object.prototype);
});

test("a patch is not kept by reference", () => {
  const patch = { t: { 1: { id: 1, v: [1, 2] }, "@o": [1] } };
  const held = applyDelta({}, patch);
  patch.t[1].v.push(3);
  assert.deepStrictEqual(materialize(held), { t: [{ id: 1, v: [1, 2] }] });
});

test("patches that do not fit are refused with DeltaError", () => {
  assert.ok(refused.length >= 8);
  for (const r of refused) {
    assert.throws(() => applyDelta(JSON.parse(JSON.stringify(r.before)), r.patch),
      (e) => e instanceof DeltaError && e.message.includes(r.error), r.error);
  }
});

test("seq must grow on a stream", () => {
  const state = new ViewState();
  state.apply({ n: 1 }, 3);
  state.apply({ n: 2 }, 7);
  assert.throws(() => state.apply({ n: 3 }, 7), { name: "DeltaError", message: "frame seq 7 after seq 7: repeated or reordered" });
  assert.deepStrictEqual(state.view, { n: 2 });
  assert.equal(state.seq, 7);
});

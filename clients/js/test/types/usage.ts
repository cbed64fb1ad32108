// Compiled by tests/net/test_js_types.py with `tsc --noEmit --strict`: every use
// below must type-check, and every line after `@ts-expect-error` must NOT
// (tsc reports an unused expectation), so the declarations are as narrow as
// the client really is, not `any`.
import { ATTACH_CHUNK, AdvmError, Client, Connection, ViewState, applyDelta, connect, materialize } from "../../index.js";
import type { Ask, Asset, Reason, Reflection, Update, View, ViewStateChange } from "../../index.js";
import { useDocument } from "../../react.js";

interface Board { turn: string; cells: number[] }

async function play(url: string): Promise<number> {
  const client: Client = await connect(url, { identity: "anonymous", backoff: { initial: 100 } });
  await client.create("game", { size: 3 });
  const game: Connection<Board> = await client.open<Board>("game");
  const turn: string = game.view.turn;
  const off = game.on("change", (u: Update) => { if (u.outstanding) u.outstanding.forEach((a: Ask) => a.id); });
  off();
  game.on("status", (s) => { const t: "opening" | "open" | "reconnecting" | "ended" = s; return t; });
  const reply = await game.send("move", { cell: 4, big: 10n ** 20n });
  const told: ViewStateChange[] = reply.viewstate ?? [];
  const paths: string[] = game.goneTo;
  const tab: any = game.viewerState.tab;
  game.on("viewstate", (c: ViewStateChange) => ("goto" in c ? c.goto.length : 0));
  const ask: Ask | undefined = game.outstanding[0];
  if (ask) await game.answer(ask, ask.options ? ask.options[0] : null);
  await game.waitFor((b) => b.cells.length === 9, { timeout: null });
  const docs = await client.admin.documents();
  const refused: number | undefined = (await client.admin.view("game", "a@")).replication?.[0]?.failed?.code;
  const loaded: boolean[] = docs.documents.map((d) => d.loaded);
  const r: Reflection = await client.reflect();
  const channels: string[] = Object.keys(r.channels);
  try { await client.delete("game"); } catch (e) {
    if (e instanceof AdvmError) { const why: Reason = e.reason; return why.length; }
  }
  const state = new ViewState();
  state.apply({ n: 1 }, 2);
  const plain: View = state.view;
  applyDelta({}, { n: 1 });
  materialize(plain);
  const photo: Asset = await client.attach("album", new Uint8Array([1, 2, 3]), {
    name: "a.png", type: "image/png", onProgress: (sent: number, total: number) => sent / total });
  const upload: number = await client.attachmentStart("album", { name: "b.png" });
  const got: number = await client.attachmentAppend(upload, new Uint8Array(ATTACH_CHUNK));
  const other: Asset = await client.attachmentFinish(upload);
  await client.attach("album", new Blob(["text"], { type: "image/svg+xml" }));
  await client.close();
  return (refused ?? 0) + photo.size + other.id.length + got + turn.length + (reply.seq ?? 0) + loaded.length + channels.length;
}

function misuse(client: Client, game: Connection<Board>) {
  // @ts-expect-error the key is a string
  client.open(42);
  // @ts-expect-error a view's fields are typed by the caller
  const n: number = game.view.turn;
  // @ts-expect-error there is no such event
  game.on("frame", () => {});
  // @ts-expect-error goneTo holds paths (strings)
  const wrong: number[] = game.goneTo;
  // @ts-expect-error a message is JSON (plus BigInt), not a function
  game.send("move", () => 1);
  // @ts-expect-error the identity option is a string
  new Client("ws://127.0.0.1:1/", { identity: 7 });
  // @ts-expect-error a status is one of four words
  const s: "open" = game.status;
  // @ts-expect-error a file is bytes (Uint8Array, ArrayBuffer or Blob), not text
  client.attach("album", "hello");
  // @ts-expect-error an asset's size is a number
  client.attach("album", new Uint8Array(1)).then((a) => { const t: string = a.size; return t; });
  return [n, s];
}

function Component(client: Client | null) {
  const state = useDocument<Board>(client, "game");
  const cells: number[] | undefined = state.view?.cells;
  // @ts-expect-error status includes "failed", not "closed"
  const wrong: "closed" = state.status;
  return [cells, wrong, state.error?.reason];
}

export { play, misuse, Component };

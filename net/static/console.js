// The dev console: the server's documents, a document's transaction log, any
// principal's view at any seq (a preview, replayed from the log) and the
// @debug lines, through the admin/* methods of advm's JavaScript client
// (client.admin; spec/protocol.md 8.11): live as the document prints them
// (a document/debug stream, which the document's @static debug policy must
// allow for the page's principal), and at any seq through replay. A server on 127.0.0.1 answers its
// own page freely; any other needs a token from `advm token NAME --admin`,
// pasted in the console's Admin token field.

import { AdvmError } from "/advm/index.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1500; // how often the list and a live log ask again
const LIVE_LINES = 500; // live @debug lines kept on the page (the oldest go first)

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const json = (v) => (v === undefined ? "" : JSON.stringify(v));

function when(ms) {
  if (ms === null || ms === undefined) return "none";
  const secs = Math.round((ms - Date.now()) / 1000);
  const rel = secs <= 0 ? "due now" : secs < 120 ? `in ${secs} s` : secs < 7200
    ? `in ${Math.round(secs / 60)} min` : `in ${Math.round(secs / 3600)} h`;
  return `${rel} (${new Date(ms).toISOString().replace(".000", "")})`;
}

const ui = {
  client: null,
  render: null,       // the page's view renderer (app.js renderValue)
  key: null,          // the document the log, preview and debug panels show
  last: 0,            // the last seq listed in the log
  seq: null,          // the seq the preview and debug show (null: the latest)
  timer: null,
  refused: false,
  live: null,         // the document/debug stream of `key`: {key, who, stream} (stream null while subscribing)
  liveRefused: null,  // {key, who}: the debug policy said no; asked again when either changes
};

function identity() {
  const token = $("admin-token").value.trim();
  return token || undefined; // the client's own identity otherwise
}

function problem(where, error) {
  const text = error instanceof AdvmError ? `${error.reason}: ${error.detail}` : String(error.message || error);
  const refused = error instanceof AdvmError && error.reason === "admin_refused";
  ui.refused = refused;
  $("console-status").replaceChildren(h("span", { class: "bad" }, `${where}: ${text}`),
    refused ? h("span", {}, " Paste a token from ", h("code", {}, "advm token NAME --admin"),
      " in Admin token.") : "");
}

// ------------------------------------------------------------------ documents

async function listDocuments() {
  const client = ui.client;
  if (!client) return;
  let answer;
  try {
    answer = await client.admin.documents({ identity: identity() });
  } catch (error) {
    problem("Listing documents", error);
    return;
  }
  ui.refused = false;
  listSpaces();
  $("console-status").textContent = `${answer.documents.length} document${answer.documents.length === 1 ? "" : "s"}` +
    ` in space ${client.space ?? "default"}` +
    `, kept ${answer.backend === "durable" ? "in the store" : "in memory only (no log to read)"}` +
    `${answer.more ? " (the first 1000 listed)" : ""}.`;
  const rows = answer.documents.map((d) => h("tr", { "data-key": d.key, class: d.key === ui.key ? "picked" : "" },
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => pick(d.key) }, d.key)),
    h("td", { class: "state" }, d.state === null ? "—" : `#${d.state}`,
      d.pending ? h("span", { class: "meta" }, ` → #${d.pending}`) : ""),
    h("td", {}, h("span", { class: d.loaded ? "badge loaded" : "badge sleeping" }, d.loaded ? "loaded" : "sleeping")),
    h("td", {}, when(d.timer)),
    h("td", {}, d.asks === null ? "—" : d.asks.length
      ? d.asks.map((a) => `${a.kind} ${a.channel} → ${a.to}`).join("; ") : "none"),
    h("td", {}, Object.keys(d.viewers).length
      ? Object.entries(d.viewers).map(([who, n]) => `${who}${n > 1 ? ` ×${n}` : ""}`).join(", ") : "nobody"),
    h("td", {}, d.seq ?? "—")));
  $("console-docs").replaceChildren(...rows);
  if (!rows.length) {
    $("console-docs").append(h("tr", {}, h("td", { colspan: "7", class: "empty" }, "No documents yet: create one above.")));
  }
}

// The spaces of the server (space/list, spec/protocol.md 8.17), each a link
// that opens the page in it (?space=NAME), with its documents counted.
async function listSpaces() {
  let answer;
  try {
    answer = await ui.client.request("space/list", { identity: identity() ?? ui.client.identity });
  } catch (error) {
    $("console-spaces").textContent = "";
    return;
  }
  const here = ui.client.space ?? "default";
  const items = answer.spaces.map((s) => h("li", { class: s.space === here ? "picked" : "", "data-space": s.space },
    h("a", { href: `?space=${encodeURIComponent(s.space)}` }, s.space),
    h("span", { class: "meta" }, ` ${s.documents} document${s.documents === 1 ? "" : "s"}, ${s.loaded} loaded, ` +
      `${s.connections} connected${s.filename ? `, ${s.filename}` : ""}`)));
  $("console-spaces").replaceChildren(...items);
}

function pick(key) {
  if (ui.key !== key) {
    ui.key = key;
    ui.last = 0;
    ui.seq = null;
    $("console-log").replaceChildren();
  }
  liveDebug();
  $("console-doc").textContent = `“${key}”`;
  $("preview-seq").value = "";
  for (const tr of $("console-docs").querySelectorAll("tr")) tr.classList.toggle("picked", tr.dataset.key === key);
  readLog().then(() => Promise.all([preview(), debugLines()]));
}

// ------------------------------------------------------------------ the log

async function readLog() {
  const key = ui.key;
  if (!key || !ui.client) return;
  let answer;
  try {
    answer = await ui.client.admin.log(key, { after: ui.last, limit: 200, identity: identity() });
  } catch (error) {
    problem(`Reading the log of “${key}”`, error);
    return;
  }
  if (key !== ui.key) return;
  const body = $("console-log");
  for (const e of answer.entries) {
    body.append(h("tr", { "data-seq": String(e.seq), class: e.outcome && e.outcome !== "ok" ? "failed" : "" },
      h("td", {}, String(e.seq)),
      h("td", {}, new Date(e.time).toISOString().slice(11, 19)),
      h("td", {}, e.kind),
      h("td", {}, e.principal ?? ""),
      h("td", {}, e.channel ?? (e.ask !== undefined ? `ask ${e.ask}` : "")),
      h("td", { class: "input" }, json(e.input)),
      h("td", {}, e.outcome ?? ""),
      h("td", {}, h("button", { type: "button", class: "small", onclick: () => travel(e.seq) }, `View at ${e.seq}`))));
    ui.last = e.seq;
  }
  $("log-meta").textContent = `— seq ${answer.first} to ${answer.last}`;
}

function travel(seq) {
  ui.seq = seq;
  $("preview-seq").value = String(seq);
  for (const tr of $("console-log").querySelectorAll("tr")) tr.classList.toggle("picked", tr.dataset.seq === String(seq));
  preview();
  debugLines();
}

// ------------------------------------------------------------------ preview

async function preview() {
  const key = ui.key;
  if (!key || !ui.client) return;
  const principal = $("preview-principal").value.trim() || "anybody@";
  const seqText = $("preview-seq").value.trim();
  const seq = seqText === "" ? null : Number(seqText);
  let p;
  try {
    p = await ui.client.admin.view(key, principal, { seq, identity: identity() });
  } catch (error) {
    problem(`Previewing “${key}”`, error);
    return;
  }
  const at = p.seq === p.last ? `seq ${p.seq}, the latest` : `seq ${p.seq} of ${p.last}: time travel, read-only`;
  $("preview-banner").replaceChildren(h("strong", {}, "PREVIEW"),
    ` — “${p.key}” as ${p.principal} would see it at ${at}. `, h("span", { class: "meta" }, p.note));
  $("preview-state").textContent = `state ${p.state === null ? "—" : `#${p.state}`}` +
    `${p.destroyed ? ", deleted" : ""}; next timer ${when(p.next_due)}; ` +
    `${p.outstanding.length} open ask${p.outstanding.length === 1 ? "" : "s"} for ${p.principal}`;
  $("preview-view").replaceChildren(p.view === null
    ? h("p", { class: "empty" }, p.created ? "The document was deleted." : "Not created yet at this seq.")
    : ui.render(p.view, ""));
  $("preview-delta").textContent = p.delta === null ? "(no change for this principal)" : JSON.stringify(p.delta, null, 2);
}

async function debugLines() {
  const key = ui.key;
  if (!key || !ui.client) return;
  const seqText = $("preview-seq").value.trim();
  let d;
  try {
    d = await ui.client.admin.debug(key, { seq: seqText === "" ? null : Number(seqText), identity: identity() });
  } catch (error) {
    problem(`The @debug lines of “${key}”`, error);
    return;
  }
  $("debug-meta").textContent = `— up to seq ${d.seq}`;
  $("console-debug").replaceChildren(...(d.lines.length
    ? d.lines.map((line) => h("li", {}, line))
    : [h("li", { class: "empty" }, "No @debug lines up to this seq.")]));
}

// The live @debug lines of the picked document: one document/debug stream,
// opened again when the document or the page's principal changes, or when it
// ended (a restart, the document reloaded). Lines arrive per input.
function liveDebug() {
  const client = ui.client;
  const key = ui.key;
  if (!client || !key) return;
  const who = identity() ?? client.identity;
  const live = ui.live;
  if (live && live.key === key && live.who === who && (!live.stream || live.stream.status !== "ended")) return;
  if (ui.liveRefused && ui.liveRefused.key === key && ui.liveRefused.who === who) return;
  if (live && live.stream) live.stream.end();
  if (!live || live.key !== key) $("console-debug-live").replaceChildren();
  const mine = { key, who, stream: null };
  ui.live = mine;
  $("debug-live-meta").textContent = "— subscribing…";
  client.debug(key, (lines, dropped) => {
    if (ui.live !== mine) return;
    const list = $("console-debug-live");
    if (dropped) list.append(h("li", { class: "meta" }, `(${dropped} line${dropped === 1 ? "" : "s"} dropped: the page read too slowly)`));
    for (const line of lines) list.append(h("li", {}, line));
    while (list.childElementCount > LIVE_LINES) list.firstElementChild.remove();
  }, { identity: who }).then((stream) => {
    if (ui.live !== mine) {
      stream.end();
      return;
    }
    mine.stream = stream;
    ui.liveRefused = null;
    $("debug-live-meta").textContent = "— live, as its inputs print them";
    client.whoami({ identity: who }).then((me) => {
      if (ui.live === mine && stream.status === "open") {
        $("debug-live-meta").textContent = `— live, as its inputs print them (read as ${me.principal})`;
      }
    }, () => {});
    stream.on("end", (error) => {
      if (ui.live === mine) $("debug-live-meta").textContent = `— ended${error ? `: ${error.reason}` : ""}; subscribing again`;
    });
  }, (error) => {
    if (ui.live !== mine) return;
    ui.live = null;
    const text = error instanceof AdvmError ? `${error.reason}: ${error.detail}` : String(error.message || error);
    if (error instanceof AdvmError && (error.reason === "debug_refused" || error.reason === "not_found")) {
      ui.liveRefused = { key, who };
    }
    $("debug-live-meta").replaceChildren(h("span", { class: "bad" }, `— not live: ${text}`));
  });
}

// ------------------------------------------------------------------ polling

async function tick() {
  ui.timer = null;
  if (!ui.refused) {
    await listDocuments();
    liveDebug();
    if ($("console-live").checked && ui.key) {
      const before = ui.last;
      await readLog();
      if (ui.last !== before && ui.seq === null) {
        await Promise.all([preview(), debugLines()]);
      }
    }
  }
  ui.timer = setTimeout(tick, POLL_MS);
}

/** Called by the page once its client is connected. */
export function startConsole(client, render) {
  ui.client = client;
  ui.render = render;
  ui.refused = false;
  ui.live = null; // a new client: its streams are new too
  ui.liveRefused = null;
  clearTimeout(ui.timer);
  tick();
}

export function initConsole() {
  $("console-refresh").addEventListener("click", () => {
    ui.refused = false;
    listDocuments();
    if (ui.key) readLog();
  });
  $("preview-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const seqText = $("preview-seq").value.trim();
    ui.seq = seqText === "" ? null : Number(seqText);
    preview();
    debugLines();
  });
  $("admin-token").addEventListener("change", () => {
    ui.refused = false;
    listDocuments();
  });
}

// The advm dev page: one WebSocket to the server that served this page,
// through advm's JavaScript client (clients/js/, which every advm server
// serves at /advm/). Plain ES module, no dependencies.

import { AdvmError, Client, DeltaError, ViewState, applyDelta, materialize } from "/advm/index.js";
import { initConsole, startConsole } from "./console.js";

const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// ---------------------------------------------------------------------------
// Small DOM helpers.

const $ = (id) => document.getElementById(id);
let uid = 0;
const freshId = (stem) => `${stem}-${++uid}`;

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

const isPrincipal = (v) => isObject(v) && Object.keys(v).length === 2 &&
  typeof v.agent === "string" && typeof v.authority === "string";

function principalText(v) {
  // @no_one is the principal "?@?" in views
  return v.agent === "?" && v.authority === "?" ? "(no one)" : `${v.agent}@${v.authority}`;
}

// A short one-line text for a value: decide buttons and choose checkboxes.
function shortText(v) {
  if (isPrincipal(v)) return principalText(v);
  if (Array.isArray(v)) return `[${v.map(shortText).join(", ")}]`;
  if (isObject(v)) return Object.keys(v).map((k) => `${k}: ${shortText(v[k])}`).join(", ") || "{}";
  return typeof v === "string" ? v : JSON.stringify(v);
}

// ---------------------------------------------------------------------------
// The live view as a tree: objects as <dl>, lists as <ol>, principals as text.

function renderValue(value, path) {
  if (isPrincipal(value)) return h("span", { class: "principal" }, principalText(value));
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "empty-value" }, "[] (empty)");
    return h("ol", { start: "0", class: "list" },
      value.map((item, i) => h("li", { "data-path": `${path}.${i}` }, renderValue(item, `${path}.${i}`))));
  }
  if (isObject(value)) {
    const keys = Object.keys(value);
    if (!keys.length) return h("span", { class: "empty-value" }, "{} (empty)");
    return h("dl", { class: "object" }, keys.map((k) => {
      const p = path ? `${path}.${k}` : k;
      return h("div", { class: "member", "data-path": p },
        h("dt", {}, k), h("dd", {}, renderValue(value[k], p)));
    }));
  }
  return h("span", { class: `scalar ${value === null ? "null" : typeof value}` },
    typeof value === "string" ? `"${value}"` : String(value));
}

// ---------------------------------------------------------------------------
// Forms from message types (descriptors as compiler/gen_types.describe makes
// them, sent by space/reflect). Each builder returns {el, read}; read()
// throws an Error whose message says which field is wrong.

function formFor(desc, label, refl) {
  if (typeof desc === "string") return primitiveField(desc, label);
  switch (desc[0]) {
    case "enum": return enumField(own(refl.enums, desc[1]) ? refl.enums[desc[1]] : [], label);
    case "message":
      if (own(refl.messages, desc[1])) return messageField(desc[1], label, refl);
      return jsonField(label, `${desc[1]} as JSON`);
    case "maybe": return maybeField(desc[1], label, refl);
    case "list": return listField(desc[1], label, refl);
    default: return jsonField(label, "JSON");
  }
}

function primitiveField(type, label) {
  const id = freshId("f");
  if (type === "bool") {
    const input = h("input", { type: "checkbox", id });
    return { el: h("div", { class: "field check" }, input, h("label", { for: id }, `${label} (bool)`)),
             read: () => input.checked };
  }
  if (type === "dynamic") return jsonField(label, "any JSON");
  const numeric = { int: "1", long: "1", double: "any", timespan: "any" }[type];
  const input = h("input", numeric
    ? { id, type: "number", step: numeric, inputmode: type === "int" || type === "long" ? "numeric" : "decimal" }
    : { id, type: { date: "date", time: "time" }[type] || "text", autocomplete: "off",
        placeholder: type === "principal" ? "agent@authority" : type === "datetime" ? "2026-01-31T12:00:00Z" : "" });
  const read = () => {
    const text = input.value.trim();
    if (type === "int" || type === "long") {
      if (!/^-?\d+$/.test(text)) throw new Error(`${label}: a whole number is needed`);
      if (type === "long") return BigInt(text); // the client writes its digits
      const n = Number(text);
      if (n < -(2 ** 31) || n > 2 ** 31 - 1) throw new Error(`${label}: an int is between -2147483648 and 2147483647`);
      return n;
    }
    if (numeric) {
      if (text === "" || Number.isNaN(Number(text))) throw new Error(`${label}: a number is needed`);
      return Number(text);
    }
    return input.value;
  };
  return { el: h("div", { class: "field" }, h("label", { for: id }, `${label} (${type})`), input), read };
}

function enumField(names, label) {
  const id = freshId("f");
  const select = h("select", { id }, names.map((n) => h("option", { value: n }, n)));
  return { el: h("div", { class: "field" }, h("label", { for: id }, label), select), read: () => select.value };
}

function jsonField(label, what) {
  const id = freshId("f");
  const area = h("textarea", { id, rows: "2", spellcheck: "false" });
  const read = () => {
    try {
      return JSON.parse(area.value || "null");
    } catch (e) {
      throw new Error(`${label}: not JSON (${e.message})`);
    }
  };
  return { el: h("div", { class: "field" }, h("label", { for: id }, `${label} (${what})`), area), read };
}

function messageField(name, label, refl) {
  const parts = refl.messages[name].fields.map((f) => [f.name, formFor(f.type, f.name, refl)]);
  const el = h("fieldset", { class: "message" }, h("legend", {}, label ? `${label} (${name})` : name),
    parts.map(([, part]) => part.el));
  if (!parts.length) el.append(h("p", { class: "hint" }, "No fields."));
  return {
    el,
    read: () => {
      const out = {};
      for (const [field, part] of parts) out[field] = part.read();
      return out;
    },
  };
}

function maybeField(inner, label, refl) {
  const id = freshId("f");
  const toggle = h("input", { type: "checkbox", id });
  const part = formFor(inner, label, refl);
  const body = h("div", { class: "maybe-body", hidden: true }, part.el);
  toggle.addEventListener("change", () => { body.hidden = !toggle.checked; });
  return {
    el: h("div", { class: "field maybe" },
      h("div", { class: "check" }, toggle, h("label", { for: id }, `${label}: give a value (empty otherwise)`)), body),
    read: () => (toggle.checked ? part.read() : null),
  };
}

function listField(inner, label, refl) {
  const items = [];
  const list = h("ol", { class: "items" });
  const add = () => {
    const part = formFor(inner, `${label} item`, refl);
    const li = h("li", {}, part.el);
    const entry = { part, li };
    li.append(h("button", { type: "button", onclick: () => {
      items.splice(items.indexOf(entry), 1);
      li.remove();
    } }, `Remove this ${label} item`));
    items.push(entry);
    list.append(li);
  };
  const el = h("fieldset", { class: "list-field" }, h("legend", {}, `${label} (list)`), list,
    h("button", { type: "button", onclick: add }, `Add a ${label} item`));
  return { el, read: () => items.map((e) => e.part.read()) };
}

function channelType(channel) {
  const msg = ["message", channel.message];
  return channel.array ? ["list", msg] : msg;
}

// ---------------------------------------------------------------------------
// The page.

const state = {
  client: null,
  identity: "anonymous",
  pendingName: null,  // a name to have signed on the next connect
  reflection: null,
  createArg: null,  // the constructor message's form, when @construct takes one
  opening: null,    // the Open in progress, so a later one supersedes it
  doc: null,        // the open document: a Connection of the client
};

function log(kind, text) {
  const time = new Date().toLocaleTimeString();
  const entry = h("li", { class: kind }, h("span", { class: "time" }, time), " ",
    h("strong", {}, kind === "error" ? "Error" : "Info"), ": ", text);
  $("log").prepend(entry);
}

function logFailure(what, error) {
  if (error instanceof AdvmError) log("error", `${what} failed: ${error.reason}: ${error.detail}`);
  else log("error", `${what}: ${error.message}`);
}

function setStatus(text, ok) {
  const el = $("status");
  el.textContent = text;
  el.className = ok ? "ok" : "bad";
}

// A name picked in the form: the server signs it, and the token is then used
// like a pasted one (kept for this tab's reloads). Refused, the tab keeps the
// identity it had.
async function mint(client, name) {
  try {
    const minted = await client.mint(name, { use: true });
    state.identity = minted.identity;
    $("token").value = minted.identity;
    sessionStorage.setItem("advm-token", minted.identity);
    log("info", `the server signed a token for ${minted.principal}`);
  } catch (error) {
    logFailure(`Signing in as “${name}”`, error);
  }
}

// Who the documents will see: for a guest, a name only the server knows (a
// new one after every reconnection).
async function showWho(client) {
  const me = await client.whoami();
  $("principal").replaceChildren("You are ", h("code", { id: "me" }, me.principal),
    me.anonymous ? " (a guest: this tab's own name, until it reconnects)." : ".");
}

async function connect() {
  if (state.client) state.client.close();
  closeDocument(false);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  // ?space=NAME picks the program of a server hosting several (spec/protocol.md 8.17)
  const space = new URLSearchParams(location.search).get("space") || undefined;
  const client = new Client(`${scheme}//${location.host}/~s`, { identity: state.identity, space });
  state.client = client;
  client.on("error", (error) => logFailure("A request", error));
  client.on("status", (status) => {
    if (state.client !== client) return;
    if (status === "reconnecting") {
      setStatus("Lost the server; reconnecting…", false);
    } else if (status === "open") {
      setStatus(`Connected to ${location.host}.`, true);
      showWho(client).catch((error) => logFailure("Asking who you are", error));
    }
  });
  setStatus("Connecting…", false);
  try {
    await client.ready;
    if (state.pendingName !== null) await mint(client, state.pendingName);
    await showWho(client);
    state.reflection = await client.reflect();
  } catch (error) {
    if (error.reason === "unknown_space" && !space) {
      // No default space on this server: open its first one.
      const listed = await client.request("space/list", { identity: client.identity }).catch(() => null);
      if (listed && listed.spaces.length) {
        location.search = `?space=${encodeURIComponent(listed.spaces[0].space)}`;
        return;
      }
    }
    setStatus("Not connected: see the log.", false);
    logFailure("Connecting", error);
    $("principal").textContent = "Not connected.";
    return;
  } finally {
    state.pendingName = null;
  }
  setStatus(`Connected to ${location.host}.`, true);
  renderChannels();
  renderCreateArg();
  startConsole(client, renderValue);
}

function requireDoc() {
  if (!state.doc) throw new Error("open a document first");
  return state.doc;
}

function renderCreateArg() {
  const box = $("create-arg");
  box.replaceChildren();
  state.createArg = null;
  const name = state.reflection && state.reflection.constructor;
  if (!name) return;
  state.createArg = formFor(["message", name], "Constructor argument", state.reflection);
  box.append(state.createArg.el);
}

async function createDocument() {
  const key = $("doc-key").value.trim();
  if (!key) return log("error", "Create: a document key is needed");
  try {
    const arg = state.createArg ? state.createArg.read() : undefined;
    await state.client.create(key, arg);
    log("info", `created document “${key}”`);
  } catch (error) {
    logFailure(`Creating “${key}”`, error);
  }
}

async function openDocument(key) {
  if (!key) return log("error", "Open: a document key is needed");
  closeDocument(true);
  const opening = { key };
  state.opening = opening;
  $("view-meta").textContent = `— “${key}”, connecting…`;
  let doc;
  try {
    doc = await state.client.open(key);
  } catch (error) {
    if (state.opening !== opening) return;
    state.opening = null;
    logFailure(`The connection to “${key}”`, error);
    closeDocument(false);
    // Say in the view itself why it stays empty: the message names the
    // hook that refused (no @connected, or @connected returned false).
    if (error instanceof AdvmError && error.reason === "connect_refused") {
      $("view").replaceChildren(h("p", { class: "empty refused" }, `Not let in to “${key}”: ${error.detail}`));
    }
    return;
  }
  if (state.opening !== opening) {
    doc.end().catch(() => {});
    return;
  }
  state.opening = null;
  state.doc = doc;
  $("close-btn").disabled = false;
  doc.on("change", (update) => {
    if (state.doc !== doc) return;
    if (update.outstanding !== null) renderAsks();
    if (update.data !== null) renderView();
  });
  doc.on("error", (note) => log("error", `the document says ${note.code}: ${note.message}`));
  doc.on("status", (status) => {
    if (status === "ended") {
      if (doc.error === null) log("info", `closed document “${key}”`);
      else if (state.doc === doc) logFailure(`The connection to “${key}”`, doc.error);
      if (state.doc === doc) closeDocument(false);
    } else if (state.doc === doc) {
      renderView();
    }
  });
  renderAsks();
  renderView();
  const hash = `#doc=${encodeURIComponent(key)}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function closeDocument(sendEnd) {
  const doc = state.doc;
  state.doc = null;
  state.opening = null;
  if (doc && sendEnd) doc.end().catch(() => {});
  $("close-btn").disabled = true;
  $("view-meta").textContent = "";
  $("view").replaceChildren(h("p", { class: "empty" }, "Open a document to see its view."));
  $("raw").textContent = "";
  renderAsks();
}

function renderView() {
  const doc = state.doc;
  const view = doc.view;
  const how = doc.status === "reconnecting" ? ", reconnecting…" : "";
  $("view-meta").textContent = `— “${doc.key}”, seq ${doc.seq}${how}`;
  $("view").replaceChildren(renderValue(view, ""));
  $("raw").textContent = JSON.stringify(view, null, 2);
}

async function send(what, deliver) {
  try {
    const reply = await deliver(requireDoc());
    log("info", `${what}: accepted${reply.seq !== undefined ? ` (your view is at seq ${reply.seq})` : ""}`);
  } catch (error) {
    logFailure(what, error);
  }
}

function renderAsks() {
  const box = $("asks");
  const asks = state.doc ? state.doc.outstanding : [];
  if (!asks.length) {
    box.replaceChildren(h("p", { class: "empty" }, "Nothing is asked of you."));
    return;
  }
  box.replaceChildren(...asks.map(renderAsk));
}

function renderAsk(ask) {
  const what = `ask ${ask.id} on ${ask.channel}`;
  const answer = (message) => send(`Answer to ${what}`, (doc) => doc.answer(ask, message));
  const legend = h("legend", {}, `${what}: `, {
    decide: "pick one",
    choose: `pick 1 to ${ask.limit}`,
    fetch: "send a message",
  }[ask.kind] || ask.kind);
  if (ask.kind === "decide") {
    return h("fieldset", { class: "ask decide" }, legend,
      h("div", { class: "options" }, (ask.options || []).map((option) =>
        h("button", { type: "button", onclick: () => answer(option) }, shortText(option)))));
  }
  if (ask.kind === "choose") {
    const boxes = (ask.options || []).map((option) => ({ option, input: h("input", { type: "checkbox", id: freshId("c") }) }));
    return h("form", { class: "ask choose", onsubmit: (e) => {
      e.preventDefault();
      answer(boxes.filter((b) => b.input.checked).map((b) => b.option));
    } }, h("fieldset", {}, legend,
      boxes.map((b) => h("div", { class: "check" }, b.input, h("label", { for: b.input.id }, shortText(b.option)))),
      h("button", { type: "submit" }, `Answer ask ${ask.id}`)));
  }
  const refl = state.reflection;
  const channel = refl && own(refl.channels, ask.channel) ? refl.channels[ask.channel] : null;
  const part = channel ? formFor(channelType(channel), ask.channel, refl) : jsonField(ask.channel, "JSON");
  return h("form", { class: "ask fetch", onsubmit: (e) => {
    e.preventDefault();
    try {
      answer(part.read());
    } catch (error) {
      log("error", `Answer to ${what}: ${error.message}`);
    }
  } }, h("fieldset", {}, legend, part.el, h("button", { type: "submit" }, `Answer ask ${ask.id}`)));
}

function renderChannels() {
  const box = $("channels");
  const refl = state.reflection;
  const names = Object.keys(refl.channels);
  if (!names.length) {
    box.replaceChildren(h("p", { class: "empty" }, "This document has no channels."));
    return;
  }
  box.replaceChildren(...names.map((name) => {
    const channel = refl.channels[name];
    const part = formFor(channelType(channel), "", refl);
    const note = channel.complete ? null
      : h("p", { class: "hint" }, "No handler: a message here answers your oldest open ask on this channel.");
    return h("form", { class: "channel", "aria-label": `Send to ${name}`, onsubmit: (e) => {
      e.preventDefault();
      let message;
      try {
        message = part.read();
      } catch (error) {
        log("error", `Send to ${name}: ${error.message}`);
        return;
      }
      send(`Message to ${name}`, (doc) => doc.send(name, message));
    } }, h("h3", {}, name, h("span", { class: "meta" }, ` ${channel.array ? `${channel.message}[]` : channel.message}`)),
      note, part.el, h("button", { type: "submit" }, `Send to ${name}`));
  }));
}

function init() {
  const saved = sessionStorage.getItem("advm-token");
  if (saved) {
    $("token").value = saved;
    $("kind-token").checked = true;
    state.identity = saved;
  }
  const m = location.hash.match(/doc=([^&]+)/);
  if (m) $("doc-key").value = decodeURIComponent(m[1]);
  $("identity-form").addEventListener("submit", (e) => {
    e.preventDefault();
    if ($("kind-token").checked) {
      const token = $("token").value.trim();
      if (!token) return log("error", "paste a token first (or choose Guest)");
      state.identity = token;
      sessionStorage.setItem("advm-token", token);
    } else if ($("kind-name").checked) {
      const name = $("mint-name").value.trim();
      if (!name) return log("error", "type a name first (or choose Guest)");
      state.pendingName = name;
    } else {
      state.identity = "anonymous";
      sessionStorage.removeItem("advm-token");
    }
    connect();
  });
  $("token").addEventListener("input", () => { $("kind-token").checked = true; });
  $("mint-name").addEventListener("input", () => { $("kind-name").checked = true; });
  $("create-btn").addEventListener("click", createDocument);
  $("doc-form").addEventListener("submit", (e) => {
    e.preventDefault();
    openDocument($("doc-key").value.trim());
  });
  $("close-btn").addEventListener("click", () => closeDocument(true));
  initConsole();
  connect();
}

// Tests reach the client's delta merge through this; the page itself does not need it.
window.advm = { applyDelta, materialize, ViewState, DeltaError };
init();

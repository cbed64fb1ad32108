// The advm dev page: one WebSocket to the server that served this page,
// speaking spec/protocol.md section 8. Plain ES module, no dependencies.

// ---------------------------------------------------------------------------
// The viewer stream, ported from net/view.py (spec/protocol.md sections 2-4).
// Kept line for line with the Python reference so the two cannot drift in
// meaning; tests/test_browser.py replays the same patches through both.

const ORDER = "@o";
const SIZE = "@s";
const ESCAPE = "@";

export class DeltaError extends Error {
  constructor(message) {
    super(message);
    this.name = "DeltaError";
  }
}

const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const kindOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
// Objects without a prototype: a map key such as "__proto__" or "constructor"
// is then an ordinary member, as it is in Python.
const dict = () => Object.create(null);

export function applyDelta(encoded, delta) {
  if (!isObject(delta)) throw new DeltaError(`a delta is a JSON object, not ${kindOf(delta)}`);
  if (!isObject(encoded)) throw new DeltaError(`an encoded view is a JSON object, not ${kindOf(encoded)}`);
  merge(encoded, delta);
  return encoded;
}

function merge(target, patch) {
  let order;
  let hasOrder = false;
  let membership = false;
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (key === ORDER) {
      // applied last: its ranges refer to the order before this patch
      order = value;
      hasOrder = true;
    } else if (value === null) {
      if (own(target, key)) {
        delete target[key];
        membership = true;
      }
    } else if (isObject(value)) {
      let child = own(target, key) ? target[key] : undefined;
      if (!isObject(child)) {
        if (child === undefined) membership = true;
        child = target[key] = dict();
      }
      merge(child, value);
    } else {
      if (!own(target, key)) membership = true;
      target[key] = clone(value);
    }
  }
  if (hasOrder) {
    if (order === null) delete target[ORDER];
    else target[ORDER] = expand(own(target, ORDER) ? target[ORDER] : null, order);
    membership = true;
  }
  if (membership && own(target, ORDER)) checkTable(target);
}

function clone(value) {
  if (Array.isArray(value)) return value.map(clone);
  if (isObject(value)) {
    const copy = dict();
    for (const key of Object.keys(value)) copy[key] = clone(value[key]);
    return copy;
  }
  return value;
}

function expand(prior, instructions) {
  if (!Array.isArray(instructions)) {
    throw new DeltaError(`"${ORDER}" must be an array, not ${kindOf(instructions)}`);
  }
  const order = [];
  for (const step of instructions) {
    if (Number.isInteger(step)) {
      order.push(step);
    } else if (Array.isArray(step) && step.length === 2 &&
               Number.isInteger(step[0]) && Number.isInteger(step[1])) {
      const [start, end] = step;
      if (prior === null || !(0 <= start && start <= end && end < prior.length)) {
        const size = prior === null ? "no prior order" : `${prior.length} rows`;
        throw new DeltaError(`"${ORDER}" range [${step}] does not fit the prior order (${size})`);
      }
      for (let i = start; i <= end; i++) order.push(prior[i]);
    } else {
      throw new DeltaError(`"${ORDER}" holds row ids and [start, end] ranges, not ${JSON.stringify(step)}`);
    }
  }
  return order;
}

function checkTable(table) {
  const order = table[ORDER];
  const rows = Object.keys(table).length - 1;
  if (rows !== order.length || new Set(order).size !== rows ||
      order.some((id) => !own(table, String(id)))) {
    throw new DeltaError(`table rows and "${ORDER}" disagree: ${rows} rows, order [${order.slice(0, 20)}]`);
  }
}

export function materialize(encoded) {
  if (!isObject(encoded)) return encoded;
  if (own(encoded, ORDER) && encoded[ORDER] !== null) {
    return encoded[ORDER].map((id) => {
      const key = String(id);
      if (!own(encoded, key)) throw new DeltaError(`"${ORDER}" names row ${id} that the table lacks`);
      return materialize(encoded[key]);
    });
  }
  if (own(encoded, SIZE) && encoded[SIZE] !== null) {
    const size = encoded[SIZE];
    if (!Number.isInteger(size) || size < 0) throw new DeltaError(`"${SIZE}" is a list length, not ${JSON.stringify(size)}`);
    const list = [];
    // an index with no entry held null (or a NaN/infinite double)
    for (let i = 0; i < size; i++) list.push(own(encoded, String(i)) ? materialize(encoded[String(i)]) : null);
    return list;
  }
  const plain = dict();
  for (let key of Object.keys(encoded)) {
    const value = encoded[key];
    if (key.slice(0, 1) === ESCAPE) {
      if (key.slice(1, 2) !== ESCAPE) throw new DeltaError(`reserved key ${JSON.stringify(key)} in an object that is not a list`);
      key = key.slice(1);
    }
    plain[key] = materialize(value);
  }
  return plain;
}

export class ViewState {
  constructor() { this.reset(); }

  reset() {
    this.encoded = dict();
    this.seq = null;
    this.plain = undefined;
  }

  apply(delta, seq) {
    if (seq !== undefined && seq !== null) {
      if (!Number.isInteger(seq)) throw new DeltaError(`seq is an integer, not ${kindOf(seq)}`);
      if (this.seq !== null && seq <= this.seq) {
        throw new DeltaError(`frame seq ${seq} after seq ${this.seq}: repeated or reordered`);
      }
    }
    applyDelta(this.encoded, delta);
    if (seq !== undefined && seq !== null) this.seq = seq;
    this.plain = undefined;
  }

  get view() {
    if (this.plain === undefined) this.plain = materialize(this.encoded);
    return this.plain;
  }
}

// ---------------------------------------------------------------------------
// The wire: requests with ids, streamed responses (spec/protocol.md 8.2).

export class ProtocolError extends Error {
  constructor(reason, message) {
    super(`${reason}: ${message}`);
    this.reason = reason;
    this.detail = message;
  }
}

// A `long` travels as a JSON integer of any size, which a JavaScript number
// cannot hold past 2^53: forms keep its digits and the request writes them raw.
class LongDigits {
  constructor(digits) { this.digits = digits; }
  toJSON() { return `\u0000long:${this.digits}\u0000`; }
}

function requestText(request) {
  return JSON.stringify(request).replace(/"\\u0000long:(-?\d+)\\u0000"/g, "$1");
}

class Wire {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;   // {stray(failure), closed()}
    this.next = 1;
    this.pending = new Map();   // id -> {resolve, reject}
    this.streams = new Map();   // id -> {frame(response), end(error | null)}
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      let greeted = false;
      ws.onmessage = (event) => {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (e) {
          this.handlers.stray(new ProtocolError("bad_json", `the server sent text that is not JSON: ${e.message}`));
          return;
        }
        if (!greeted && msg.status) {
          greeted = true;
          resolve(msg);
          return;
        }
        this.dispatch(msg);
      };
      ws.onclose = () => {
        if (!greeted) reject(new ProtocolError("closed", `could not connect to ${this.url}`));
        const closed = new ProtocolError("closed", "the connection to the server closed");
        for (const p of this.pending.values()) p.reject(closed);
        for (const s of this.streams.values()) s.end(closed);
        this.pending.clear();
        this.streams.clear();
        this.handlers.closed();
      };
    });
  }

  close() {
    if (this.ws) this.ws.close();
  }

  send(method, params) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      throw new ProtocolError("closed", "not connected to the server; reload the page");
    }
    const id = this.next++;
    this.ws.send(requestText({ id, method, ...params }));
    return id;
  }

  request(method, params = {}) {
    return new Promise((resolve, reject) => {
      const id = this.send(method, params);
      this.pending.set(id, { resolve, reject });
    });
  }

  // connection/create: `frame` gets every response of the stream; the promise
  // settles at its end (done, or the failure that ended it).
  stream(method, params, frame) {
    let id;
    const ended = new Promise((resolve, reject) => {
      id = this.send(method, params);
      this.streams.set(id, { frame, end: (error) => (error ? reject(error) : resolve()) });
    });
    return { id, ended };
  }

  dispatch(msg) {
    if (own(msg, "deliver")) {
      const id = msg.deliver;
      const stream = this.streams.get(id);
      if (!msg.done) {
        if (stream) stream.frame(msg.response || {});
        return;
      }
      if (stream) {
        this.streams.delete(id);
        stream.end(null);
      }
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        p.resolve(msg.response || {});
      }
    } else if (own(msg, "failure")) {
      const error = new ProtocolError(msg.reason || "unknown", msg.message || "");
      const stream = this.streams.get(msg.failure);
      const p = this.pending.get(msg.failure);
      this.streams.delete(msg.failure);
      this.pending.delete(msg.failure);
      if (stream) stream.end(error);
      if (p) p.reject(error);
      if (!stream && !p) this.handlers.stray(error);
    }
  }
}

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
      if (type === "long") return new LongDigits(text);
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
  wire: null,
  identity: "anonymous",
  pendingName: null,  // a name to have signed on the next connect
  reflection: null,
  createArg: null,  // the constructor message's form, when @construct takes one
  doc: null,        // {key, id, view: ViewState, asks: []}
};

function log(kind, text) {
  const time = new Date().toLocaleTimeString();
  const entry = h("li", { class: kind }, h("span", { class: "time" }, time), " ",
    h("strong", {}, kind === "error" ? "Error" : "Info"), ": ", text);
  $("log").prepend(entry);
}

function logFailure(what, error) {
  if (error instanceof ProtocolError) log("error", `${what} failed: ${error.reason}: ${error.detail}`);
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
async function mint(wire, name) {
  try {
    const minted = await wire.request("identity/mint", { principal: name });
    state.identity = minted.identity;
    $("token").value = minted.identity;
    sessionStorage.setItem("advm-token", minted.identity);
    log("info", `the server signed a token for ${minted.principal}`);
  } catch (error) {
    logFailure(`Signing in as “${name}”`, error);
  }
}

async function connect() {
  if (state.wire) state.wire.close();
  closeDocument(false);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const wire = new Wire(`${scheme}//${location.host}/~s`, {
    stray: (error) => logFailure("A request", error),
    closed: () => {
      if (state.wire !== wire) return;
      setStatus("Disconnected from the server.", false);
      closeDocument(false);
    },
  });
  state.wire = wire;
  setStatus("Connecting…", false);
  let me;
  try {
    await wire.open();
    if (state.pendingName !== null) await mint(wire, state.pendingName);
    // Who the documents will see: for a guest, a name only the server knows.
    me = await wire.request("identity/whoami", { identity: state.identity });
    const { reflection } = await wire.request("space/reflect", { identity: state.identity });
    state.reflection = reflection;
  } catch (error) {
    setStatus("Not connected: see the log.", false);
    logFailure("Connecting", error);
    $("principal").textContent = "Not connected.";
    return;
  } finally {
    state.pendingName = null;
  }
  $("principal").replaceChildren("You are ", h("code", { id: "me" }, me.principal),
    me.anonymous ? " (a guest: this tab's own name, until it reconnects)." : ".");
  setStatus(`Connected to ${location.host}.`, true);
  renderChannels();
  renderCreateArg();
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
    const params = { identity: state.identity, key };
    if (state.createArg) params.arg = state.createArg.read();
    await state.wire.request("document/create", params);
    log("info", `created document “${key}”`);
  } catch (error) {
    logFailure(`Creating “${key}”`, error);
  }
}

function openDocument(key) {
  if (!key) return log("error", "Open: a document key is needed");
  closeDocument(true);
  const doc = { key, view: new ViewState(), asks: [], id: null };
  const stream = state.wire.stream("connection/create", { identity: state.identity, key },
    (response) => onFrame(doc, response));
  doc.id = stream.id;
  state.doc = doc;
  $("close-btn").disabled = false;
  $("view-meta").textContent = `— “${key}”, connecting…`;
  stream.ended.then(
    () => log("info", `closed document “${key}”`),
    (error) => {
      logFailure(`The connection to “${key}”`, error);
      if (state.doc === doc) {
        closeDocument(false);
        // Say in the view itself why it stays empty: the message names the
        // hook that refused (no @connected, or @connected returned false).
        if (error instanceof ProtocolError && error.reason === "connect_refused") {
          $("view").replaceChildren(h("p", { class: "empty refused" },
            `Not let in to “${key}”: ${error.detail}`));
        }
      }
    });
}

function onFrame(doc, response) {
  if (state.doc !== doc) return;
  if (response.error) {
    log("error", `the document says ${response.error.code}: ${response.error.message}`);
    return;
  }
  const body = response.delta;
  if (!isObject(body)) return;
  try {
    if (body.reset) doc.view.reset();
    if (body.data !== undefined && body.data !== null) doc.view.apply(body.data, body.seq);
  } catch (error) {
    // a lost or reordered frame: start again from a whole view
    log("error", `${error.message}; reopening the document`);
    openDocument(doc.key);
    return;
  }
  if (own(body, "outstanding")) {
    doc.asks = body.outstanding;
    renderAsks();
  }
  if (body.data !== undefined) renderView();
  const hash = `#doc=${encodeURIComponent(doc.key)}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function closeDocument(sendEnd) {
  const doc = state.doc;
  state.doc = null;
  if (doc && sendEnd && state.wire) {
    state.wire.request("connection/end", { connection: doc.id }).catch(() => {});
  }
  $("close-btn").disabled = true;
  $("view-meta").textContent = "";
  $("view").replaceChildren(h("p", { class: "empty" }, "Open a document to see its view."));
  $("raw").textContent = "";
  renderAsks();
}

function renderView() {
  const doc = state.doc;
  const view = doc.view.view;
  $("view-meta").textContent = `— “${doc.key}”, seq ${doc.view.seq}`;
  $("view").replaceChildren(renderValue(view, ""));
  $("raw").textContent = JSON.stringify(view, null, 2);
}

async function send(what, params) {
  try {
    const doc = requireDoc();
    const reply = await state.wire.request("connection/send", { connection: doc.id, ...params });
    log("info", `${what}: accepted${reply.seq !== undefined ? ` (your view is at seq ${reply.seq})` : ""}`);
  } catch (error) {
    logFailure(what, error);
  }
}

function renderAsks() {
  const box = $("asks");
  const asks = state.doc ? state.doc.asks : [];
  if (!asks.length) {
    box.replaceChildren(h("p", { class: "empty" }, "Nothing is asked of you."));
    return;
  }
  box.replaceChildren(...asks.map(renderAsk));
}

function renderAsk(ask) {
  const what = `ask ${ask.id} on ${ask.channel}`;
  const answer = (message) => send(`Answer to ${what}`, { channel: ask.channel, ask: ask.id, message });
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
      send(`Message to ${name}`, { channel: name, message });
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
  connect();
}

// Tests reach the delta port through this; the page itself does not need it.
window.advm = { applyDelta, materialize, ViewState, DeltaError };
init();

// The advm client: one WebSocket to a server, requests matched by id, and
// document streams kept current by the delta merge (spec/protocol.md section
// 8). When the socket is lost the client backs off, reconnects and reopens
// every stream; each reopened stream starts from a whole view.

import { DeltaError, ViewState } from "./delta.js";
import { Admin } from "./admin.js";

const OPEN = 1; // WebSocket.OPEN, the same in browsers, Node and the ws package

/** A failure: `reason` is the protocol's code (spec/protocol.md 8.7) or one of
 * the client's own (`unreachable`, `closed`, `ended`, `bad_delta`, `timeout`),
 * `detail` the server's text, `method` the request that failed. */
export class AdvmError extends Error {
  constructor(reason, detail, method = null) {
    super(`${reason}: ${detail}`);
    this.name = "AdvmError";
    this.reason = reason;
    this.detail = detail;
    this.method = method;
  }
}

// Failures that end a stream without saying anything about the document: the
// stream is opened again (after a pause) instead of ending.
const RESUMABLE = new Set(["shutting_down", "worker_failed", "reloaded", "rate_limited", "queue_full"]);

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// A `long` can be past 2^53: a BigInt in a message is written as the JSON
// integer it holds (JSON.stringify refuses BigInts).
function requestText(request) {
  let marker = null;
  const text = JSON.stringify(request, (_, value) => {
    if (typeof value !== "bigint") return value;
    marker ??= `\u0000big${Math.random().toString(36).slice(2)}:`;
    return `${marker}${value}`;
  });
  if (marker === null) return text;
  const escaped = JSON.stringify(marker).slice(1, -1).replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
  return text.replace(new RegExp(`"${escaped}(-?\\d+)"`, "g"), "$1");
}

/** Bytes of one `attachment/append`: base64 makes them 4/3 as many characters,
 * and the request (with its JSON around them) stays under the server's 64 KiB
 * frame limit (spec/protocol.md 8.6). */
export const ATTACH_CHUNK = 45 * 1024;

// Base64 of bytes: Node's Buffer where there is one, else btoa over a binary string.
function toBase64(bytes) {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("the bytes are a Uint8Array");
  if (typeof globalThis.Buffer === "function") {
    return globalThis.Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
  }
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

class Listeners {
  constructor() {
    this.sets = new Map();
  }

  on(event, fn) {
    if (!this.sets.has(event)) this.sets.set(event, new Set());
    this.sets.get(event).add(fn);
    return () => this.sets.get(event).delete(fn);
  }

  emit(event, ...args) {
    for (const fn of [...(this.sets.get(event) || [])]) {
      try {
        fn(...args);
      } catch (error) {
        // a listener's bug must not break the stream: report it asynchronously
        setTimeout(() => { throw error; });
      }
    }
  }
}

/** One `connection/create` stream: a document as one principal sees it. Its
 * `view` is the plain view, `outstanding` the principal's open asks. */
// RFC 7396: objects merge key by key, null removes a key, anything else replaces.
function mergeViewerState(old, patch) {
  if (!isObject(patch)) return patch;
  const out = isObject(old) ? { ...old } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergeViewerState(out[k], v);
  }
  return out;
}

export class Connection {
  constructor(client, key, identity) {
    this.client = client;
    this.key = key;
    this.identity = identity;
    /** the stream's id on the current socket (null while there is none) */
    this.id = null;
    /** "opening" | "open" | "reconnecting" | "ended" */
    this.status = "opening";
    /** why the stream ended (null after `end()`) */
    this.error = null;
    this.outstanding = [];
    /** errors the document addressed to this principal (`error` frames) */
    this.notes = [];
    /** ViewState (spec/protocol.md 8.3): what the document's ViewState.merge told this
     * connection (merged, RFC 7396), and the paths ViewState.goto sent it to, oldest first */
    this.viewerState = {};
    this.goneTo = [];
    this._state = new ViewState();
    this._fresh = true; // the next frame replaces the view
    this._resyncs = 0;
    this._retry = null;
    this._listeners = new Listeners();
    this._opened = new Promise((resolve, reject) => {
      this._resolveOpened = resolve;
      this._rejectOpened = reject;
    });
    this._opened.catch(() => {});
  }

  /** The plain view (the same object until the next frame: treat it as read-only). */
  get view() {
    return this._state.view;
  }

  /** The last frame's sequence number on the current stream. */
  get seq() {
    return this._state.seq;
  }

  /** `on("change", fn(update))` after every frame, `on("status", fn(status))`,
   * `on("error", fn(error))` for a document's error frame. Returns the
   * function that removes the listener. */
  on(event, fn) {
    return this._listeners.on(event, fn);
  }

  /** Send `message` to `channel`; resolves once the input committed. What the
   * message's code told this connection (the reply's `viewstate`) is applied to
   * `viewerState` and `goneTo`, and each item emitted as `on("viewstate", fn)`. */
  async send(channel, message) {
    const reply = await this._request({ channel, message });
    const told = isObject(reply) && Array.isArray(reply.viewstate) ? reply.viewstate : [];
    for (const change of told) {
      if (!isObject(change)) continue;
      if ("merge" in change) this.viewerState = mergeViewerState(this.viewerState, change.merge);
      else if (typeof change.goto === "string") this.goneTo.push(change.goto);
      this._listeners.emit("viewstate", change);
    }
    return reply;
  }

  /** Answer an open ask (an element of `outstanding`, or its id). */
  answer(ask, message) {
    if (isObject(ask)) return this._request({ channel: ask.channel, ask: ask.id, message });
    return this._request({ ask, message });
  }

  /** End the stream; the principal's last stream runs `@disconnected`. */
  async end() {
    this._wanted = false;
    clearTimeout(this._retry);
    const id = this.id;
    if (id !== null && this.client._isOpen()) {
      try {
        await this.client.request("connection/end", { connection: id });
      } catch (error) {
        if (!(error instanceof AdvmError)) throw error;
      }
    }
    this._finish(null);
  }

  /** Resolves with the view once `predicate(view, connection)` holds (checked
   * now and after every frame); rejects when the stream ends first or after
   * `timeout` ms. */
  waitFor(predicate, { timeout = 10_000 } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        if (this.status !== "opening" && predicate(this.view, this)) {
          done();
          resolve(this.view);
        } else if (this.status === "ended") {
          done();
          reject(this.error || new AdvmError("ended", `the stream on '${this.key}' was ended`));
        }
      };
      const offChange = this.on("change", check);
      const offStatus = this.on("status", check);
      const done = () => {
        offChange();
        offStatus();
        clearTimeout(timer);
      };
      if (timeout !== null && timeout !== Infinity) {
        timer = setTimeout(() => {
          done();
          reject(new AdvmError("timeout", `waited ${timeout} ms on '${this.key}'`));
        }, timeout);
      }
      check();
    });
  }

  // ------------------------------------------------------------------ inside

  _request(params) {
    if (this.status === "ended") return Promise.reject(this.error || new AdvmError("ended", `the stream on '${this.key}' was ended`, "connection/send"));
    if (this.id === null) return Promise.reject(new AdvmError("closed", `'${this.key}' is reconnecting`, "connection/send"));
    return this.client.request("connection/send", { connection: this.id, ...params });
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._listeners.emit("status", status);
  }

  // (re)open on the current socket: a new stream, whose first frame is a whole view
  _start() {
    clearTimeout(this._retry);
    this._retry = null;
    this._fresh = true;
    this.id = this.client._stream(this, { key: this.key, identity: this.identity });
  }

  _frame(response) {
    if (isObject(response.error)) {
      this.notes.push(response.error);
      this._listeners.emit("error", response.error);
      return;
    }
    const body = response.delta;
    if (!isObject(body)) return;
    const data = body.data === undefined ? null : body.data;
    const seq = body.seq === undefined ? null : body.seq;
    try {
      if (this._fresh || body.reset) {
        // a whole view: build it apart, so a bad one leaves the old view shown
        const state = new ViewState();
        if (data !== null) state.apply(data, seq);
        this._state = state;
        this._fresh = false;
      } else if (data !== null) {
        this._state.apply(data, seq);
      }
    } catch (error) {
      if (!(error instanceof DeltaError)) throw error;
      this._resync(error);
      return;
    }
    this._resyncs = 0;
    if (Array.isArray(body.outstanding)) this.outstanding = body.outstanding;
    if (this.status === "opening") this._resolveOpened(this);
    this._setStatus("open");
    this._listeners.emit("change", { data, seq, outstanding: body.outstanding ?? null, reset: !!body.reset });
  }

  // A frame that does not fit: end this stream and open a new one, whose first
  // frame is a whole view (spec/protocol.md 4). Twice in a row is a bug.
  _resync(error) {
    const id = this.id;
    this.client._forget(id);
    this.client.request("connection/end", { connection: id }).catch(() => {});
    if (++this._resyncs > 1 || this.status === "opening") {
      this._finish(new AdvmError("bad_delta", error.message, "connection/create"));
      return;
    }
    this._start();
  }

  // the stream ended normally (a `done` frame)
  _done() {
    this.id = null;
    this._finish(null);
  }

  _failed(error) {
    this.id = null;
    if (this.status !== "opening" && this._wanted && RESUMABLE.has(error.reason)) {
      this._suspend();
      this._retry = setTimeout(() => {
        if (this.id === null && this._wanted && this.client._isOpen()) this._start();
      }, this.client._delay(1));
      return;
    }
    this._finish(error);
  }

  // the socket was lost: the client reopens the stream once it reconnects
  _suspend() {
    this.id = null;
    if (this.status === "opening") {
      this._finish(new AdvmError("closed", `the socket closed before '${this.key}' opened`, "connection/create"));
      return;
    }
    if (this.status !== "ended") this._setStatus("reconnecting");
  }

  _finish(error) {
    if (this.status === "ended") return;
    this._wanted = false;
    clearTimeout(this._retry);
    this.id = null;
    this.error = error;
    this.client._docs.delete(this);
    if (this.status === "opening") this._rejectOpened(error || new AdvmError("ended", `the stream on '${this.key}' was ended`, "connection/create"));
    this._setStatus("ended");
  }
}

/**
 * A client of one advm server. `Client.connect(url, options)` resolves once
 * the server greeted the socket; requests made before then wait for it.
 */
/** One `document/debug` stream: the document's `@debug` lines as its inputs
 * print them (spec/protocol.md 8.4), if its `@static debug` policy lets the
 * principal. `onLines(lines, dropped)` gets each input's lines (`dropped`:
 * lines the server dropped before these, its socket being full). It does
 * not reconnect: it ends (the "end" event, with the failure or null) and a
 * caller subscribes again. */
export class DebugStream {
  constructor(client, key, onLines) {
    this.client = client;
    this.key = key;
    this.id = null;
    /** "opening" | "open" | "ended" */
    this.status = "opening";
    /** the failure that ended it, or null */
    this.error = null;
    this._onLines = onLines;
    this._listeners = new Listeners();
    this.subscribed = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.subscribed.catch(() => {});
  }

  /** `on("end", fn(error or null))`. Returns the function that removes it. */
  on(event, fn) {
    return this._listeners.on(event, fn);
  }

  /** `connection/end`: no more lines. */
  async end() {
    if (this.status === "ended") return;
    const id = this.id;
    this._end(null);
    if (id !== null) {
      try {
        await this.client.request("connection/end", { connection: id });
      } catch (error) {
        // the socket is gone: so is the stream
      }
    }
  }

  _frame(response) {
    if (response.subscribed) {
      this.status = "open";
      this._resolve(this);
    } else if (Array.isArray(response.debug) && this.status === "open") {
      this._onLines(response.debug, response.dropped || 0);
    }
  }

  _done() {
    this._end(null);
  }

  _failed(error) {
    this._end(error);
  }

  _end(error) {
    if (this.status === "ended") return;
    const opening = this.status === "opening";
    this.status = "ended";
    this.error = error;
    this.client._forget(this.id);
    if (opening) this._reject(error || new AdvmError("ended", `the @debug stream of '${this.key}' was ended`, "document/debug"));
    this._listeners.emit("end", error);
  }
}

export class Client {
  /**
   * @param {string} url the server's WebSocket URL (`ws://127.0.0.1:8080/~s`)
   * @param {object} [options]
   */
  constructor(url, options = {}) {
    this.url = url;
    /** what every request that names no identity of its own sends */
    this.identity = options.identity ?? "anonymous";
    /** the space every request names (spec/protocol.md 8.17); null: the server's default space */
    this.space = options.space ?? null;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this.WebSocket !== "function") {
      throw new TypeError("no WebSocket: pass options.WebSocket (on Node before 22, the ws package's WebSocket)");
    }
    this.reconnect = options.reconnect ?? true;
    this.backoff = { initial: 250, max: 8000, ...(options.backoff || {}) };
    /** "connecting" | "open" | "reconnecting" | "closed" */
    this.status = "connecting";
    /** the server's greeting, `{"status": "connected", "server": "advm", ...}` */
    this.server = null;
    /** failures that named no request of this client */
    this.errors = [];
    this._ws = null;
    this._next = 1;
    this._pending = new Map(); // id -> {resolve, reject, method}
    this._streams = new Map(); // id -> Connection
    this._docs = new Set();    // connections to reopen after a reconnect
    this._listeners = new Listeners();
    this._timer = null;
    this._closing = false;
    this._closed = null;
    /** the admin/* methods (admin.js): documents, log, view, debug */
    this.admin = new Admin(this);
    this.ready = this._open().then(
      () => this._setStatus("open"),
      (error) => {
        this._closing = true;
        this._setStatus("closed");
        throw error;
      });
    this.ready.catch(() => {});
  }

  /** A client whose socket is open (rejects with reason `unreachable`). */
  static async connect(url, options = {}) {
    const client = new Client(url, options);
    await client.ready;
    return client;
  }

  /** `on("status", fn(status))`, `on("error", fn(error))` for a failure that
   * named no request. Returns the function that removes the listener. */
  on(event, fn) {
    return this._listeners.on(event, fn);
  }

  /** One request; resolves with its `response`, rejects with AdvmError. */
  async request(method, params = {}) {
    if (this.status === "connecting") await this.ready;
    return new Promise((resolve, reject) => {
      const id = this._send(method, params);
      this._pending.set(id, { resolve, reject, method });
    });
  }

  /** `document/create`: `@static create` decides. */
  create(key, arg, { identity } = {}) {
    const params = { key, identity: identity ?? this.identity };
    if (arg !== undefined) params.arg = arg;
    return this.request("document/create", params);
  }

  /** `document/delete`: `@delete` decides. */
  delete(key, { identity } = {}) {
    return this.request("document/delete", { key, identity: identity ?? this.identity });
  }

  /** `document/debug`: resolves with a DebugStream once subscribed, or
   * rejects with the failure (`debug_refused`, `not_found`...). */
  async debug(key, onLines, { identity } = {}) {
    if (this.status === "connecting") await this.ready;
    const stream = new DebugStream(this, key, onLines);
    stream.id = this._send("document/debug", { key, identity: identity ?? this.identity });
    this._streams.set(stream.id, stream);
    return stream.subscribed;
  }

  /** `connection/create`: resolves with the Connection once its whole view
   * arrived, or rejects with the failure (`connect_refused`, `not_found`...). */
  async open(key, { identity } = {}) {
    if (this.status === "connecting") await this.ready;
    const doc = new Connection(this, key, identity ?? this.identity);
    doc._wanted = true;
    this._docs.add(doc);
    try {
      doc._start();
    } catch (error) {
      doc._finish(error);
    }
    return doc._opened;
  }

  /** `attachment/start`: ask to upload a file to document `key` (its
   * `@can_attach` decides: `attach_refused` otherwise). Resolves with the
   * upload's id on this socket, for `attachmentAppend` and `attachmentFinish`;
   * an upload not finished when the socket closes is thrown away. */
  async attachmentStart(key, { name = "file", type = "application/octet-stream", identity } = {}) {
    const reply = await this.request("attachment/start", { key, name, type, identity: identity ?? this.identity });
    return reply.upload;
  }

  /** `attachment/append`: the upload's next bytes (at most ATTACH_CHUNK a
   * call: a request stays within the server's frame limit). Resolves with the
   * bytes received so far; `too_large` past the server's limit (16 MiB), after
   * which the upload is gone. */
  async attachmentAppend(upload, bytes) {
    const reply = await this.request("attachment/append", { upload, data: toBase64(bytes) });
    return reply.size;
  }

  /** `attachment/finish`: the document's `@attached (a)` receives the file.
   * Resolves with the asset's facts `{id, size, md5, sha384, name, type}`;
   * rejects with `abort` when `@attached` refused it. */
  async attachmentFinish(upload) {
    const reply = await this.request("attachment/finish", { upload });
    return reply.asset;
  }

  /** Upload a file (a Uint8Array, an ArrayBuffer or a Blob) to document `key`
   * over the socket: start, append in ATTACH_CHUNK pieces, finish
   * (spec/protocol.md 8.3, language.md 4.29). `onProgress(sent, total)` after
   * each piece. Resolves with the asset's facts. */
  async attach(key, data, { name, type, identity, onProgress } = {}) {
    let bytes;
    if (data instanceof Uint8Array) bytes = data;
    else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (typeof Blob === "function" && data instanceof Blob) {
      bytes = new Uint8Array(await data.arrayBuffer());
      type ??= data.type || undefined;
      name ??= typeof data.name === "string" ? data.name : undefined;
    } else throw new TypeError("attach() takes a Uint8Array, an ArrayBuffer or a Blob");
    const upload = await this.attachmentStart(key, { name, type, identity });
    for (let at = 0; at < bytes.length; at += ATTACH_CHUNK) {
      const sent = await this.attachmentAppend(upload, bytes.subarray(at, at + ATTACH_CHUNK));
      if (onProgress) onProgress(sent, bytes.length);
    }
    return this.attachmentFinish(upload);
  }

  /** `identity/whoami`: who the documents see for an identity. */
  whoami({ identity } = {}) {
    return this.request("identity/whoami", { identity: identity ?? this.identity });
  }

  /** `identity/mint` (development servers only): a token for `principal`.
   * With `{use: true}` the client sends it from then on. */
  async mint(principal, { use = false } = {}) {
    const minted = await this.request("identity/mint", { principal });
    if (use) this.identity = minted.identity;
    return minted;
  }

  /** `space/reflect`: the channels and messages clients may send. */
  async reflect({ identity } = {}) {
    const reply = await this.request("space/reflect", { identity: identity ?? this.identity });
    return reply.reflection;
  }

  /** Close the socket for good: streams end, nothing reconnects. */
  close() {
    if (this._closed) return this._closed;
    this._closing = true;
    clearTimeout(this._timer);
    const closed = new AdvmError("closed", "the client was closed");
    for (const doc of [...this._docs]) doc._finish(closed);
    const ws = this._ws;
    this._closed = new Promise((resolve) => {
      if (!ws || ws.readyState === 3) {
        resolve();
        return;
      }
      ws.addEventListener("close", () => resolve());
      ws.addEventListener("error", () => resolve()); // a socket still connecting may end so
      ws.close();
    }).then(() => {
      for (const s of this._lose(closed)) {
        if (s instanceof DebugStream) s._failed(closed);
      }
      this._setStatus("closed");
    });
    return this._closed;
  }

  // ------------------------------------------------------------------ inside

  _isOpen() {
    return this._ws !== null && this._ws.readyState === OPEN && this.status === "open";
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this._listeners.emit("status", status);
  }

  // Pause before attempt `n` (1, 2, ...): doubling from `initial` up to `max`, with jitter.
  _delay(n) {
    const { initial, max } = this.backoff;
    const base = Math.min(max, initial * 2 ** Math.min(n - 1, 30));
    return base / 2 + Math.random() * base / 2;
  }

  _send(method, params) {
    if (!this._isOpen()) {
      throw new AdvmError("closed", this.status === "reconnecting"
        ? `not connected to ${this.url}: reconnecting` : `not connected to ${this.url}`, method);
    }
    const id = this._next++;
    const space = this.space != null && params.space === undefined ? { space: this.space } : {};
    this._ws.send(requestText({ id, method, ...space, ...params }));
    return id;
  }

  _stream(doc, params) {
    const id = this._send("connection/create", params);
    this._streams.set(id, doc);
    return id;
  }

  _forget(id) {
    this._streams.delete(id);
  }

  _open() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocket(this.url);
      } catch (error) {
        reject(new AdvmError("unreachable", `could not connect to ${this.url}: ${error.message}`));
        return;
      }
      this._ws = ws;
      let greeted = false;
      ws.onmessage = (event) => {
        if (this._ws !== ws) return;
        let msg;
        try {
          msg = JSON.parse(typeof event.data === "string" ? event.data : String(event.data));
        } catch (error) {
          this._stray(new AdvmError("bad_json", `the server sent text that is not JSON: ${error.message}`));
          return;
        }
        if (!greeted) {
          if (isObject(msg) && msg.status) {
            greeted = true;
            this.server = msg;
            resolve();
          }
          return;
        }
        this._dispatch(msg);
      };
      const unreachable = (how) => {
        this._ws = null;
        reject(new AdvmError("unreachable", `could not connect to ${this.url}${how}`));
      };
      ws.onerror = () => {
        // Before the greeting an error is the end of this attempt (some
        // WebSockets send no close event then); later the close event follows.
        if (this._ws !== ws || greeted) return;
        unreachable("");
        try {
          ws.close();
        } catch {
          // not open yet: nothing to close
        }
      };
      ws.onclose = (event) => {
        if (this._ws !== ws) return;
        if (!greeted) {
          unreachable(event && event.code ? ` (close code ${event.code})` : "");
          return;
        }
        this._ws = null;
        this._lost(event);
      };
    });
  }

  // Reject every request in flight (nobody can say whether it committed).
  _lose(error) {
    for (const p of this._pending.values()) p.reject(new AdvmError(error.reason, error.detail, p.method));
    this._pending.clear();
    const streams = [...this._streams.values()];
    this._streams.clear();
    return streams;
  }

  _lost(event) {
    const why = event && event.code ? ` (close code ${event.code}${event.reason ? `: ${event.reason}` : ""})` : "";
    const lost = new AdvmError("closed", `the connection to ${this.url} was lost${why}`);
    for (const s of this._lose(lost)) {
      if (s instanceof DebugStream) s._failed(lost); // a debug stream ends with its socket
    }
    if (this._closing) return;
    if (!this.reconnect) {
      for (const doc of [...this._docs]) doc._finish(lost);
      this._setStatus("closed");
      return;
    }
    for (const doc of this._docs) doc._suspend();
    this._setStatus("reconnecting");
    this._retryConnect(1);
  }

  _retryConnect(attempt) {
    this._timer = setTimeout(async () => {
      if (this._closing) return;
      try {
        await this._open();
      } catch (error) {
        if (!this._closing) this._retryConnect(attempt + 1);
        return;
      }
      if (this._closing) return;
      this._setStatus("open");
      for (const doc of [...this._docs]) {
        if (doc.id === null) doc._start();
      }
    }, this._delay(attempt));
  }

  _stray(error) {
    this.errors.push(error);
    this._listeners.emit("error", error);
  }

  _dispatch(msg) {
    if (!isObject(msg)) return;
    if (Object.prototype.hasOwnProperty.call(msg, "deliver")) {
      const id = msg.deliver;
      const doc = this._streams.get(id);
      if (doc) {
        if (!msg.done) {
          doc._frame(isObject(msg.response) ? msg.response : {});
        } else {
          this._streams.delete(id);
          doc._done();
        }
        return;
      }
      const p = this._pending.get(id);
      if (p && msg.done) {
        this._pending.delete(id);
        p.resolve(isObject(msg.response) ? msg.response : {});
      }
    } else if (Object.prototype.hasOwnProperty.call(msg, "failure")) {
      const id = msg.failure;
      const doc = this._streams.get(id);
      const p = this._pending.get(id);
      const error = new AdvmError(msg.reason || "unknown", msg.message || "",
        doc ? (doc instanceof DebugStream ? "document/debug" : "connection/create") : p ? p.method : null);
      if (doc) {
        this._streams.delete(id);
        doc._failed(error);
      } else if (p) {
        this._pending.delete(id);
        p.reject(error);
      } else {
        this._stray(error);
      }
    }
  }
}

/** `Client.connect(url, options)`. */
export function connect(url, options) {
  return Client.connect(url, options);
}

// Types of advm's JavaScript client (index.js). Protocol: spec/protocol.md section 8.

/** A JSON value as a view holds it (a `long` is a string of digits). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The plain view a principal sees: the document's visible fields, formulas and bubbles. */
export type View = { [member: string]: Json };

/** A value a request may carry: JSON, plus BigInt for a `long` past 2^53. */
export type Sendable = null | boolean | number | string | bigint | Sendable[] | { [key: string]: Sendable };

/** The protocol's failure reasons (spec/protocol.md 8.7), the client's own
 * (`unreachable`, `closed`, `ended`, `bad_delta`, `timeout`), and the
 * runtime's codes (`abort`, `assert`, `invalid_answer`, ...). */
export type Reason =
  | "bad_json" | "bad_request" | "bad_frame" | "frame_too_large" | "too_deep" | "unknown_method"
  | "rate_limited" | "too_many_streams" | "queue_full"
  | "bad_token" | "expired_token" | "revoked_token" | "anonymous_refused" | "mint_refused" | "bad_key"
  | "unknown_connection" | "not_found" | "already_created" | "create_refused" | "connect_refused"
  | "destroyed" | "disconnected" | "worker_failed" | "reloaded" | "shutting_down"
  | "abort" | "assert" | "budget" | "error" | "input" | "wrong_principal" | "unknown_ask"
  | "stale_ask" | "invalid_answer" | "no_open_ask" | "delete_refused" | "store" | "internal"
  | "admin_refused" | "no_store"
  | "attach_refused" | "no_uploads" | "too_many_uploads" | "too_large" | "unknown_upload"
  | "unreachable" | "closed" | "ended" | "bad_delta" | "timeout"
  | (string & {});

/** A failure: `message` is `"reason: detail"`. */
export class AdvmError extends Error {
  constructor(reason: Reason, detail: string, method?: string | null);
  readonly name: "AdvmError";
  /** the protocol's code, or the client's own */
  readonly reason: Reason;
  /** the server's text (for connect_refused it names the hook that refused) */
  readonly detail: string;
  /** the request that failed (`connection/create`, `connection/send`, ...), if any */
  readonly method: string | null;
}

/** A patch that does not fit the view it was applied to. */
export class DeltaError extends Error {
  readonly name: "DeltaError";
}

/** An open ask of the principal (spec/protocol.md 8.4). */
export interface Ask {
  id: number;
  channel: string;
  kind: "fetch" | "decide" | "choose";
  /** for decide and choose */
  options?: Json[];
  /** for choose: how many options at most */
  limit?: number;
}

/** One frame as applied. */
export interface Update {
  /** the frame's patch (null when only the asks changed) */
  data: { [key: string]: Json } | null;
  seq: number | null;
  /** the asks when they changed, else null */
  outstanding: Ask[] | null;
  reset: boolean;
}

/** An error the document addressed to this principal (an `error` frame). */
export interface DocumentNote {
  code: string;
  message: string;
}

export type ConnectionStatus = "opening" | "open" | "reconnecting" | "ended";
export type ClientStatus = "connecting" | "open" | "reconnecting" | "closed";

/** A descriptor of a message field's type, as `space/reflect` gives it. */
export type TypeDescriptor = string | [string, ...(TypeDescriptor | string)[]];

export interface Reflection {
  channels: { [name: string]: { message: string; array: boolean; complete: boolean } };
  messages: { [name: string]: { fields: { name: string; type: TypeDescriptor }[] } };
  enums: { [name: string]: string[] };
  constructor: string | null;
}

export interface Principal {
  principal: string;
  agent: string;
  authority: string;
  anonymous: boolean;
}

/** What a message's code told its sender's connection (`ViewState`, spec/protocol.md 8.3). */
export type ViewStateChange = { merge: any } | { goto: string };

/** The reply to `connection/send`. */
export interface SendReply {
  seq?: number;
  viewstate?: ViewStateChange[];
}

/** Channel name -> the message it takes: what `advm types DOC --lang ts` writes for a
 * document (spec/protocol.md 8.19); by default any channel takes any JSON. */
export type Channels = { [channel: string]: Sendable };

/** One `connection/create` stream: a document as one principal sees it. `V` is its view,
 * `C` its channels and `A` the channels it asks on, as `advm types` declares them. */
export class Connection<V = View, C extends object = Channels, A extends object = Channels> {
  readonly client: Client;
  readonly key: string;
  readonly identity: string;
  /** the stream's id on the current socket; null while reconnecting */
  readonly id: number | null;
  readonly status: ConnectionStatus;
  /** why the stream ended (null when `end()` ended it) */
  readonly error: AdvmError | null;
  /** the plain view: the same object until the next frame, so treat it as read-only */
  readonly view: V;
  readonly seq: number | null;
  readonly outstanding: Ask[];
  readonly notes: DocumentNote[];
  /** the viewer state the document's `ViewState.merge` told this connection (merged) */
  readonly viewerState: { [key: string]: any };
  /** the paths the document's `ViewState.goto` sent this connection to, oldest first */
  readonly goneTo: string[];
  on(event: "change", fn: (update: Update) => void): () => void;
  on(event: "status", fn: (status: ConnectionStatus) => void): () => void;
  on(event: "error", fn: (note: DocumentNote) => void): () => void;
  on(event: "viewstate", fn: (change: ViewStateChange) => void): () => void;
  /** resolves with the input's reply (`{seq}`, and `viewstate` when the message's code called ViewState) once it committed */
  send<K extends keyof C & string>(channel: K, message: C[K]): Promise<SendReply>;
  /** answer an ask of `outstanding` (or the ask's id) */
  answer(ask: Ask | number, message: A[keyof A]): Promise<{ seq?: number }>;
  end(): Promise<void>;
  /** resolves with the view once `predicate` holds; rejects if the stream ends first or after `timeout` ms (default 10 s; null: never) */
  waitFor(predicate: (view: V, connection: Connection<V, C, A>) => boolean, options?: { timeout?: number | null }): Promise<V>;
}

export interface ClientOptions {
  /** a token (`advm token NAME`, or `identity/mint`) or "anonymous" (the default) */
  identity?: string;
  /** a WebSocket class; default globalThis.WebSocket (browsers, Node >= 22) */
  WebSocket?: new (url: string) => any;
  /** reconnect and reopen every stream when the socket is lost (default true) */
  reconnect?: boolean;
  /** pauses between attempts, in ms: doubling from `initial` (250) to `max` (8000), with jitter */
  backoff?: { initial?: number; max?: number };
  /** the space (program) of the documents this client names (spec/protocol.md 8.17); default: the server's default space */
  space?: string;
}

/** One document in `admin/documents`. */
export interface AdminDocument {
  key: string;
  /** running on a worker now */
  loaded: boolean;
  /** exists, and is not loaded */
  sleeping: boolean;
  /** the state machine's label (null: none; also null on a memory-only server) */
  state: string | null;
  /** the state a delayed transition will enter, if one is scheduled */
  pending: string | null;
  /** the last logged seq (null on a memory-only server) */
  seq: number | null;
  /** when the document next wakes (ms since the epoch), or null */
  timer: number | null;
  /** its unanswered asks (null on a memory-only server) */
  asks: { id: number; to: string; channel: string; kind: string }[] | null;
  /** connected principals and their stream counts */
  viewers: { [principal: string]: number };
  /** inputs in flight */
  queue: number;
  /** why its state could not be read (a damaged document), if so */
  problem?: string;
}

/** One logged input in `admin/log`. */
export interface LogEntry {
  seq: number;
  /** document time, ms since the epoch */
  time: number;
  /** create, send, answer, connect, disconnect, advance, delete, load, ... */
  kind: string;
  principal: string | null;
  channel: string | null;
  /** what was sent (the message, the @construct argument, ...) */
  input: Json;
  /** what the sender got: "ok", or a failure's code */
  outcome: string | null;
  /** for an answer: the ask's id */
  ask?: number;
}

/** `admin/view`: a principal's view at a seq, replayed (a preview). */
export interface Preview {
  key: string;
  /** the seq shown, and the last one there is */
  seq: number;
  last: number;
  principal: string;
  preview: true;
  /** what marks it as a preview, for people */
  note: string;
  /** null when the document was not created yet or was deleted at that seq */
  view: View | null;
  /** the RFC 7396 merge patch from the view at seq - 1 to this one (lists whole); null: no change */
  delta: { [member: string]: Json } | null;
  outstanding: Ask[];
  state: string | null;
  created: boolean;
  destroyed: boolean;
  next_due: number | null;
  /** the @debug lines printed up to this seq */
  debug: string[];
  /** each replicated value's status (spec/language.md 4.30), for a document that replicates */
  replication?: ReplicationStatus[];
}

/** One operation of a replicated value: the pending one, or the last refused for good (with its `code`). */
export interface ReplicationOperation {
  call: string;
  op: "create" | "update" | "delete";
  hash: string | null;
  attempts: number;
  error: string;
  code?: number;
}

/** A replicated value as admin/view shows it (the same as `advm snapshot inspect --json`). */
export interface ReplicationStatus {
  name: string;
  service: string;
  method: string;
  acked: string | null;
  ops: number;
  too_large: string | null;
  pending: ReplicationOperation | null;
  failed: ReplicationOperation | null;
}

/** The admin/* methods (spec/protocol.md 8.11), as `client.admin`. A loopback
 * dev server answers its own page and non-browser clients; other servers only
 * an identity minted with `advm token NAME --admin` (else `admin_refused`). */
export class Admin {
  constructor(client: Client);
  readonly client: Client;
  documents(options?: { identity?: string }): Promise<{ backend: "durable" | "memory"; documents: AdminDocument[]; more: boolean }>;
  /** rejects with `no_store` on a memory-only server, `not_found` for an unknown key */
  log(key: string, options?: { after?: number; limit?: number; identity?: string }): Promise<{ key: string; first: number; last: number; entries: LogEntry[] }>;
  view(key: string, principal: string, options?: { seq?: number | null; identity?: string }): Promise<Preview>;
  debug(key: string, options?: { seq?: number | null; identity?: string }): Promise<{ key: string; seq: number; last: number; lines: string[] }>;
}

/** A document's `@debug` lines as its inputs print them (spec/protocol.md 8.4); never reconnects. */
export class DebugStream {
  readonly client: Client;
  readonly key: string;
  readonly status: "opening" | "open" | "ended";
  /** the failure that ended it, or null */
  readonly error: AdvmError | null;
  readonly subscribed: Promise<DebugStream>;
  on(event: "end", fn: (error: AdvmError | null) => void): () => void;
  /** connection/end: no more lines */
  end(): Promise<void>;
}

/** An uploaded file's facts (spec/language.md 4.29): `id` is the SHA-384 of its bytes, in hex. */
export interface Asset {
  id: string;
  size: number;
  md5: string;
  sha384: string;
  name: string;
  type: string;
}

/** Bytes of one `attachment/append` (its base64 request stays within the server's frame limit). */
export declare const ATTACH_CHUNK: number;

export class Client {
  constructor(url: string, options?: ClientOptions);
  /** the admin/* methods */
  readonly admin: Admin;
  /** a client whose socket is open; rejects with reason `unreachable` */
  static connect(url: string, options?: ClientOptions): Promise<Client>;
  readonly url: string;
  /** sent by every request that names no identity of its own */
  identity: string;
  /** sent by every request that names no space of its own; null: the server's default space */
  space: string | null;
  readonly status: ClientStatus;
  /** resolves once the first socket is open */
  readonly ready: Promise<void>;
  /** the server's greeting */
  readonly server: { status: string; server: string; [key: string]: Json } | null;
  /** failures that named no request */
  readonly errors: AdvmError[];
  on(event: "status", fn: (status: ClientStatus) => void): () => void;
  on(event: "error", fn: (error: AdvmError) => void): () => void;
  /** any method of spec/protocol.md 8.3: resolves with the reply's `response` */
  request(method: string, params?: { [field: string]: Sendable }): Promise<{ [key: string]: Json }>;
  create(key: string, arg?: Sendable, options?: { identity?: string }): Promise<{}>;
  delete(key: string, options?: { identity?: string }): Promise<{}>;
  /** resolves once the whole view arrived; rejects with connect_refused, not_found, ... */
  open<V = View, C extends object = Channels, A extends object = Channels>(
    key: string, options?: { identity?: string }): Promise<Connection<V, C, A>>;
  /** `document/debug`: resolves once subscribed; rejects with debug_refused, not_found, ... */
  debug(key: string, onLines: (lines: string[], dropped: number) => void,
        options?: { identity?: string }): Promise<DebugStream>;
  /** `attachment/start`: the upload's id on this socket; rejects with attach_refused, no_uploads, too_many_uploads */
  attachmentStart(key: string, options?: { name?: string; type?: string; identity?: string }): Promise<number>;
  /** `attachment/append` (at most ATTACH_CHUNK bytes): the bytes received so far; rejects with too_large, unknown_upload */
  attachmentAppend(upload: number, bytes: Uint8Array): Promise<number>;
  /** `attachment/finish`: `@attached (a)` ran; rejects with abort when it refused the file */
  attachmentFinish(upload: number): Promise<Asset>;
  /** start, append in ATTACH_CHUNK pieces, finish (a Blob gives its type and, for a File, its name) */
  attach(key: string, data: Uint8Array | ArrayBuffer | Blob,
         options?: { name?: string; type?: string; identity?: string;
                     onProgress?: (sent: number, total: number) => void }): Promise<Asset>;
  whoami(options?: { identity?: string }): Promise<Principal>;
  /** development servers only; with `use: true` the client sends the token from then on */
  mint(principal: string, options?: { use?: boolean }): Promise<{ identity: string; principal: string }>;
  reflect(options?: { identity?: string }): Promise<Reflection>;
  /** close for good: streams end, nothing reconnects */
  close(): Promise<void>;
}

export function connect(url: string, options?: ClientOptions): Promise<Client>;

/** Merge a patch into an encoded view in place (spec/protocol.md 2-3). */
export function applyDelta(encoded: { [key: string]: any }, delta: { [key: string]: any }): { [key: string]: any };
/** The plain view an encoded view stands for. */
export function materialize(encoded: any): any;

export class ViewState {
  encoded: { [key: string]: any };
  seq: number | null;
  reset(): void;
  apply(delta: { [key: string]: any }, seq?: number | null): void;
  readonly view: View;
}

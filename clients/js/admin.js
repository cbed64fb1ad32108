// The admin/* methods (spec/protocol.md 8.11): what the dev console shows of
// a server's documents. `client.admin` is one of these. A loopback dev server
// (advm run on 127.0.0.1) answers its own page and non-browser clients; any
// other server only an identity minted with `advm token NAME --admin`.

export class Admin {
  constructor(client) {
    this.client = client;
  }

  _request(method, params, identity) {
    return this.client.request(method, { ...params, identity: identity ?? this.client.identity });
  }

  /** `admin/documents`: every document, loaded or sleeping, with its state,
   * timer, open asks and viewers. */
  documents({ identity } = {}) {
    return this._request("admin/documents", {}, identity);
  }

  /** `admin/log`: the logged inputs of `key` after seq `after` (at most `limit`). */
  log(key, { after = 0, limit = 100, identity } = {}) {
    return this._request("admin/log", { key, after, limit }, identity);
  }

  /** `admin/view`: the view `principal` would see of `key` at `seq` (default:
   * its last), replayed from the log: a preview, nobody connects. */
  view(key, principal, { seq, identity } = {}) {
    const params = { key, principal };
    if (seq !== undefined && seq !== null) params.seq = seq;
    return this._request("admin/view", params, identity);
  }

  /** `admin/debug`: the `@debug` lines the inputs of `key` printed, up to `seq`. */
  debug(key, { seq, identity } = {}) {
    const params = { key };
    if (seq !== undefined && seq !== null) params.seq = seq;
    return this._request("admin/debug", params, identity);
  }
}

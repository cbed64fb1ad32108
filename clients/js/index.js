// advm's JavaScript client: an ES module without dependencies, for browsers
// and Node (>= 22 has a global WebSocket; older ones pass the ws package's).
// Types: index.d.ts. Protocol: spec/protocol.md section 8.

export { Admin } from "./admin.js";
export { ATTACH_CHUNK, AdvmError, Client, Connection, DebugStream, connect } from "./client.js";
export { DeltaError, ViewState, applyDelta, materialize } from "./delta.js";

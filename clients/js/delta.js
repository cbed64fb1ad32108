// The viewer stream's merge (spec/protocol.md sections 1-4): apply a frame's
// patch to the encoded view a client holds, and turn the encoded view into
// the plain view (tables and value lists as arrays). The Python reference is
// views/merge.py; clients/js/test/vectors.json holds patches both must agree on.

const ORDER = "@o";
const SIZE = "@s";
const ESCAPE = "@";

/** A patch that does not fit the view it was applied to: a lost, repeated or
 * reordered frame, or a server bug. The remedy is a whole view (the client
 * reopens the stream). */
export class DeltaError extends Error {
  constructor(message) {
    super(message);
    this.name = "DeltaError";
  }
}

const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const kindOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
// The encoded view is made of objects without a prototype, so that a map key
// such as "__proto__" or "constructor" is an ordinary member there.
const dict = () => Object.create(null);

// Set a member: on an object with a prototype (a caller's encoded view, a
// plain view) assigning "__proto__" would set the prototype, so that one key
// is defined instead.
function put(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * Merge `delta` into `encoded` in place (RFC 7396, plus "@o" expanded against
 * the order held before the patch) and return `encoded`. Nothing of `delta`
 * is kept by reference.
 * @param {Record<string, any>} encoded
 * @param {Record<string, any>} delta
 * @returns {Record<string, any>}
 */
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
      // applied last: its ranges name positions in the order before this patch
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
        child = dict();
        put(target, key, child);
      }
      merge(child, value);
    } else {
      if (!own(target, key)) membership = true;
      put(target, key, clone(value));
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

/**
 * The plain view an encoded view stands for, as a fresh tree of ordinary
 * objects and arrays: an object with "@o" becomes the array of its rows in
 * that order, one with "@s" an array of that length (missing items are null),
 * any other object an object with one "@" taken off escaped keys.
 * @param {any} encoded
 * @returns {any}
 */
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
  const plain = {};
  for (let key of Object.keys(encoded)) {
    const value = encoded[key];
    if (key.slice(0, 1) === ESCAPE) {
      if (key.slice(1, 2) !== ESCAPE) throw new DeltaError(`reserved key ${JSON.stringify(key)} in an object that is not a list`);
      key = key.slice(1);
    }
    put(plain, key, materialize(value));
  }
  return plain;
}

/** One viewer's copy of its view: the encoded view patches apply to, the last
 * seq, and the plain view on demand (cached until the next patch). */
export class ViewState {
  constructor() {
    this.reset();
  }

  /** Forget everything: the next frame is a whole view. */
  reset() {
    this.encoded = dict();
    this.seq = null;
    this._plain = undefined;
  }

  /** Apply one frame's patch; `seq` must grow strictly (gaps are normal). */
  apply(delta, seq) {
    if (seq !== undefined && seq !== null) {
      if (!Number.isInteger(seq)) throw new DeltaError(`seq is an integer, not ${kindOf(seq)}`);
      if (this.seq !== null && seq <= this.seq) {
        throw new DeltaError(`frame seq ${seq} after seq ${this.seq}: repeated or reordered`);
      }
    }
    applyDelta(this.encoded, delta);
    if (seq !== undefined && seq !== null) this.seq = seq;
    this._plain = undefined;
  }

  /** The plain view; the same object until the next patch, so treat it as read-only. */
  get view() {
    if (this._plain === undefined) this._plain = materialize(this.encoded);
    return this._plain;
  }
}

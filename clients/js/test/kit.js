// What the tests share: a WebSocket for Node, and `advm run` started on
// 127.0.0.1 with --port 0 (or a port given, to restart on the same one).

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BOARD = fileURLToPath(new URL("./fixtures/board.adb", import.meta.url));
const PYTHON = process.env.ADVM_PYTHON || "python3";

/** Node >= 22 has a global WebSocket; older ones use the ws package (Debian's
 * node-ws, or npm's devDependency). */
export function webSocket() {
  if (typeof globalThis.WebSocket === "function") return globalThis.WebSocket;
  try {
    return createRequire(import.meta.url)("ws").WebSocket;
  } catch {
    throw new Error("no WebSocket: use Node >= 22, or install the ws package (apt-get install node-ws, or npm install)");
  }
}

export function scratch(t) {
  const dir = mkdtempSync(join(tmpdir(), "advm-js-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `advm run FILE --port PORT --store DIR`; resolves once it prints its URL. */
export function serve({ document = BOARD, store, port = 0, cwd }) {
  const args = ["-m", "advm", "run", document, "--port", String(port), "--workers", "0"];
  args.push(...(store ? ["--store", store] : ["--memory"]));
  const proc = spawn(PYTHON, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stderr.setEncoding("utf8").on("data", (chunk) => { err += chunk; });
  const exited = new Promise((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    proc.stdout.setEncoding("utf8").on("data", (chunk) => {
      out += chunk;
      const m = out.match(/ at (http:\/\/127\.0\.0\.1:(\d+)\/) \(WebSocket (ws:\/\/\S+)\)/);
      if (!m) return;
      resolve({
        page: m[1],
        port: Number(m[2]),
        url: m[3],
        /** Ctrl-C, as a user stops it; resolves with its stderr once it exited 0. */
        async stop() {
          proc.kill("SIGINT");
          const { code, signal } = await exited;
          if (code !== 0) throw new Error(`advm run exited ${code ?? signal}:\n${err}`);
          return err;
        },
      });
    });
    exited.then(({ code, signal }) => reject(new Error(`advm run exited ${code ?? signal} before serving:\n${out}${err}`)));
  });
}

/** JSON with sorted keys: equal text for equal JSON, whatever the member order. */
export function canonical(value) {
  return JSON.stringify(value, (_, v) => (v !== null && typeof v === "object" && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

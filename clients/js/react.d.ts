// Types of the React hook (react.js); React itself is the caller's.
import type { Ask, AdvmError, Client, Connection, ConnectionStatus, View } from "./index.js";

export interface DocumentState<V = View> {
  /** the open stream, once its whole view arrived */
  doc: Connection<V> | null;
  view: V | null;
  outstanding: Ask[];
  /** "failed" when the open was refused (see `error`) */
  status: ConnectionStatus | "failed";
  error: AdvmError | null;
}

/** Opens `key` while the component is mounted (ends it after), renders again after every frame. */
export function useDocument<V = View>(client: Client | null, key: string | null,
                                      options?: { identity?: string }): DocumentState<V>;

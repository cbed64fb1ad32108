// A React hook over the client: useDocument(client, key) opens the document
// while the component is mounted and renders again after every frame. React
// is the caller's (a peer dependency of this module only: index.js never
// imports it).

import { useEffect, useState } from "react";

/**
 * @param {import("./index.js").Client | null} client
 * @param {string | null} key
 * @param {{identity?: string}} [options]
 */
export function useDocument(client, key, { identity } = {}) {
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState(null);
  const [, setTick] = useState(0);

  useEffect(() => {
    setDoc(null);
    setError(null);
    if (!client || !key) return undefined;
    let live = true;
    let opened = null;
    client.open(key, identity === undefined ? {} : { identity }).then(
      (d) => {
        if (live) {
          opened = d;
          setDoc(d);
        } else {
          d.end().catch(() => {});
        }
      },
      (e) => {
        if (live) setError(e);
      });
    return () => {
      live = false;
      if (opened) opened.end().catch(() => {});
    };
  }, [client, key, identity]);

  useEffect(() => {
    if (!doc) return undefined;
    const bump = () => setTick((n) => n + 1);
    const off = [doc.on("change", bump), doc.on("status", bump)];
    return () => off.forEach((f) => f());
  }, [doc]);

  return {
    doc,
    view: doc ? doc.view : null,
    outstanding: doc ? doc.outstanding : [],
    status: error ? "failed" : doc ? doc.status : "opening",
    error: error || (doc && doc.error) || null,
  };
}

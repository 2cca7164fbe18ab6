// SIGHUP: which settings a running server can take over, and which need a
// restart. The latter keep their running values (never half-applied) and are
// named in a log line and in `parley status`.

import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config/types.js";

/** Dotted paths (a section name covers all its keys) that only a restart applies. */
export const RESTART_ONLY: readonly string[] = [
  "server.domains",
  "server.data_dir",
  "listen.interfaces",
  "listen.c2s_ports",
  "listen.c2s_direct_tls_ports",
  "audit.enabled",
  "audit.path",
  "audit.commit_window_ms",
  "audit.max_batch",
  "admin",
  "metrics",
];

type Table = Record<string, unknown>;

function get(obj: unknown, path: string): unknown {
  let v = obj;
  for (const k of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Table)[k];
  }
  return v;
}

function set(obj: Table, path: string, value: unknown): void {
  const keys = path.split(".");
  let t = obj;
  for (const k of keys.slice(0, -1)) {
    const next = t[k];
    if (next === null || typeof next !== "object") return;
    t = next as Table;
  }
  t[keys[keys.length - 1]!] = value;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object" && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

const isTable = (v: unknown): v is Table =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The leaf keys (dotted) whose values differ. */
function differences(a: unknown, b: unknown, at: string): string[] {
  if (!isTable(a) || !isTable(b)) return isDeepStrictEqual(a, b) ? [] : [at];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) => differences(a[k], b[k], `${at}.${k}`));
}

/**
 * The configuration to run with after a reload: `requested`, except that every
 * restart-only setting keeps its running value. `needsRestart` names the ones
 * whose requested value differs (and so waits for a restart).
 */
export function reconcile(
  running: Config,
  requested: Config,
): { config: Config; needsRestart: string[] } {
  const needsRestart: string[] = [];
  const effective = structuredClone(requested) as unknown as Table;
  for (const path of RESTART_ONLY) {
    const before = get(running, path);
    const after = get(requested, path);
    if (before === undefined && after === undefined) continue;
    if (!isDeepStrictEqual(before, after)) {
      needsRestart.push(...differences(before, after, path));
      set(effective, path, structuredClone(before));
    }
  }
  return { config: deepFreeze(effective) as unknown as Config, needsRestart };
}

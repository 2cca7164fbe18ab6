// What `parley status` shows: gathered in the server, sent over the admin socket.

import { stat } from "node:fs/promises";
import type { AuditQueue, LoopLag } from "../metrics/server.js";

export interface Status {
  version: string;
  pid: number;
  started_at: string;
  uptime_seconds: number;
  config: { source: string | null; needs_restart: string[] };
  domains: string[];
  listeners: { kind: string; address: string; port: number }[];
  sessions: number;
  connections: number;
  accounts: number;
  audit: {
    enabled: boolean;
    file: string;
    /** Database plus write-ahead log, in bytes. */
    bytes: number;
    /** Records waiting for their commit, and how long the oldest has waited (the lag). */
    queue: AuditQueue;
    /** Mean commit time since start, in ms. */
    write_ms_mean: number;
    committed: number;
    failed: number;
  };
  event_loop_lag_ms: LoopLag;
  memory_rss_bytes: number;
}

/** Size of a SQLite file with its -wal beside it; 0 when absent. */
export async function sqliteBytes(file: string): Promise<number> {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += (await stat(f)).size;
    } catch {
      // absent (audit off, or no WAL yet)
    }
  }
  return total;
}

function duration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return [d ? `${d}d` : "", d || h ? `${h}h` : "", d || h || m ? `${m}m` : "", `${s % 60}s`]
    .filter(Boolean)
    .join(" ");
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(1)} ${units[u]}`;
}

/** The human-readable form, one fact per line. */
export function formatStatus(s: Status): string {
  const lines = [
    `parley ${s.version}, pid ${s.pid}, up ${duration(s.uptime_seconds)} (since ${s.started_at})`,
    `config:      ${s.config.source ?? "embedded defaults"}`,
  ];
  if (s.config.needs_restart.length)
    lines.push(`             changed, needs a restart: ${s.config.needs_restart.join(", ")}`);
  lines.push(
    `domains:     ${s.domains.join(", ")}`,
    `listening:   ${s.listeners.map((l) => `${l.address}:${l.port} (${l.kind})`).join(", ") || "nothing"}`,
    `sessions:    ${s.sessions} (connections: ${s.connections})`,
    `accounts:    ${s.accounts}`,
  );
  const a = s.audit;
  if (a.enabled) {
    lines.push(
      `audit:       ${a.file}, ${bytes(a.bytes)}`,
      `audit lag:   ${a.queue.length} waiting, oldest ${a.queue.oldest_ms.toFixed(1)} ms; mean commit ${a.write_ms_mean.toFixed(2)} ms over ${a.committed} records${a.failed ? `; ${a.failed} FAILED` : ""}`,
    );
  } else lines.push("audit:       OFF (audit.enabled = false): nothing is recorded");
  lines.push(
    `event loop:  lag mean ${s.event_loop_lag_ms.mean_ms.toFixed(1)} ms, p99 ${s.event_loop_lag_ms.p99_ms.toFixed(1)} ms, max ${s.event_loop_lag_ms.max_ms.toFixed(1)} ms`,
    `memory:      ${bytes(s.memory_rss_bytes)} resident`,
  );
  return lines.join("\n");
}

// Reading the trail for the compliance officer: filters, a streaming iterator
// (keyset pages by seq, never the whole result in memory), time parsing.

import type { SqliteDb, SqlParam } from "../storage/sqlite/db.js";
import type { Direction, RecordKind, StoredRecord } from "./record.js";
import { RESOLVED_COLUMNS, type RecordRow, fromRow } from "./store.js";

export interface AuditFilter {
  /** A bare JID: records of its sessions, and stanzas from or to it. */
  participant?: string;
  /** Both participants of a conversation (bare JIDs): messages between them only. */
  between?: [string, string];
  since?: number;
  until?: number;
  kinds?: RecordKind[];
  directions?: Direction[];
  /** Full-text query over message bodies (FTS5), matched as a phrase. */
  text?: string;
}

export class AuditQueryError extends Error {}

export const KINDS: readonly RecordKind[] = ["message", "presence", "iq", "session", "admin", "purge"];

/**
 * The WHERE clause of a filter. Kind, direction and time are written as +column:
 * results stream in seq order a page at a time, and a scan of the primary key
 * from the last seq costs one pass over the table in all, where an index on
 * kind or ts would be re-read and re-sorted for every page (quadratic on a
 * million records).
 */
function where(f: AuditFilter): { sql: string; params: SqlParam[] } {
  const parts: string[] = [];
  const params: SqlParam[] = [];
  if (f.participant) {
    parts.push("(account = ? OR from_bare = ? OR to_bare = ?)");
    params.push(f.participant, f.participant, f.participant);
  }
  if (f.between) {
    const [a, b] = f.between;
    parts.push("((from_bare = ? AND to_bare = ?) OR (from_bare = ? AND to_bare = ?))");
    params.push(a, b, b, a);
  }
  if (f.since !== undefined) {
    parts.push("+ts >= ?");
    params.push(f.since);
  }
  if (f.until !== undefined) {
    parts.push("+ts < ?");
    params.push(f.until);
  }
  if (f.kinds?.length) {
    parts.push(`+kind IN (${f.kinds.map(() => "?").join(",")})`);
    params.push(...f.kinds);
  }
  if (f.directions?.length) {
    parts.push(`+direction IN (${f.directions.map(() => "?").join(",")})`);
    params.push(...f.directions);
  }
  if (f.text) {
    parts.push("seq IN (SELECT rowid FROM bodies WHERE bodies MATCH ?)");
    params.push(`"${f.text.replace(/"/g, '""')}"`);
  }
  return { sql: parts.length ? parts.join(" AND ") : "1", params };
}

/** Matching records in seq (commit) order, a page at a time. */
export async function* iterateRecords(db: SqliteDb, f: AuditFilter, limit = Infinity, page = 500): AsyncGenerator<StoredRecord> {
  const { sql, params } = where(f);
  let after = 0;
  let left = limit;
  while (left > 0) {
    const n = Math.min(page, left);
    const rows = await db.all<RecordRow>(`SELECT ${RESOLVED_COLUMNS} FROM records WHERE seq > ? AND ${sql} ORDER BY seq LIMIT ${n}`, [
      after,
      ...params,
    ]);
    for (const row of rows) yield fromRow(row);
    if (rows.length < n) return;
    after = rows[rows.length - 1]!.seq;
    left -= rows.length;
  }
}

/** A message's body, from its recorded XML (records keep XML, not parsed fields). */
export function bodyOf(xml: string | null): string | null {
  if (!xml) return null;
  const m = /<body(?:\s[^>]*)?>([\s\S]*?)<\/body>/.exec(xml);
  if (!m) return null;
  return m[1]!
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/**
 * Dates for --since/--until: ISO 8601 (2024-05-01, 2024-05-01T09:30, with Z or
 * an offset; without one it is UTC), or milliseconds since the epoch.
 */
export function parseTime(text: string, option: string): number {
  if (/^\d{10,}$/.test(text)) return Number(text);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(text);
  const ms = m ? Date.parse(m[4] === undefined ? `${text}T00:00:00Z` : m[8] ? text : `${text.replace(" ", "T")}Z`) : NaN;
  if (Number.isNaN(ms)) {
    throw new AuditQueryError(`${option}: "${text}" is not a date (use 2024-05-01, 2024-05-01T09:30:00Z or milliseconds since 1970)`);
  }
  return ms;
}

/** True when the trail mentions the address (accounts deleted since stay known). */
export async function mentioned(db: SqliteDb, bare: string): Promise<boolean> {
  const row = await db.get("SELECT 1 FROM records WHERE account = ? OR from_bare = ? OR to_bare = ? LIMIT 1", [bare, bare, bare]);
  return row !== undefined;
}

export function formatTime(ts: number): string {
  return new Date(ts).toISOString().replace("T", " ").replace("Z", "");
}

/** One line of a conversation: time, sender (full JID), recipient, body. */
export function conversationLine(r: StoredRecord): string | null {
  const body = bodyOf(r.xml);
  if (body === null) return null;
  const indented = body.replace(/\n/g, "\n    ");
  return `${formatTime(r.ts)}  ${r.from ?? "?"} -> ${r.to ?? "?"}: ${indented}`;
}

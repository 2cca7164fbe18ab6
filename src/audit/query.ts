// Reading the trail for the compliance officer: filters, a streaming iterator
// (keyset pages by seq, never the whole result in memory), time parsing.

import type { SqliteDb, SqlParam } from "../storage/sqlite/db.js";
import type { Direction, RecordKind, StoredRecord } from "./record.js";
import { BLOCK_BITS, RESOLVED_COLUMNS, type RecordRow, fromRow } from "./store.js";

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
 * million records). Participants are looked up in one block of records (see
 * BLOCK_BITS): their indexes lead with the block.
 */
function where(f: AuditFilter, block: number): { sql: string; params: SqlParam[] } {
  const parts: string[] = [];
  const params: SqlParam[] = [];
  const inBlock = (column: string) => `SELECT seq FROM records WHERE seq >> ${BLOCK_BITS} = ? AND ${column} = ?`;
  if (f.participant) {
    parts.push(`seq IN (${["account", "from_bare", "to_bare"].map(inBlock).join(" UNION ALL ")})`);
    params.push(block, f.participant, block, f.participant, block, f.participant);
  }
  if (f.between) {
    const [a, b] = f.between;
    parts.push(`seq IN (${inBlock("from_bare")} AND to_bare = ? UNION ALL ${inBlock("from_bare")} AND to_bare = ?)`);
    params.push(block, a, b, block, b, a);
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

/** The block of the newest record (0 for an empty trail). */
async function newestBlock(db: SqliteDb): Promise<number> {
  const row = await db.get<{ seq: number | null }>("SELECT max(seq) AS seq FROM records");
  return (row?.seq ?? 0) >> BLOCK_BITS;
}

/** Matching records in seq (commit) order, a page at a time; by participant, a block at a time. */
export async function* iterateRecords(db: SqliteDb, f: AuditFilter, limit = Infinity, page = 500): AsyncGenerator<StoredRecord> {
  const blockwise = f.participant !== undefined || f.between !== undefined;
  const oldest = blockwise ? await db.get<{ seq: number | null }>("SELECT min(seq) AS seq FROM records") : undefined;
  let block = (oldest?.seq ?? 0) >> BLOCK_BITS;
  let after = 0;
  let left = limit;
  while (left > 0) {
    const n = Math.min(page, left);
    const { sql, params } = where(f, block);
    const rows = await db.all<RecordRow>(`SELECT ${RESOLVED_COLUMNS} FROM records WHERE seq > ? AND ${sql} ORDER BY seq LIMIT ${n}`, [
      after,
      ...params,
    ]);
    for (const row of rows) yield fromRow(row);
    left -= rows.length;
    if (rows.length > 0) after = rows[rows.length - 1]!.seq;
    if (rows.length === n) continue; // more may follow in this block
    // Read the newest block again each time: the trail grows while it is read.
    if (!blockwise || block >= (await newestBlock(db))) return;
    block++;
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
  for await (const _ of iterateRecords(db, { participant: bare }, 1)) return true;
  return false;
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

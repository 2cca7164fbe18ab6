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
 * million records). A search by participant looks in one block of records at a
 * time (`block`, see BLOCK_BITS): their indexes lead with the block.
 */
function where(f: AuditFilter, block: number | null, textRefs: string | null): { sql: string; params: SqlParam[] } {
  const parts: string[] = [];
  const params: SqlParam[] = [];
  const inBlock = (column: string) => seqsInBlock(column, "?", "?");
  if (f.participant) {
    parts.push(`seq IN (${PARTICIPANT_COLUMNS.map(inBlock).join(" UNION ALL ")})`);
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
    // Within a block, FTS5 narrows its own scan to the block's rowids.
    const range = block === null ? "" : " AND rowid >= ? AND rowid < ?";
    // One IN over both: with OR, SQLite scanned the table instead of seeking the seqs.
    const refs = textRefs === null ? "" : " UNION ALL SELECT value FROM json_each(?)";
    parts.push(`seq IN (SELECT rowid FROM bodies WHERE bodies MATCH ?${range}${refs})`);
    params.push(phrase(f.text));
    if (block !== null) params.push(block * BLOCK_SIZE, (block + 1) * BLOCK_SIZE);
    if (textRefs !== null) params.push(textRefs);
  }
  return { sql: parts.length ? parts.join(" AND ") : "1", params };
}

/** FTS5 query syntax for a phrase. */
const phrase = (text: string) => `"${text.replace(/"/g, '""')}"`;

/**
 * The records that match a text search by reference: deliveries recorded as a
 * reference to their inbound record (see NewRecord.sameAs) have no body of
 * their own in the full-text index. Found once per search, by one pass over
 * the trail (an index on ref would cost every delivery on the write path);
 * ascending seqs.
 */
async function referencesToText(db: SqliteDb, text: string): Promise<number[]> {
  const rows = await db.all<{ seq: number }>(
    "SELECT seq FROM records WHERE ref IN (SELECT rowid FROM bodies WHERE bodies MATCH ?) ORDER BY seq",
    [phrase(text)],
  );
  return rows.map((r) => r.seq);
}

/**
 * The references one page can hold, as a JSON array for json_each, or null: those
 * of its block, or all after the last seq read. SQLite parses the array for
 * every page, so the whole list each time made a search by participant and
 * text five times slower than without it.
 */
function refsForPage(refs: readonly number[], after: number, block: number | null): string | null {
  const start = firstAtLeast(refs, block === null ? after + 1 : Math.max(after + 1, block * BLOCK_SIZE));
  const end = block === null ? refs.length : firstAtLeast(refs, (block + 1) * BLOCK_SIZE);
  return end > start ? JSON.stringify(refs.slice(start, end)) : null;
}

/** The index of the first of the ascending `values` that is at least `min` (binary search). */
function firstAtLeast(values: readonly number[], min: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid]! < min) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const PARTICIPANT_COLUMNS = ["account", "from_bare", "to_bare"];
/** The seqs in one block whose `column` is `value`: a covering-index seek (both given as SQL). */
const seqsInBlock = (column: string, block: string, value: string) =>
  `SELECT seq FROM records WHERE seq >> ${BLOCK_BITS} = ${block} AND ${column} = ${value}`;
const BLOCK_SIZE = 2 ** BLOCK_BITS;
/** Not `>>`: JavaScript shifts in 32 bits, seqs go beyond. */
const blockOf = (seq: number) => Math.floor(seq / BLOCK_SIZE);

/** The first and last seq of the trail (0 when it is empty). */
async function seqRange(db: SqliteDb): Promise<{ first: number; last: number }> {
  const row = await db.get<{ first: number | null; last: number | null }>("SELECT min(seq) AS first, max(seq) AS last FROM records");
  return { first: row?.first ?? 0, last: row?.last ?? 0 };
}

/**
 * Matching records in seq (commit) order, a page at a time. A search by
 * participant goes block by block, over the trail as it was when it started.
 */
export async function* iterateRecords(db: SqliteDb, f: AuditFilter, limit = Infinity, page = 500): AsyncGenerator<StoredRecord> {
  if (!(page >= 1)) throw new RangeError(`page size ${page}: must be at least 1`);
  const range = f.participant || f.between ? await seqRange(db) : null;
  const textRefs = f.text ? await referencesToText(db, f.text) : [];
  let block = range ? blockOf(range.first) : null;
  const lastBlock = range ? blockOf(range.last) : 0;
  let after = 0;
  let left = limit;
  while (left > 0) {
    const n = Math.min(page, left);
    const { sql, params } = where(f, block, refsForPage(textRefs, after, block));
    const rows = await db.all<RecordRow>(`SELECT ${RESOLVED_COLUMNS} FROM records WHERE seq > ? AND ${sql} ORDER BY seq LIMIT ${n}`, [
      after,
      ...params,
    ]);
    for (const row of rows) yield fromRow(row);
    left -= rows.length;
    if (rows.length > 0) after = rows[rows.length - 1]!.seq;
    if (rows.length === n) continue; // more may follow (in this block)
    if (block === null || block >= lastBlock) return;
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

/** True when the trail mentions the address (accounts deleted since stay known): one query, a seek per block. */
export async function mentioned(db: SqliteDb, bare: string): Promise<boolean> {
  const { first, last } = await seqRange(db);
  const inBlock = (column: string) => `EXISTS (${seqsInBlock(column, "blocks.n", "?1")})`;
  const row = await db.get(
    `WITH RECURSIVE blocks(n) AS (SELECT ?2 UNION ALL SELECT n + 1 FROM blocks WHERE n < ?3)
     SELECT 1 FROM blocks WHERE ${PARTICIPANT_COLUMNS.map(inBlock).join(" OR ")} LIMIT 1`,
    [bare, blockOf(first), blockOf(last)],
  );
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

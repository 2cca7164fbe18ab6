// parley audit export: jsonl, csv or eml, streamed record by record, with a
// manifest carrying the chain hash of every exported record (so each can be
// checked against the trail or a checkpoint later) and the chain head at export.

import { createHash } from "node:crypto";
import { type WriteStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { type AuditFilter, bodyOf, formatTime, iterateRecords } from "./query.js";
import type { StoredRecord } from "./record.js";
import { chainHead } from "./store.js";

export type ExportFormat = "jsonl" | "csv" | "eml";
export const EXPORT_FORMATS: readonly ExportFormat[] = ["jsonl", "csv", "eml"];

/** A write that waits for the stream to drain: memory stays flat however big the export. */
async function put(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
}

function end(out: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    out.once("error", reject);
    out.end(() => resolve());
  });
}

const CSV_COLUMNS = ["seq", "ts", "direction", "session", "account", "resource", "remote", "kind", "type", "stanzaId", "from", "to", "xml", "detail", "hash"] as const;

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return "";
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function jsonRecord(r: StoredRecord) {
  return { ...r, time: new Date(r.ts).toISOString() };
}

export interface ExportResult {
  records: number;
  files: number;
  manifest: string;
}

/** Streams the manifest: the list of [seq, hash] grows as records are written. */
class Manifest {
  private readonly out: WriteStream;
  private readonly digest = createHash("sha256");
  private count = 0;
  constructor(readonly file: string) {
    this.out = createWriteStream(file, { mode: 0o600 });
  }
  async start(meta: Record<string, unknown>): Promise<void> {
    await put(this.out, `{"meta":${JSON.stringify(meta)},\n"records":[`);
  }
  async add(r: StoredRecord): Promise<void> {
    this.digest.update(`${r.seq}:${r.hash}\n`);
    await put(this.out, `${this.count++ ? "," : ""}\n[${r.seq},"${r.hash}"]`);
  }
  async finish(head: { seq: number; hash: string } | undefined): Promise<void> {
    const summary = { count: this.count, listDigest: this.digest.digest("hex"), chainHeadAtExport: head ?? null };
    await put(this.out, `\n],\n"summary":${JSON.stringify(summary)}}\n`);
    await end(this.out);
  }
}

export async function exportRecords(
  db: SqliteDb,
  filter: AuditFilter,
  format: ExportFormat,
  /** A file (jsonl, csv) or a directory (eml: one file per conversation and day). */
  output: string,
  meta: Record<string, unknown>,
): Promise<ExportResult> {
  const head = await chainHead(db);
  if (format === "eml") return exportEml(db, filter, output, meta, head);
  const manifest = new Manifest(`${output}.manifest.json`);
  await manifest.start({ ...meta, format });
  const out = createWriteStream(output, { mode: 0o600 });
  if (format === "csv") await put(out, `${CSV_COLUMNS.join(",")}\r\n`);
  let records = 0;
  for await (const r of iterateRecords(db, filter)) {
    if (r.seq > (head?.seq ?? 0)) break; // a consistent cut: what existed when the export began
    const line = format === "jsonl" ? `${JSON.stringify(jsonRecord(r))}\n` : `${CSV_COLUMNS.map((c) => csvCell(r[c])).join(",")}\r\n`;
    await put(out, line);
    await manifest.add(r);
    records++;
  }
  await end(out);
  await manifest.finish(head);
  return { records, files: 1, manifest: manifest.file };
}

/**
 * EML: one message per conversation (pair of bare JIDs) and UTC day, with the
 * exchange as text/plain. Only messages as sent (direction "in") are used, so a
 * message delivered to several resources appears once. The order of pair and day
 * is built in a temporary table of seqs, so the records still stream.
 */
/** Rows per INSERT while the EML order is built. */
const EML_BATCH = 500;

async function exportEml(
  db: SqliteDb,
  filter: AuditFilter,
  dir: string,
  meta: Record<string, unknown>,
  head: { seq: number; hash: string } | undefined,
): Promise<ExportResult> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const manifest = new Manifest(join(dir, "manifest.json"));
  await manifest.start({ ...meta, format: "eml" });
  const f: AuditFilter = { ...filter, kinds: ["message"], directions: ["in"] };
  await db.exec("DROP TABLE IF EXISTS temp.eml_order");
  await db.exec("CREATE TEMP TABLE eml_order (seq INTEGER PRIMARY KEY, pair TEXT NOT NULL, day TEXT NOT NULL)");
  // Fill the order table from the filtered stream (many rows per INSERT), index it,
  // then read it back sorted page by page: the records still stream.
  let batch: (string | number)[] = [];
  const flush = async (rows: number) => {
    if (rows === 0) return;
    await db.runPrepared(`INSERT INTO temp.eml_order (seq, pair, day) VALUES ${new Array(rows).fill("(?,?,?)").join(",")}`, batch);
    batch = [];
  };
  for await (const r of iterateRecords(db, f)) {
    if (r.seq > (head?.seq ?? 0)) break;
    const a = r.from?.split("/")[0] ?? "";
    const b = r.to?.split("/")[0] ?? "";
    batch.push(r.seq, [a, b].sort().join(" "), new Date(r.ts).toISOString().slice(0, 10));
    if (batch.length === 3 * EML_BATCH) await flush(EML_BATCH);
  }
  await flush(batch.length / 3);
  await db.exec("CREATE INDEX temp.eml_order_key ON eml_order (pair, day, seq)");
  let records = 0;
  let files = 0;
  let current = null as { key: string; out: WriteStream } | null;
  let after: [string, string, number] = ["", "", 0];
  for (;;) {
    // Keyset paging on the index: each page costs the same however far in it is.
    const rows = await db.all<{ pair: string; day: string; seq: number; ts: number; from_jid: string | null; xml: string | null; hash: string }>(
      `SELECT o.pair, o.day, r.seq, r.ts, r.from_jid, r.xml, r.hash
         FROM temp.eml_order o JOIN records r ON r.seq = o.seq
        WHERE (o.pair, o.day, o.seq) > (?, ?, ?)
        ORDER BY o.pair, o.day, o.seq LIMIT 500`,
      after,
    );
    if (rows.length === 0) break;
    for (const r of rows) {
      const key = `${r.pair}|${r.day}`;
      if (current?.key !== key) {
        if (current) await end(current.out);
        const [a, b] = r.pair.split(" ");
        const file = join(dir, `${r.day}_${a}_${b}.eml`.replace(/[^A-Za-z0-9@._-]/g, "_"));
        current = { key, out: createWriteStream(file, { mode: 0o600 }) };
        files++;
        await put(current.out, emlHeader(a!, b!, r.day));
      }
      const body = bodyOf(r.xml) ?? "(no body)";
      await put(current.out, `[${formatTime(r.ts).slice(11)}] ${r.from_jid ?? "?"}: ${body.replace(/\r?\n/g, "\r\n    ")}\r\n`);
      await manifest.add({ seq: r.seq, hash: r.hash } as StoredRecord);
      records++;
    }
    const last = rows[rows.length - 1]!;
    after = [last.pair, last.day, last.seq];
  }
  if (current) await end(current.out);
  await db.exec("DROP TABLE IF EXISTS temp.eml_order");
  await manifest.finish(head);
  return { records, files, manifest: manifest.file };
}

function emlHeader(a: string, b: string, day: string): string {
  const date = new Date(`${day}T00:00:00Z`).toUTCString().replace("GMT", "+0000");
  return [
    `From: ${a}`,
    `To: ${b}`,
    `Date: ${date}`,
    `Subject: XMPP conversation ${a} and ${b}, ${day} (UTC)`,
    `Message-ID: <${day}.${createHash("sha256").update(`${a} ${b}`).digest("hex").slice(0, 16)}@parley.audit>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    "X-Parley-Export: audit trail",
    "",
    "",
  ].join("\r\n");
}

// parley audit verify: recomputes the chain in seq order, page by page (never
// the whole trail in memory), and names the first record that does not fit.

import { readFile, writeFile } from "node:fs/promises";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { GENESIS, type RecordKind, chainHash, contentDigest } from "./record.js";
import { RECORD_COLUMNS, type RecordRow, chainHead, fromRow } from "./store.js";

export interface Checkpoint {
  seq: number;
  hash: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Records checked (purged ones included). */
  checked: number;
  first: number | null;
  head: Checkpoint | null;
  /** The first record that does not fit, and why. */
  badSeq?: number;
  problem?: string;
  warnings: string[];
}

/** What a purge record's detail holds (see retention.ts). */
export interface PurgeDetail {
  cutoffs: Partial<Record<RecordKind, number>>;
  firstSeq: number;
  firstPrev: string;
}

const PAGE = 1000;

export async function verifyChain(db: SqliteDb, checkpoint?: Checkpoint): Promise<VerifyResult> {
  const warnings: string[] = [];
  const result = (fields: Partial<VerifyResult>): VerifyResult => ({ ok: false, checked, first, head, warnings, ...fields });
  let checked = 0;
  let head: Checkpoint | null = null;
  const firstRow = await db.get<{ seq: number; prev: string }>("SELECT seq, prev FROM records ORDER BY seq LIMIT 1");
  const first = firstRow?.seq ?? null;

  // Where the chain starts: at genesis, or where the latest purge says it dropped a prefix.
  let expectedSeq = 1;
  let expectedPrev = GENESIS;
  if (firstRow && firstRow.seq !== 1) {
    const purge = await db.get<{ seq: number; detail: string }>(
      "SELECT seq, detail FROM records WHERE kind = 'purge' AND purged_by IS NULL ORDER BY seq DESC LIMIT 1",
    );
    const anchor = purge ? (JSON.parse(purge.detail) as PurgeDetail) : null;
    if (!anchor) return result({ badSeq: 1, problem: `records 1-${firstRow.seq - 1} are missing (deleted), and no purge record accounts for them` });
    if (anchor.firstSeq !== firstRow.seq) {
      const problem =
        anchor.firstSeq < firstRow.seq
          ? `records ${anchor.firstSeq}-${firstRow.seq - 1} are missing (deleted): purge ${purge!.seq} kept the trail from ${anchor.firstSeq}`
          : `record ${firstRow.seq} is before the start purge ${purge!.seq} recorded (${anchor.firstSeq}): inserted`;
      return result({ badSeq: Math.min(anchor.firstSeq, firstRow.seq), problem });
    }
    expectedSeq = anchor.firstSeq;
    expectedPrev = anchor.firstPrev;
  }

  // Purged records wait for their purge record (later in the chain) to prove they were due.
  const tombstones = new Map<number, { maxTs: Partial<Record<string, number>>; firstSeq: number }>();
  let after = expectedSeq - 1;
  for (;;) {
    const rows = await db.all<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM records WHERE seq > ? ORDER BY seq LIMIT ${PAGE}`, [after]);
    if (rows.length === 0) break;
    for (const row of rows) {
      const r = fromRow(row);
      if (r.seq !== expectedSeq) {
        const missing = r.seq - 1 === expectedSeq ? `record ${expectedSeq} is missing` : `records ${expectedSeq}-${r.seq - 1} are missing`;
        return result({ badSeq: expectedSeq, problem: `${missing} (deleted)` });
      }
      if (r.prev !== expectedPrev) {
        return result({
          badSeq: r.seq,
          problem: `record ${r.seq} does not chain from record ${r.seq - 1} (prev hash differs): record ${r.seq} was inserted or ${r.seq - 1} was rewritten`,
        });
      }
      if (r.ref !== null && !(r.ref < r.seq && r.xml === null)) {
        return result({ badSeq: r.seq, problem: `record ${r.seq} refers to record ${r.ref} and must hold no XML of its own: altered` });
      }
      if (r.purgedBy === null) {
        if (contentDigest(r.seq, r) !== r.digest) {
          return result({ badSeq: r.seq, problem: `record ${r.seq} was altered (or inserted): its fields do not match its digest` });
        }
      } else {
        if (r.purgedBy <= r.seq) return result({ badSeq: r.seq, problem: `record ${r.seq} is marked purged by a record before it` });
        if (r.xml !== null || r.detail !== null || r.from !== null || r.to !== null || r.account !== null) {
          return result({ badSeq: r.seq, problem: `record ${r.seq} is marked purged but still has content: altered` });
        }
        const t = tombstones.get(r.purgedBy) ?? { maxTs: {}, firstSeq: r.seq };
        t.maxTs[r.kind] = Math.max(t.maxTs[r.kind] ?? 0, r.ts);
        tombstones.set(r.purgedBy, t);
      }
      if (chainHash(r.prev, r.digest) !== r.hash) {
        return result({ badSeq: r.seq, problem: `record ${r.seq} was altered: its hash is not SHA-256(prev || digest)` });
      }
      const t = tombstones.get(r.seq);
      if (t) {
        const problem = r.kind === "purge" && r.purgedBy === null ? checkPurged(r.detail, t.maxTs) : "it is not a purge record";
        if (problem) return result({ badSeq: t.firstSeq, problem: `record ${t.firstSeq} was emptied outside retention (purge ${r.seq}: ${problem})` });
        tombstones.delete(r.seq);
      }
      expectedSeq = r.seq + 1;
      expectedPrev = r.hash;
      head = { seq: r.seq, hash: r.hash };
      checked++;
    }
    after = rows[rows.length - 1]!.seq;
  }
  const dangling = [...tombstones.values()][0];
  if (dangling) return result({ badSeq: dangling.firstSeq, problem: `record ${dangling.firstSeq} is emptied but its purge record is missing` });

  if (checkpoint) {
    const problem = checkAgainst(checkpoint, head, first, warnings);
    if (problem) return result({ badSeq: problem.seq, problem: problem.text });
  }
  return result({ ok: true });
}

function checkPurged(detail: string | null, maxTs: Partial<Record<string, number>>): string | undefined {
  const cutoffs = (JSON.parse(detail ?? "{}") as Partial<PurgeDetail>).cutoffs ?? {};
  for (const [kind, ts] of Object.entries(maxTs)) {
    const cutoff = cutoffs[kind as RecordKind];
    if (cutoff === undefined) return `${kind} records were not due`;
    if (ts! >= cutoff) return `a ${kind} record from ${new Date(ts!).toISOString()} was newer than the cutoff`;
  }
  return undefined;
}

function checkAgainst(cp: Checkpoint, head: Checkpoint | null, first: number | null, warnings: string[]) {
  if (!head || head.seq < cp.seq) {
    const last = head?.seq ?? 0;
    return { seq: last + 1, text: `the trail ends at record ${last} but checkpoint has ${cp.seq}: records ${last + 1}-${cp.seq} were cut off the tail` };
  }
  if (first !== null && cp.seq < first) {
    warnings.push(`checkpoint record ${cp.seq} was purged (the trail starts at ${first}); only the continuation was checked`);
  }
  return undefined;
}

/** The hash of a given record, to compare with a checkpoint inside the trail. */
export async function hashAt(db: SqliteDb, seq: number): Promise<string | undefined> {
  return (await db.get<{ hash: string }>("SELECT hash FROM records WHERE seq = ?", [seq]))?.hash;
}

export async function verifyWithCheckpoint(db: SqliteDb, cp: Checkpoint): Promise<VerifyResult> {
  const r = await verifyChain(db, cp);
  if (!r.ok) return r;
  const at = await hashAt(db, cp.seq);
  if (at !== undefined && at !== cp.hash) {
    return { ...r, ok: false, badSeq: cp.seq, problem: `record ${cp.seq} differs from the checkpoint: the trail was rewritten up to there` };
  }
  return r;
}

export async function writeCheckpoint(db: SqliteDb, file: string | null): Promise<Checkpoint | null> {
  const head = await chainHead(db);
  if (!head) return null;
  const cp = { seq: head.seq, hash: head.hash };
  const text = `${JSON.stringify({ ...cp, at: new Date().toISOString() })}\n`;
  if (file) await writeFile(file, text, { mode: 0o600 });
  return cp;
}

export async function readCheckpoint(file: string): Promise<Checkpoint> {
  const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<Checkpoint>;
  if (typeof parsed.seq !== "number" || typeof parsed.hash !== "string" || !/^[0-9a-f]{64}$/.test(parsed.hash)) {
    throw new Error(`${file} is not a checkpoint (expected {"seq": N, "hash": "<64 hex>"})`);
  }
  return { seq: parsed.seq, hash: parsed.hash };
}

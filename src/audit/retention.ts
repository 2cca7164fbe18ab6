// Retention and legal hold: parley audit purge and parley audit hold.
//
// How purging fits the hash chain. Retention is per record class and a legal
// hold keeps one account's records however old, so what expires is scattered
// through the chain, not a prefix. We therefore purge in two steps:
//   1. Tombstone: an expired record loses its content (every field but seq, ts,
//      kind and direction is set to NULL, its body leaves the search index) but keeps
//      prev, digest and hash, and names the purge record that emptied it
//      (purged_by). The chain still verifies through it, since hash =
//      SHA-256(prev || digest) needs only the digest; and verify checks that every
//      tombstone was due under the cutoffs its purge record carries.
//   2. Compact: the leading run of tombstones, up to the first record still holding
//      content, is deleted outright. The purge record names where the trail now
//      starts (firstSeq) and the prev hash it starts from (firstPrev); verify
//      begins there. Deleting anything more at the head breaks that anchor.
// A held account's records are never tombstoned, so they stay whole; holds do
// not block purging of anyone else, they only stop compaction at the oldest
// held record. Purge records themselves are never purged (they carry anchors).

import type { SqliteDb } from "../storage/sqlite/db.js";
import type { AuditSettings } from "./config.js";
import { GENESIS, type RecordKind } from "./record.js";
import { adminRecord } from "./sink.js";
import { chainHead } from "./store.js";
import type { PurgeDetail } from "./verify.js";
import { appendInTransaction } from "./writer.js";

const DAY_MS = 86_400_000;

export interface PurgeResult {
  purgeSeq: number;
  tombstoned: number;
  dropped: number;
  firstSeq: number;
  cutoffs: Partial<Record<RecordKind, number>>;
  holds: string[];
}

export function retentionCutoffs(settings: AuditSettings, now: number): Partial<Record<RecordKind, number>> {
  const r = settings.retention;
  const days: [RecordKind, number][] = [
    ["message", r.messages],
    ["presence", r.presence],
    ["iq", r.iq],
    ["session", r.sessions],
    ["admin", r.admin],
  ];
  return Object.fromEntries(days.filter(([, d]) => d > 0).map(([k, d]) => [k, now - d * DAY_MS]));
}

class DryRun extends Error {
  constructor(readonly result: PurgeResult) {
    super("dry run");
  }
}

export async function purgeExpired(db: SqliteDb, settings: AuditSettings, now = Date.now(), dryRun = false): Promise<PurgeResult> {
  return purgeInTransaction(db, settings, now, dryRun).catch((err: unknown) => {
    if (err instanceof DryRun) return err.result;
    throw err;
  });
}

function purgeInTransaction(db: SqliteDb, settings: AuditSettings, now: number, dryRun: boolean): Promise<PurgeResult> {
  const cutoffs = retentionCutoffs(settings, now);
  return db.transaction(async () => {
    const holds = (await db.all<{ account: string }>("SELECT account FROM holds ORDER BY account")).map((h) => h.account);
    const head = await chainHead(db);
    const purgeSeq = (head?.seq ?? 0) + 1;
    const marks = holds.map(() => "?").join(",");
    const notHeld = holds.length
      ? `AND coalesce(account, '') NOT IN (${marks}) AND coalesce(from_bare, '') NOT IN (${marks}) AND coalesce(to_bare, '') NOT IN (${marks})`
      : "";
    let tombstoned = 0;
    // Records that refer to another's XML go first; a record still referred to by
    // one that stays (held, or not yet due) keeps its content for it.
    await db.exec("DROP TABLE IF EXISTS temp.live_refs");
    for (const pass of ["references", "the rest"] as const) {
      if (pass === "the rest") {
        await db.exec("CREATE TEMP TABLE live_refs AS SELECT DISTINCT ref FROM records WHERE ref IS NOT NULL AND purged_by IS NULL");
      }
      const which = pass === "references" ? "ref IS NOT NULL" : "ref IS NULL AND seq NOT IN (SELECT ref FROM temp.live_refs)";
      for (const [kind, cutoff] of Object.entries(cutoffs)) {
        const where = `kind = ? AND ts < ? AND purged_by IS NULL AND ${which} ${notHeld}`;
        const params = [kind, cutoff, ...holds, ...holds, ...holds];
        await db.run(`DELETE FROM bodies WHERE rowid IN (SELECT seq FROM records WHERE ${where})`, params);
        const { changes } = await db.run(
          `UPDATE records SET session = NULL, account = NULL, resource = NULL, remote = NULL, type = NULL, stanza_id = NULL,
             from_jid = NULL, to_jid = NULL, xml = NULL, detail = NULL, from_bare = NULL, to_bare = NULL, purged_by = ?
           WHERE ${where}`,
          [purgeSeq, ...params],
        );
        tombstoned += changes;
      }
    }
    await db.exec("DROP TABLE temp.live_refs");
    // Compaction: the leading run of tombstones goes; the trail then starts at the first whole record.
    const firstWhole = await db.get<{ seq: number; prev: string }>(
      "SELECT seq, prev FROM records WHERE purged_by IS NULL ORDER BY seq LIMIT 1",
    );
    const firstSeq = firstWhole?.seq ?? purgeSeq;
    const firstPrev = firstWhole?.prev ?? head?.hash ?? GENESIS;
    const oldest = (await db.get<{ seq: number }>("SELECT min(seq) AS seq FROM records"))?.seq ?? firstSeq;
    let dropped = firstSeq - oldest;
    // A dry run does it all, then rolls back: the counts are exactly what a purge would do.
    if (dryRun) throw new DryRun({ purgeSeq, tombstoned, dropped, firstSeq, cutoffs, holds });
    dropped = (await db.run("DELETE FROM records WHERE seq < ?", [firstSeq])).changes;
    const detail: PurgeDetail & { holds: string[]; tombstoned: number; dropped: number } = {
      cutoffs,
      holds,
      tombstoned,
      dropped,
      firstSeq,
      firstPrev,
    };
    const record = { ...adminRecord("purge", {}, null), kind: "purge" as const, detail: JSON.stringify(detail) };
    const [seq] = await appendInTransaction(db, [record], head);
    if (seq !== purgeSeq) throw new Error(`purge record got seq ${seq}, expected ${purgeSeq}`);
    return { purgeSeq, tombstoned, dropped, firstSeq, cutoffs, holds };
  });
}

/** Holds and their admin records commit together (one transaction). */
export async function addHold(db: SqliteDb, account: string, reason: string): Promise<boolean> {
  return db.transaction(async () => {
    const { changes } = await db.run("INSERT OR IGNORE INTO holds (account, reason, created_at, created_by) VALUES (?, ?, ?, ?)", [
      account,
      reason,
      Date.now(),
      adminRecord("hold-add", {}, null).remote,
    ]);
    if (changes > 0) await appendInTransaction(db, [adminRecord("hold-add", { reason }, account)]);
    return changes > 0;
  });
}

export async function removeHold(db: SqliteDb, account: string): Promise<boolean> {
  return db.transaction(async () => {
    const { changes } = await db.run("DELETE FROM holds WHERE account = ?", [account]);
    if (changes > 0) await appendInTransaction(db, [adminRecord("hold-remove", {}, account)]);
    return changes > 0;
  });
}

export interface Hold {
  account: string;
  reason: string | null;
  created_at: number;
  created_by: string | null;
}

export function listHolds(db: SqliteDb): Promise<Hold[]> {
  return db.all<Hold>("SELECT account, reason, created_at, created_by FROM holds ORDER BY account");
}

/** One admin record in its own transaction: the CLI's way to write to the trail beside a running server. */
export async function recordAdmin(db: SqliteDb, action: string, detail: Record<string, unknown>, subject: string | null = null): Promise<void> {
  await db.transaction(() => appendInTransaction(db, [adminRecord(action, detail as never, subject)]));
}

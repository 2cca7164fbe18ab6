// The single audit writer: group commit. Records queue up; a group closes when
// it is full (max_batch) or when the commit window has passed, and is written in
// one transaction (one fsync). Every append resolves only once its group is
// durable, and rejects when it is not: callers must not deliver in that case.

import type { Logger } from "../core/log.js";
import type { SqliteDb, SqlParam } from "../storage/sqlite/db.js";
import { GENESIS, type NewRecord, type StoredRecord, chainHash, contentDigest } from "./record.js";
import { bareOf, chainHead } from "./store.js";

const INSERT_COLUMNS =
  "seq, ts, direction, session, account, resource, remote, kind, type, stanza_id, from_jid, to_jid, xml, detail, from_bare, to_bare, prev, digest, hash";
const COLUMN_COUNT = 19;
/** Most rows in one INSERT (19 parameters each, well below SQLite's limit). */
const MAX_ROWS_PER_STATEMENT = 256;
const ROW = `(${new Array(COLUMN_COUNT).fill("?").join(",")})`;

/**
 * Splits n rows into power-of-two chunks (300 = 256 + 32 + 8 + 4), so a handful
 * of prepared multi-row INSERTs serve every group size without re-parsing SQL.
 */
function chunkSizes(n: number): number[] {
  const sizes: number[] = [];
  for (let size = MAX_ROWS_PER_STATEMENT; n > 0; size >>= 1) {
    while (n >= size) {
      sizes.push(size);
      n -= size;
    }
  }
  return sizes;
}

/**
 * Appends records to the chain. Must run inside a write transaction (BEGIN
 * IMMEDIATE): the head is read there, so another process that wrote since
 * (the CLI beside the server) is continued, never forked.
 */
export async function appendInTransaction(
  db: SqliteDb,
  records: readonly NewRecord[],
  /** The head as read earlier in this same transaction (purge deletes rows before appending). */
  knownHead?: { seq: number; hash: string },
): Promise<StoredRecord[]> {
  const head = knownHead ?? (await chainHead(db));
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS;
  const stored: StoredRecord[] = [];
  for (const r of records) {
    seq++;
    const digest = contentDigest(seq, r); // the body is not hashed: it is an index, derived from xml
    const hash = chainHash(prev, digest);
    stored.push({ ...r, seq, prev, digest, hash, purgedBy: null });
    prev = hash;
  }
  let next = 0;
  for (const size of chunkSizes(stored.length)) {
    const params: SqlParam[] = [];
    for (const s of stored.slice(next, (next += size))) {
      params.push(s.seq, s.ts, s.direction, s.session, s.account, s.resource, s.remote, s.kind, s.type, s.stanzaId);
      params.push(s.from, s.to, s.xml, s.detail, bareOf(s.from), bareOf(s.to), s.prev, s.digest, s.hash);
    }
    await db.runPrepared(`INSERT INTO records (${INSERT_COLUMNS}) VALUES ${new Array(size).fill(ROW).join(",")}`, params);
  }
  const bodies = records.flatMap((r, i) => (r.body ? [stored[i]!.seq, r.body] : []));
  next = 0;
  for (const size of chunkSizes(bodies.length / 2)) {
    const params = bodies.slice(next, (next += 2 * size));
    await db.runPrepared(`INSERT INTO bodies (rowid, body) VALUES ${new Array(size).fill("(?,?)").join(",")}`, params);
  }
  return stored;
}

interface Pending {
  record: NewRecord;
  resolve(seq: number): void;
  reject(err: Error): void;
}

export class AuditWriteError extends Error {
  override readonly name = "AuditWriteError";
}

export class AuditWriter {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly db: SqliteDb,
    private readonly opts: { commitWindowMs: number; maxBatch: number },
    private readonly log: Logger,
  ) {}

  /** Resolves with the record's seq once it is committed; rejects (AuditWriteError) if it could not be. */
  append(record: NewRecord): Promise<number> {
    if (this.closed) return Promise.reject(new AuditWriteError("the audit writer is closed"));
    return new Promise<number>((resolve, reject) => {
      this.pending.push({ record, resolve, reject });
      if (this.writing) return; // the running commit starts the next group when it ends
      if (this.pending.length >= this.opts.maxBatch) this.kick();
      else this.timer ??= setTimeout(() => this.kick(), this.opts.commitWindowMs);
    });
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.writing || this.pending.length === 0) return;
    const group = this.pending.splice(0, this.opts.maxBatch);
    this.writing = this.commit(group).finally(() => {
      this.writing = null;
      // Whatever queued meanwhile has waited a whole commit already: go on at once.
      if (this.pending.length > 0) this.kick();
    });
  }

  private async commit(group: Pending[]): Promise<void> {
    try {
      const stored = await this.db.transaction(() => appendInTransaction(this.db, group.map((p) => p.record)));
      group.forEach((p, i) => p.resolve(stored[i]!.seq));
    } catch (err) {
      const message = (err as Error).message;
      // Loud on purpose: stanzas in this group are not delivered (fail closed).
      this.log.error("AUDIT WRITE FAILED: the stanzas of this commit group are not delivered", {
        records: group.length,
        error: message,
      });
      const failure = new AuditWriteError(`audit write failed: ${message}`);
      // What queued behind the failed group may depend on it (a reply to a request
      // whose record was lost): it fails too. Later appends start afresh.
      for (const p of [...group, ...this.pending.splice(0)]) p.reject(failure);
    }
  }

  /** Commits what is queued, then refuses new records. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing || this.pending.length > 0) {
      if (!this.writing) this.kick();
      await this.writing;
    }
  }
}

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
/** Rows per INSERT statement: stays below SQLite's bound-parameter limit. */
const ROWS_PER_STATEMENT = 500;

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
  for (let i = 0; i < stored.length; i += ROWS_PER_STATEMENT) {
    const chunk = stored.slice(i, i + ROWS_PER_STATEMENT);
    const params: SqlParam[] = [];
    for (const s of chunk) {
      params.push(s.seq, s.ts, s.direction, s.session, s.account, s.resource, s.remote, s.kind, s.type, s.stanzaId);
      params.push(s.from, s.to, s.xml, s.detail, bareOf(s.from), bareOf(s.to), s.prev, s.digest, s.hash);
    }
    const row = `(${new Array(COLUMN_COUNT).fill("?").join(",")})`;
    await db.run(`INSERT INTO records (${INSERT_COLUMNS}) VALUES ${chunk.map(() => row).join(",")}`, params);
  }
  const bodies = records.flatMap((r, i) => (r.body ? [stored[i]!.seq, r.body] : []));
  if (bodies.length > 0) {
    await db.run(`INSERT INTO bodies (rowid, body) VALUES ${new Array(bodies.length / 2).fill("(?,?)").join(",")}`, bodies);
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

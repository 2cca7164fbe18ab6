// The single audit writer: group commit. Records queue up; a group closes when
// it is full (max_batch) or when the commit window has passed, and is written in
// one transaction (one fsync). Every append resolves only once its group is
// durable, and rejects when it is not: callers must not deliver in that case.

import type { Logger } from "../core/log.js";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { GENESIS, type NewRecord, type StoredRecord, canonical, chainHash, sha256 } from "./record.js";
import { chainHead } from "./store.js";

/** SQL for the bare JID of a full JID held in `x` (the participant columns). */
const bare = (x: string) => `CASE WHEN instr(${x}, '/') > 0 THEN substr(${x}, 1, instr(${x}, '/') - 1) ELSE ${x} END`;

/**
 * A whole commit group is bound as one JSON array of rows, each row the record's
 * canonical encoding (fields 0-13, the very text its digest is computed from)
 * followed by prev, digest, hash and the message body (14-17). SQLite unpacks
 * it in C: binding 19 parameters per row through the driver cost more main-thread
 * CPU and garbage than everything else the audit does.
 */
const FROM_ROWS = "FROM (SELECT value AS r FROM jsonb_each(jsonb(?)))";
const INSERT_RECORDS = `INSERT INTO records (seq, ts, direction, session, account, resource, remote, kind, type, stanza_id,
    from_jid, to_jid, xml, detail, from_bare, to_bare, prev, digest, hash)
  SELECT r->>0, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, r->>8, r->>9,
    r->>10, r->>11, r->>12, r->>13, ${bare("r->>10")}, ${bare("r->>11")}, r->>14, r->>15, r->>16 ${FROM_ROWS}`;
const INSERT_BODIES = `INSERT INTO bodies (rowid, body) SELECT r->>0, r->>17 ${FROM_ROWS} WHERE r->>17 IS NOT NULL`;

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
  const rows: string[] = [];
  let bodies = 0;
  for (const r of records) {
    seq++;
    const text = canonical(seq, r);
    const digest = sha256(text); // the body is not hashed: it is an index, derived from xml
    const hash = chainHash(prev, digest);
    stored.push({ ...r, seq, prev, digest, hash, purgedBy: null });
    rows.push(`${text.slice(0, -1)},"${prev}","${digest}","${hash}",${JSON.stringify(r.body)}]`);
    if (r.body !== null) bodies++;
    prev = hash;
  }
  if (rows.length === 0) return stored;
  const batch = `[${rows.join(",")}]`;
  await db.runPrepared(INSERT_RECORDS, [batch]);
  if (bodies > 0) await db.runPrepared(INSERT_BODIES, [batch]);
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
  /** Cancels the scheduled start of the next group (a timeout, or an immediate for a 0 ms window). */
  private cancelScheduled: (() => void) | null = null;
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
      // A window of 0 commits once this turn of the event loop has handed over every
      // stanza it read; under load groups still form behind the running commit.
      else this.cancelScheduled ??= this.schedule();
    });
  }

  private schedule(): () => void {
    if (this.opts.commitWindowMs === 0) {
      const immediate = setImmediate(() => this.kick());
      return () => clearImmediate(immediate);
    }
    const timeout = setTimeout(() => this.kick(), this.opts.commitWindowMs);
    return () => clearTimeout(timeout);
  }

  private kick(): void {
    this.cancelScheduled?.();
    this.cancelScheduled = null;
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

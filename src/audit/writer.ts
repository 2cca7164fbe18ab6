// The single audit writer: group commit. Records queue up; a group closes when
// it is full (max_batch) or when the commit window has passed, and is written in
// one transaction (one fsync). Every append resolves only once its group is
// durable, and rejects when it is not: callers must not deliver in that case.

import type { Logger } from "../core/log.js";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { GENESIS, type NewRecord, canonicalOf, chainHash, sha256 } from "./record.js";
import { APPEND_SQL, chainHead } from "./store.js";

/** The seq of every record the writer committed, for the deliveries that refer to it (sameAs). */
const committedSeq = new WeakMap<NewRecord, number>();

type Head = { seq: number; hash: string } | undefined;

/**
 * Chains records after `head`: their seqs, the new head and the JSON documents
 * to insert. Allocates no per-record objects beyond the strings it must build:
 * at thousands of records a second, copies of each record were a fair part of
 * the garbage collector's work.
 */
function encode(records: readonly NewRecord[], head: Head): { seqs: number[]; head: Head; rows: string; bodies: string | null } {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS;
  const seqs: number[] = [];
  const rows: string[] = [];
  const bodies: string[] = [];
  const inThisGroup = new Map<NewRecord, number>();
  for (const r of records) {
    seq++;
    inThisGroup.set(r, seq);
    // Falls back to the XML itself when the record referred to was never committed.
    const ref = r.sameAs ? (inThisGroup.get(r.sameAs) ?? committedSeq.get(r.sameAs) ?? null) : null;
    const text = canonicalOf(seq, r, ref === null ? r.xml : null, ref);
    const digest = sha256(text); // the body is not hashed: it is an index, derived from xml
    const hash = chainHash(prev, digest);
    seqs.push(seq);
    rows.push(`[${text},"${prev}","${digest}","${hash}"]`);
    if (ref === null && r.body !== null) bodies.push(`[${seq},${JSON.stringify(r.body)}]`);
    prev = hash;
  }
  return {
    seqs,
    head: seqs.length ? { seq, hash: prev } : head,
    rows: `[${rows.join(",")}]`,
    bodies: bodies.length ? `[${bodies.join(",")}]` : null,
  };
}

/** Inserts an encoded group: one kept statement (see APPEND_SQL), so SQLite compiles it once. */
function insertEncoded(db: SqliteDb, { rows, bodies }: { rows: string; bodies: string | null }): Promise<unknown> {
  return db.runPrepared(APPEND_SQL, [rows, bodies]);
}

/**
 * Appends records to the chain. Must run inside a write transaction (BEGIN
 * IMMEDIATE): the head is read there, so another process that wrote since
 * (the CLI beside the server) is continued, never forked. The connection must
 * come from openAuditDb, which installs the append view.
 */
export async function appendInTransaction(
  db: SqliteDb,
  records: readonly NewRecord[],
  /** The head as read earlier in this same transaction (purge deletes rows before appending). */
  knownHead?: { seq: number; hash: string },
): Promise<number[]> {
  return (await appendEncoded(db, records, knownHead ?? (await chainHead(db)))).seqs;
}

async function appendEncoded(db: SqliteDb, records: readonly NewRecord[], head: Head): Promise<ReturnType<typeof encode>> {
  const encoded = encode(records, head);
  if (encoded.seqs.length > 0) await insertEncoded(db, encoded);
  return encoded;
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

  /**
   * The head this writer last committed: a group is then chained after it and
   * written by one statement, atomic on its own (no BEGIN/COMMIT round trips).
   * If another process appended meanwhile (the CLI), the seqs collide with its
   * rows and the statement fails as a whole; the group is then chained after
   * the head as read inside a transaction.
   */
  private head: Head | null = null;

  /** Commits records; resolves with their seqs. */
  private async write(records: NewRecord[]): Promise<number[]> {
    if (this.head !== null) {
      const encoded = encode(records, this.head);
      // Any failure falls back: a collision then succeeds, anything else fails again there.
      const written = await this.db.exclusive(() => insertEncoded(this.db, encoded)).then(
        () => true,
        () => false,
      );
      if (written) {
        this.head = encoded.head;
        return encoded.seqs;
      }
    }
    this.head = null;
    const encoded = await this.db.transaction(async () => appendEncoded(this.db, records, await chainHead(this.db)));
    this.head = encoded.head ?? null;
    return encoded.seqs;
  }

  private async commit(group: Pending[]): Promise<void> {
    try {
      const seqs = await this.write(group.map((p) => p.record));
      group.forEach((p, i) => {
        committedSeq.set(p.record, seqs[i]!);
        p.resolve(seqs[i]!);
      });
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

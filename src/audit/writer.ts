// The single audit writer: group commit. Records queue up; a group closes when
// it is full (max_batch) or when the commit window has passed, and is written in
// one transaction (one fsync). Every append resolves only once its group is
// durable, and rejects when it is not: callers must not deliver in that case.

import type { Logger } from "../core/log.js";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { GENESIS, type NewRecord, canonicalOf, chainHash, sha256 } from "./record.js";
import { APPEND_SQL, chainHead } from "./store.js";

type Head = { seq: number; hash: string } | undefined;

/**
 * Chains records after `head`: sets their seqs, returns the new head and the
 * JSON documents to insert. Allocates no per-record objects beyond the strings it must build:
 * at thousands of records a second, copies of each record were a fair part of
 * the garbage collector's work.
 */
function encode(records: readonly NewRecord[], head: Head): { head: Head; rows: string; bodies: string | null } {
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS;
  const rows: string[] = [];
  const bodies: string[] = [];
  for (const r of records) {
    seq++;
    // Set now: the records after it in this group may refer to it. A failed
    // group's seqs are cleared (AuditWriter.commit), so a reference falls back
    // to the XML itself when the record referred to was never committed.
    r.seq = seq;
    const ref = r.sameAs?.seq ?? null;
    const text = canonicalOf(seq, r, ref === null ? r.xml : null, ref);
    const digest = sha256(text); // the body is not hashed: it is an index, derived from xml
    const hash = chainHash(prev, digest);
    rows.push(`[${text},"${prev}","${digest}","${hash}"]`);
    if (ref === null && r.body !== null) bodies.push(`[${seq},${JSON.stringify(r.body)}]`);
    prev = hash;
  }
  return {
    head: records.length ? { seq, hash: prev } : head,
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
  await appendEncoded(db, records, knownHead ?? (await chainHead(db)));
  return records.map((r) => r.seq!);
}

async function appendEncoded(db: SqliteDb, records: readonly NewRecord[], head: Head): Promise<ReturnType<typeof encode>> {
  const encoded = encode(records, head);
  if (records.length > 0) await insertEncoded(db, encoded);
  return encoded;
}

/** Records committed together; one promise for all of them. */
class Group {
  readonly records: NewRecord[] = [];
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: Error) => void;
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export class AuditWriteError extends Error {
  override readonly name = "AuditWriteError";
}

export class AuditWriter {
  /** Groups waiting to be committed, oldest first; the last one takes new records until full. */
  private queue: Group[] = [];
  /** Cancels the scheduled start of the next group (a timeout, or an immediate for a 0 ms window). */
  private cancelScheduled: (() => void) | null = null;
  private writing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly db: SqliteDb,
    private readonly opts: { commitWindowMs: number; maxBatch: number },
    private readonly log: Logger,
  ) {}

  /**
   * Resolves once the record is committed (its seq is then `record.seq`); rejects
   * (AuditWriteError) if it could not be. Every record of a group shares one promise.
   */
  append(record: NewRecord): Promise<void> {
    if (this.closed) return Promise.reject(new AuditWriteError("the audit writer is closed"));
    let open = this.queue.at(-1);
    if (!open || open.records.length >= this.opts.maxBatch) this.queue.push((open = new Group()));
    open.records.push(record);
    // While a commit runs, it starts the next group when it ends.
    if (!this.writing) {
      if (open.records.length >= this.opts.maxBatch) this.kick();
      // A window of 0 commits once this turn of the event loop has handed over every
      // stanza it read; under load groups still form behind the running commit.
      else this.cancelScheduled ??= this.schedule();
    }
    return open.done;
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
    if (this.writing) return;
    const group = this.queue.shift();
    if (!group) return;
    this.writing = this.commit(group).finally(() => {
      this.writing = null;
      // Whatever queued meanwhile has waited a whole commit already: go on at once.
      if (this.queue.length > 0) this.kick();
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

  /** Commits records, setting their seqs. */
  private async write(records: NewRecord[]): Promise<void> {
    if (this.head !== null) {
      const encoded = encode(records, this.head);
      // Any failure falls back: a collision then succeeds, anything else fails again there.
      const written = await this.db.exclusive(() => insertEncoded(this.db, encoded)).then(
        () => true,
        () => false,
      );
      if (written) {
        this.head = encoded.head;
        return;
      }
    }
    this.head = null;
    const encoded = await this.db.transaction(async () => appendEncoded(this.db, records, await chainHead(this.db)));
    this.head = encoded.head ?? null;
  }

  private async commit(group: Group): Promise<void> {
    try {
      await this.write(group.records);
      group.resolve();
    } catch (err) {
      const message = (err as Error).message;
      // Loud on purpose: stanzas in this group are not delivered (fail closed).
      this.log.error("AUDIT WRITE FAILED: the stanzas of this commit group are not delivered", {
        records: group.records.length,
        error: message,
      });
      const failure = new AuditWriteError(`audit write failed: ${message}`);
      // What queued behind the failed group may depend on it (a reply to a request
      // whose record was lost): it fails too. Later appends start afresh, and
      // none may refer to these records by seq.
      for (const failed of [group, ...this.queue.splice(0)]) {
        for (const r of failed.records) r.seq = undefined;
        failed.reject(failure);
      }
    }
  }

  /** Commits what is queued, then refuses new records. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.writing || this.queue.length > 0) {
      if (!this.writing) this.kick();
      await this.writing;
    }
  }
}

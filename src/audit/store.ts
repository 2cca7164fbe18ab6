// The audit database: a file of its own (mode 0600), WAL with synchronous=FULL
// (SqliteDb.open), and a busy timeout because the CLI and the server may both
// write to it; SQLite serialises the two writers.

import { chmod, open } from "node:fs/promises";
import { dirname } from "node:path";
import { mkdir } from "node:fs/promises";
import { type Migration, SqliteDb } from "../storage/sqlite/db.js";
import type { StoredRecord } from "./record.js";

export const AUDIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        ts INTEGER NOT NULL,
        direction TEXT NOT NULL,
        session TEXT, account TEXT, resource TEXT, remote TEXT,
        kind TEXT NOT NULL, type TEXT, stanza_id TEXT, from_jid TEXT, to_jid TEXT,
        xml TEXT, detail TEXT,
        -- derived from from_jid / to_jid, for searching by participant
        from_bare TEXT, to_bare TEXT,
        prev TEXT NOT NULL, digest TEXT NOT NULL, hash TEXT NOT NULL,
        purged_by INTEGER
      );
      CREATE INDEX records_ts ON records(ts);
      CREATE INDEX records_account ON records(account, ts);
      CREATE INDEX records_from ON records(from_bare, ts);
      CREATE INDEX records_to ON records(to_bare, ts);
      CREATE INDEX records_kind ON records(kind, ts);
      -- message bodies for full-text search; rowid = seq
      CREATE VIRTUAL TABLE bodies USING fts5(body);
      CREATE TABLE holds (account TEXT PRIMARY KEY, reason TEXT, created_at INTEGER NOT NULL, created_by TEXT);
    `,
  },
  {
    version: 2,
    // A delivery whose XML is that of the inbound record it came from refers to it.
    sql: "ALTER TABLE records ADD COLUMN ref INTEGER;",
  },
  {
    version: 3,
    // The participant indexes lead with the record's block (seq >> BLOCK_BITS): a commit then
    // adds its entries to the newest few pages of each index. Led by the JID, they
    // went to one page per account, and every commit rewrote all those pages to
    // the WAL: with 200 accounts chatting, a writer-only benchmark spent 190 µs of
    // CPU per message against 63 µs now, most of the difference writing pages.
    // records_ts goes: no query used it (retention uses records_kind). IF EXISTS:
    // an operator may have dropped an index by hand.
    sql: `
      DROP INDEX IF EXISTS records_ts;
      DROP INDEX IF EXISTS records_account;
      DROP INDEX IF EXISTS records_from;
      DROP INDEX IF EXISTS records_to;
      CREATE INDEX records_account ON records(seq >> 10, account);
      CREATE INDEX records_from ON records(seq >> 10, from_bare);
      CREATE INDEX records_to ON records(seq >> 10, to_bare);
    `,
  },
];

/**
 * Records per block of the participant indexes, as a shift: 1,024. Searching by
 * participant seeks once per block (a million records: about a thousand seeks).
 * Migration 3 built the indexes on `seq >> 10`: changing this needs a migration.
 */
export const BLOCK_BITS = 10;

/** A row of `records` (RECORD_COLUMNS): a stored record, four of its fields under column names. */
export type RecordRow = Omit<StoredRecord, "stanzaId" | "from" | "to" | "purgedBy"> & {
  stanza_id: string | null;
  from_jid: string | null;
  to_jid: string | null;
  purged_by: number | null;
};

export function fromRow(r: RecordRow): StoredRecord {
  return {
    seq: r.seq,
    ts: r.ts,
    direction: r.direction,
    session: r.session,
    account: r.account,
    resource: r.resource,
    remote: r.remote,
    kind: r.kind,
    type: r.type,
    stanzaId: r.stanza_id,
    from: r.from_jid,
    to: r.to_jid,
    xml: r.xml,
    detail: r.detail,
    prev: r.prev,
    digest: r.digest,
    hash: r.hash,
    purgedBy: r.purged_by,
    ref: r.ref,
  };
}

/** The columns as stored: what verify checks. */
export const RECORD_COLUMNS =
  "seq, ts, direction, session, account, resource, remote, kind, type, stanza_id, from_jid, to_jid, xml, detail, prev, digest, hash, purged_by, ref";

/** The columns for readers (search, export): a reference shows the XML it stands for. */
export const RESOLVED_COLUMNS = RECORD_COLUMNS.replace(
  "xml,",
  "coalesce(xml, (SELECT source.xml FROM records AS source WHERE source.seq = records.ref)) AS xml,",
);

/** SQL for the bare JID of a full JID held in `x` (the participant columns). */
const bare = (x: string) => `CASE WHEN instr(${x}, '/') > 0 THEN substr(${x}, 1, instr(${x}, '/') - 1) ELSE ${x} END`;

/**
 * The append path, per connection: inserting into this view inserts a whole
 * commit group from two JSON documents, unpacked by SQLite in C. `rows` holds
 * each record's canonical encoding (the very text its digest is computed from:
 * fields 0-13, and 14 the ref when there is one) followed by prev, digest and
 * hash; `bodies` the [seq, body] pairs for the full-text index, or null. One
 * statement, so one kept prepared statement and atomic without BEGIN/COMMIT:
 * compiling the two INSERTs at every commit cost more CPU than a small group's
 * rows, and binding 19 parameters per row more than the rest of the audit.
 */
const APPEND_VIEW = `
  CREATE TEMP VIEW IF NOT EXISTS audit_append (rows, bodies) AS SELECT NULL, NULL;
  CREATE TEMP TRIGGER IF NOT EXISTS audit_append INSTEAD OF INSERT ON audit_append BEGIN
    INSERT INTO records (seq, ts, direction, session, account, resource, remote, kind, type,
        stanza_id, from_jid, to_jid, xml, detail, ref, from_bare, to_bare, prev, digest, hash)
      SELECT r->>'$[0][0]', r->>'$[0][1]', r->>'$[0][2]', r->>'$[0][3]', r->>'$[0][4]', r->>'$[0][5]', r->>'$[0][6]',
        r->>'$[0][7]', r->>'$[0][8]', r->>'$[0][9]', r->>'$[0][10]', r->>'$[0][11]', r->>'$[0][12]', r->>'$[0][13]',
        r->>'$[0][14]', ${bare("r->>'$[0][10]'")}, ${bare("r->>'$[0][11]'")}, r->>1, r->>2, r->>3
      FROM (SELECT value AS r FROM jsonb_each(jsonb(NEW.rows)));
    INSERT INTO bodies (rowid, body) SELECT value->>0, value->>1 FROM json_each(NEW.bodies);
  END;`;

export const APPEND_SQL = "INSERT INTO audit_append (rows, bodies) VALUES (?, ?)";

/** Creates the append view on this connection (temporary objects live as long as it does). */
export const installAppendView = (db: SqliteDb): Promise<void> => db.exec(APPEND_VIEW);

/** How long a connection to the audit database waits for another's write lock (the CLI beside the server). */
export const AUDIT_BUSY_TIMEOUT_MS = 10_000;

export async function openAuditDb(file: string): Promise<SqliteDb> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  // Create the file 0600 before SQLite does: SQLite gives -wal and -shm the main file's mode.
  await (await open(file, "a", 0o600)).close();
  await chmod(file, 0o600);
  const db = await SqliteDb.open(file, 0o600);
  try {
    await db.exec(`PRAGMA busy_timeout = ${AUDIT_BUSY_TIMEOUT_MS}`);
    await db.migrate(AUDIT_MIGRATIONS, "audit");
    await installAppendView(db);
    for (const extra of ["-wal", "-shm"]) await chmod(file + extra, 0o600).catch(() => undefined);
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The newest record: the chain head. Read inside the write transaction, never cached. */
export async function chainHead(db: SqliteDb): Promise<{ seq: number; hash: string } | undefined> {
  return db.get<{ seq: number; hash: string }>("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1");
}

import { expect } from "chai";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auditSettings } from "../../src/audit/config.js";
import { type NewRecord, type RecordFields, GENESIS, canonical, chainHash, contentDigest } from "../../src/audit/record.js";
import { REDACTED, needsRedaction, redacted } from "../../src/audit/redact.js";
import { addHold, purgeExpired } from "../../src/audit/retention.js";
import { iterateRecords, mentioned, parseTime } from "../../src/audit/query.js";
import { AUDIT_MIGRATIONS, installAppendView, openAuditDb } from "../../src/audit/store.js";
import { type Checkpoint, verifyChain, verifyWithCheckpoint } from "../../src/audit/verify.js";
import { AuditWriter, appendInTransaction } from "../../src/audit/writer.js";
import { validateConfig } from "../../src/config/index.js";
import { nullLogger } from "../../src/core/log.js";
import { SqliteDb } from "../../src/storage/sqlite/db.js";
import { StreamParser, type Element } from "../../src/xml/index.js";

const DAY = 86_400_000;

function message(i: number, ts = Date.now(), from = "alice@x/a", to = "bob@x"): NewRecord {
  const xml = `<message from='${from}' to='${to}' id='m${i}' type='chat'><body>hello ${i}</body></message>`;
  return {
    ts,
    direction: "in",
    session: "s1",
    account: from.split("/")[0]!,
    resource: "a",
    remote: "127.0.0.1",
    kind: "message",
    type: "chat",
    stanzaId: `m${i}`,
    from,
    to,
    xml,
    detail: null,
    body: `hello ${i}`,
  };
}

function parse(text: string): Element {
  let el: Element | null = null;
  const p = new StreamParser(
    { maxStanzaBytes: 100000, maxDepth: 20 },
    { streamStart: () => undefined, element: (e) => (el = e), streamEnd: () => undefined, error: (c) => { throw new Error(c); } },
  );
  p.write(Buffer.from(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>${text}`));
  return el!;
}

describe("audit: hash chain, verify, retention", () => {
  let dir: string;
  let db: SqliteDb;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-audit-"));
    db = await openAuditDb(join(dir, "audit.db"));
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What a record's digest covers: everything but the body (an index). */
  function fieldsOf(r: NewRecord, ref: number | null): RecordFields {
    const fields: RecordFields & { body?: string | null } = { ...r, ref };
    delete fields.body;
    return fields;
  }

  async function fill(n: number, ts?: (i: number) => number): Promise<void> {
    const records = Array.from({ length: n }, (_, i) => message(i + 1, ts?.(i + 1)));
    await db.transaction(() => appendInTransaction(db, records));
  }

  it("the database file is mode 0600", async () => {
    await fill(1);
    expect((await stat(join(dir, "audit.db"))).mode & 0o777).to.equal(0o600);
    expect((await stat(join(dir, "audit.db-wal"))).mode & 0o777).to.equal(0o600);
  });

  it("hash = SHA-256(prev || SHA-256(canonical fields)), from the genesis hash", async () => {
    await fill(3);
    const rows = await db.all<{ seq: number; prev: string; digest: string; hash: string }>("SELECT seq, prev, digest, hash FROM records ORDER BY seq");
    expect(rows[0]!.prev).to.equal(GENESIS);
    for (let i = 0; i < rows.length; i++) {
      expect(rows[i]!.hash).to.equal(chainHash(rows[i]!.prev, rows[i]!.digest));
      if (i > 0) expect(rows[i]!.prev).to.equal(rows[i - 1]!.hash);
    }
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("the canonical encoding covers every field, the reference to a repeated record included", () => {
    for (const ref of [null, 7]) {
      const base = fieldsOf(message(1, 1000), ref);
      const d = contentDigest(1, base);
      for (const key of Object.keys(base) as (keyof RecordFields)[]) {
        const changed = { ...base, [key]: typeof base[key] === "number" ? 1001 : "x" };
        expect(contentDigest(1, changed), key).not.to.equal(d);
      }
      expect(contentDigest(2, base)).not.to.equal(d);
    }
  });

  it("a record without a reference keeps the 14-field encoding of trails written before references existed", () => {
    const r = fieldsOf(message(1, 1000), null);
    const old = [1, r.ts, r.direction, r.session, r.account, r.resource, r.remote, r.kind, r.type, r.stanzaId, r.from, r.to, r.xml, r.detail];
    expect(canonical(1, r)).to.equal(JSON.stringify(old));
  });

  it("verify names an edited row", async () => {
    await fill(10);
    await db.run("UPDATE records SET xml = replace(xml, 'hello 4', 'goodbye') WHERE seq = 4");
    const r = await verifyChain(db);
    expect(r.ok).to.equal(false);
    expect(r.badSeq).to.equal(4);
    expect(r.problem).to.match(/altered/);
  });

  it("verify names an edited row whose digest and hash were recomputed, at the next record", async () => {
    await fill(10);
    await db.run("UPDATE records SET xml = 'forged', digest = 'x', hash = ? WHERE seq = 4", [chainHash("a", "b")]);
    const r = await verifyChain(db);
    expect(r.badSeq).to.equal(4);
  });

  it("verify names a deleted row", async () => {
    await fill(10);
    await db.run("DELETE FROM records WHERE seq = 6");
    const r = await verifyChain(db);
    expect(r.ok).to.equal(false);
    expect(r.badSeq).to.equal(6);
    expect(r.problem).to.match(/missing \(deleted\)/);
  });

  it("verify names an inserted row", async () => {
    await fill(10);
    // Make room at seq 5 and insert a copy of record 3 there.
    await db.exec("UPDATE records SET seq = seq + 1000 WHERE seq >= 5; UPDATE records SET seq = seq - 999 WHERE seq >= 1000;");
    await db.run(
      `INSERT INTO records (seq, ts, direction, session, account, resource, remote, kind, type, stanza_id, from_jid, to_jid, xml, detail, prev, digest, hash)
       SELECT 5, ts, direction, session, account, resource, remote, kind, type, stanza_id, from_jid, to_jid, xml, detail,
              (SELECT hash FROM records WHERE seq = 4), digest, hash FROM records WHERE seq = 3`,
    );
    const r = await verifyChain(db);
    expect(r.ok).to.equal(false);
    expect(r.badSeq).to.equal(5);
  });

  it("a checkpoint detects a cut at the tail; verify alone cannot", async () => {
    await fill(10);
    const head = await db.get<Checkpoint>("SELECT seq, hash FROM records WHERE seq = 10");
    await db.run("DELETE FROM records WHERE seq > 7");
    expect((await verifyChain(db)).ok).to.equal(true);
    const r = await verifyWithCheckpoint(db, head!);
    expect(r.ok).to.equal(false);
    expect(r.badSeq).to.equal(8);
    expect(r.problem).to.match(/cut off the tail/);
  });

  it("group commit: concurrent appends commit in order, in few transactions", async () => {
    const writer = new AuditWriter(db, { commitWindowMs: 5, maxBatch: 50 }, nullLogger);
    const records = Array.from({ length: 200 }, (_, i) => message(i));
    await Promise.all(records.map((r) => writer.append(r)));
    expect(records.map((r) => r.seq)).to.deep.equal(Array.from({ length: 200 }, (_, i) => i + 1));
    await writer.close();
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("two writers on two connections (server and CLI) continue one chain", async () => {
    const other = await openAuditDb(join(dir, "audit.db"));
    const a = new AuditWriter(db, { commitWindowMs: 1, maxBatch: 7 }, nullLogger);
    const b = new AuditWriter(other, { commitWindowMs: 1, maxBatch: 5 }, nullLogger);
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? a : b).append(message(i))));
    await a.close();
    await b.close();
    await other.close();
    const r = await verifyChain(db);
    expect(r.ok, r.problem).to.equal(true);
    expect(r.checked).to.equal(100);
  });

  it("a failed commit rejects every append of its group", async () => {
    const writer = new AuditWriter(db, { commitWindowMs: 1, maxBatch: 10 }, nullLogger);
    await db.exec("DROP TABLE bodies");
    const results = await Promise.allSettled([writer.append(message(1)), writer.append(message(2))]);
    expect(results.map((r) => r.status)).to.deep.equal(["rejected", "rejected"]);
    expect(await db.get("SELECT 1 FROM records")).to.equal(undefined);
  });

  it("a delivery referring to a record whose group failed carries the XML itself", async () => {
    const writer = new AuditWriter(db, { commitWindowMs: 1, maxBatch: 10 }, nullLogger);
    await db.exec("DROP TABLE bodies");
    const sent = message(1);
    await writer.append(sent).catch(() => undefined);
    expect(sent.seq).to.equal(undefined);
    await db.exec("CREATE VIRTUAL TABLE bodies USING fts5(body)");
    const delivered: NewRecord = { ...sent, direction: "out", session: "s2", account: "bob@x", resource: "b", sameAs: sent };
    await writer.append(delivered);
    await writer.close();
    expect(await db.all("SELECT seq, xml, ref FROM records")).to.deep.equal([{ seq: 1, xml: sent.xml, ref: null }]);
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("purge: expired records are emptied or dropped, held ones kept, verification still passes", async () => {
    const now = Date.now();
    // 1-4 old, 5 old but Carol's (held), 6-8 old, 9-10 recent.
    const records = Array.from({ length: 10 }, (_, i) =>
      i === 4 ? message(i + 1, now - 40 * DAY, "carol@x/c", "bob@x") : message(i + 1, i < 8 ? now - 40 * DAY : now),
    );
    await db.transaction(() => appendInTransaction(db, records));
    await addHold(db, "carol@x", "case 7");
    const settings = auditSettings(validateConfig({ audit: { retention: { messages: 30 } } }, null));
    const r = await purgeExpired(db, settings, now);
    expect(r.tombstoned).to.equal(7);
    expect(r.dropped).to.equal(4); // 1-4: the prefix before Carol's record
    expect(r.firstSeq).to.equal(5);
    const left = await db.all<{ seq: number; xml: string | null }>("SELECT seq, xml FROM records ORDER BY seq");
    expect(left.map((x) => x.seq)).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(left[0]!.xml).to.include("carol@x");
    expect(left[1]!.xml).to.equal(null);
    expect(await db.get("SELECT 1 FROM bodies WHERE bodies MATCH 'hello'")).not.to.equal(undefined);
    expect((await db.all("SELECT rowid FROM bodies")).length).to.equal(3); // 5, 9, 10
    const v = await verifyChain(db);
    expect(v.ok, v.problem).to.equal(true);
    // The chain goes on after a purge.
    await fill(2);
    expect((await verifyChain(db)).ok).to.equal(true);
    // Dropping more of the head than the purge recorded is caught.
    await db.run("DELETE FROM records WHERE seq = 5");
    expect((await verifyChain(db)).badSeq).to.equal(5);
  });

  it("a delivery recorded as a reference to its inbound record: one copy of the XML, resolved for readers, found by text, verified", async () => {
    const sent = message(1);
    const delivered: NewRecord = { ...sent, direction: "out", session: "s2", account: "bob@x", resource: "b", sameAs: sent };
    await db.transaction(() => appendInTransaction(db, [sent, delivered]));
    const stored = await db.all<{ seq: number; xml: string | null; ref: number | null }>("SELECT seq, xml, ref FROM records ORDER BY seq");
    expect(stored).to.deep.equal([
      { seq: 1, xml: sent.xml, ref: null },
      { seq: 2, xml: null, ref: 1 },
    ]);
    expect((await db.all("SELECT rowid FROM bodies")).length).to.equal(1); // indexed once
    const read = [];
    for await (const r of iterateRecords(db, {})) read.push(r);
    expect(read.map((r) => r.xml)).to.deep.equal([sent.xml, sent.xml]);
    // A text search finds the delivery too, though only the message's body is indexed.
    const found = async (f: Parameters<typeof iterateRecords>[1]) => {
      const seqs: number[] = [];
      for await (const r of iterateRecords(db, f)) seqs.push(r.seq);
      return seqs;
    };
    expect(await found({ text: "hello 1" })).to.deep.equal([1, 2]);
    expect(await found({ text: "hello 1", directions: ["out"] })).to.deep.equal([2]);
    expect(await found({ text: "hello 1", participant: "bob@x" })).to.deep.equal([1, 2]);
    expect(await found({ text: "goodbye" })).to.deep.equal([]);
    expect((await verifyChain(db)).ok).to.equal(true);
    // Pointing the reference elsewhere, or giving the record XML of its own, is caught.
    await db.run("UPDATE records SET ref = 0 WHERE seq = 2");
    expect((await verifyChain(db)).badSeq).to.equal(2);
    await db.run("UPDATE records SET ref = 1, xml = '<message/>' WHERE seq = 2");
    expect((await verifyChain(db)).badSeq).to.equal(2);
  });

  it("search by participant and by conversation finds every record across index blocks, in seq order, page by page", async () => {
    // Three parties in turn, over more than two blocks of 1,024 records (BLOCK_BITS).
    const parties = [["alice@x/a", "bob@x"], ["bob@x/b", "carol@x"], ["carol@x/c", "alice@x"]] as const;
    const records = Array.from({ length: 2500 }, (_, i) => message(i + 1, undefined, ...parties[i % 3]!));
    await db.transaction(() => appendInTransaction(db, records));
    const seqs = async (f: Parameters<typeof iterateRecords>[1], limit = Infinity) => {
      const out: number[] = [];
      for await (const r of iterateRecords(db, f, limit, 97)) out.push(r.seq);
      return out;
    };
    const withAlice = records.flatMap((_, i) => (i % 3 !== 1 ? [i + 1] : []));
    expect(await seqs({ participant: "alice@x" })).to.deep.equal(withAlice);
    expect(await seqs({ between: ["bob@x", "alice@x"] })).to.deep.equal(records.flatMap((_, i) => (i % 3 === 0 ? [i + 1] : [])));
    expect(await seqs({ participant: "alice@x" }, 1000)).to.deep.equal(withAlice.slice(0, 1000));
    expect(await seqs({ participant: "nobody@x" })).to.deep.equal([]);
    expect(await seqs({ participant: "alice@x", text: "hello 2002" })).to.deep.equal([2002]);
    expect(await seqs({ participant: "carol@x", text: "hello 2002" })).to.deep.equal([]);
    expect(await mentioned(db, "carol@x")).to.equal(true);
    expect(await mentioned(db, "nobody@x")).to.equal(false);
  });

  it("audit schema 3: a version-2 trail gets block-led participant indexes, keeps its records and still verifies", async () => {
    await db.close();
    const file = join(dir, "v2.db");
    db = await SqliteDb.open(file);
    await db.migrate(AUDIT_MIGRATIONS.filter((m) => m.version <= 2), "audit");
    await installAppendView(db);
    await db.transaction(() => appendInTransaction(db, [message(1), message(2, undefined, "carol@x/c", "alice@x")]));
    await db.close();
    db = await openAuditDb(file);
    expect((await db.get<{ user_version: number }>("PRAGMA user_version"))?.user_version).to.equal(3);
    const indexes = await db.all<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'");
    expect(indexes.map((i) => i.name).sort()).to.deep.equal(["records_account", "records_from", "records_kind", "records_to"]);
    for (const i of indexes.filter((i) => i.name !== "records_kind")) expect(i.sql).to.match(/\(seq >> 10, \w+\)/);
    const read = [];
    for await (const r of iterateRecords(db, { participant: "carol@x" })) read.push(r.seq);
    expect(read).to.deep.equal([2]);
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("purge: a message stays while a delivery that refers to it is kept; a dry run counts exactly that", async () => {
    const now = Date.now();
    const sent = message(1, now - 40 * DAY);
    // Delivered 20 days later (an offline recipient): not due yet at 30 days.
    const delivered: NewRecord = { ...sent, ts: now - 20 * DAY, direction: "out", account: "bob@x", sameAs: sent };
    await db.transaction(() => appendInTransaction(db, [sent, message(2, now - 40 * DAY), delivered]));
    const settings = auditSettings(validateConfig({ audit: { retention: { messages: 30 } } }, null));
    const dry = await purgeExpired(db, settings, now, true);
    expect(dry.tombstoned).to.equal(1); // message 2 only
    expect((await db.all("SELECT seq FROM records WHERE purged_by IS NOT NULL")).length).to.equal(0); // rolled back
    expect((await purgeExpired(db, settings, now)).tombstoned).to.equal(1);
    expect((await db.get<{ xml: string }>("SELECT xml FROM records WHERE seq = 1"))!.xml).to.equal(sent.xml);
    expect((await verifyChain(db)).ok).to.equal(true);
    // Once the delivery is due too, both go, and the chain still verifies.
    expect((await purgeExpired(db, settings, now + 11 * DAY)).tombstoned).to.equal(2);
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("purge: emptying a record that was not due is caught", async () => {
    await fill(5);
    const settings = auditSettings(validateConfig({ audit: { retention: { messages: 30 } } }, null));
    const r = await purgeExpired(db, settings);
    expect(r.tombstoned).to.equal(0);
    await db.run("UPDATE records SET xml = NULL, detail = NULL, account = NULL, from_jid = NULL, to_jid = NULL, purged_by = ? WHERE seq = 3", [r.purgeSeq]);
    const v = await verifyChain(db);
    expect(v.ok).to.equal(false);
    expect(v.badSeq).to.equal(3);
  });

  it("redaction: XEP-0077 passwords are replaced in a copy, the stanza is untouched", () => {
    const el = parse(
      "<iq type='set' id='r1'><query xmlns='jabber:iq:register'><username>bill</username><password>Calliope</password>" +
        "<x xmlns='jabber:x:data' type='submit'><field var='password'><value>Calliope</value></field></x></query></iq>",
    );
    expect(needsRedaction(el)).to.equal(true);
    const copy = redacted(el).toString();
    expect(copy).not.to.include("Calliope");
    expect(copy).to.include(REDACTED);
    expect(copy).to.include("<username>bill</username>");
    expect(el.toString()).to.include("Calliope");
    expect(needsRedaction(parse("<message><body>password</body></message>"))).to.equal(false);
  });

  it("dates: ISO 8601 in UTC, or epoch milliseconds; anything else is a clear error", () => {
    expect(parseTime("2024-05-01", "--since")).to.equal(Date.UTC(2024, 4, 1));
    expect(parseTime("2024-05-01T09:30", "--since")).to.equal(Date.UTC(2024, 4, 1, 9, 30));
    expect(parseTime("2024-05-01T09:30:00+02:00", "--since")).to.equal(Date.UTC(2024, 4, 1, 7, 30));
    expect(parseTime("1714550400000", "--since")).to.equal(1714550400000);
    expect(() => parseTime("yesterday", "--since")).to.throw(/--since: "yesterday" is not a date/);
    expect(() => parseTime("2024-13-45", "--until")).to.throw(/--until/);
  });
});

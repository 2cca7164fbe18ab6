import { expect } from "chai";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Checkpointer } from "../../src/audit/checkpointer.js";
import { auditSettings } from "../../src/audit/config.js";
import type { NewRecord } from "../../src/audit/record.js";
import { SqliteAuditSink } from "../../src/audit/sink.js";
import { openAuditDb } from "../../src/audit/store.js";
import { verifyChain } from "../../src/audit/verify.js";
import { AuditWriter } from "../../src/audit/writer.js";
import { validateConfig } from "../../src/config/index.js";
import { createLogger, nullLogger } from "../../src/core/log.js";
import type { SqliteDb } from "../../src/storage/sqlite/db.js";

/** An event record of about 1 KB: a few of them fill a WAL page. */
function padded(i: number): NewRecord {
  return {
    ts: Date.now(), direction: "event", session: "s", account: "a@x", resource: null, remote: null,
    kind: "session", type: "connect", stanzaId: null, from: null, to: null, xml: null,
    detail: JSON.stringify({ i, pad: "x".repeat(1000) }), body: null,
  };
}

const sizeOf = (file: string) => stat(file).then((s) => s.size, () => 0);

/**
 * Appends for `ms` with always `inFlight` records waiting, so that the writer never
 * stops between commits (the case where a PASSIVE checkpoint never catches up).
 * Samples the WAL file's size meanwhile; returns how many records were appended.
 */
async function writeContinuously(writer: AuditWriter, wal: string, ms: number, inFlight: number, sizes: number[]): Promise<number> {
  let n = 0;
  let stop = false;
  const sampler = (async () => {
    while (!stop) {
      sizes.push(await sizeOf(wal));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const lane = async () => {
    while (!stop) await writer.append(padded(n++));
  };
  const deadline = setTimeout(() => (stop = true), ms);
  await Promise.all(Array.from({ length: inFlight }, lane));
  clearTimeout(deadline);
  await sampler;
  return n;
}

describe("audit: WAL checkpoints", () => {
  let dir: string;
  let file: string;
  let db: SqliteDb;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-ckpt-"));
    file = join(dir, "audit.db");
    db = await openAuditDb(file);
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the server's commits never run a WAL checkpoint; a second connection copies the WAL into the database", async () => {
    const settings = auditSettings(validateConfig({ audit: { path: join(dir, "server.db") } }, null));
    const sink = await SqliteAuditSink.open(settings, nullLogger);
    try {
      expect(await sink.db.get("PRAGMA wal_autocheckpoint")).to.deep.equal({ wal_autocheckpoint: 0 });
      const before = (await stat(settings.file)).size;
      const party = { session: "s", account: "a@x", resource: null, remote: null };
      // About 4 MB: four times what an automatic checkpoint would have waited for.
      await Promise.all(Array.from({ length: 4000 }, (_, i) => sink.event(party, "connect", { pad: "x".repeat(1000), i })));
      const deadline = Date.now() + 5000;
      while ((await stat(settings.file)).size < before + 2_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect((await stat(settings.file)).size).to.be.greaterThan(before + 2_000_000);
    } finally {
      await sink.close();
    }
    const reopened = await openAuditDb(settings.file);
    expect((await verifyChain(reopened)).checked).to.equal(4000);
    await reopened.close();
  });

  it("under continuous writes the WAL starts over once past its limit, so it stays bounded; every record is kept", async () => {
    const writer = new AuditWriter(db, { commitWindowMs: 0, maxBatch: 16 }, nullLogger);
    // 64 frames of 4 KiB: 256 KiB of WAL before it starts over.
    const checkpointer = await Checkpointer.start(file, db, nullLogger, { intervalMs: 10, walLimitFrames: 64, catchUpFrames: 8 });
    const sizes: number[] = [];
    let appended = 0;
    try {
      appended = await writeContinuously(writer, `${file}-wal`, 1500, 32, sizes);
    } finally {
      await writer.close();
      await checkpointer.stop();
    }
    const written = await sizeOf(file);
    // The records alone are over 1 MB; a WAL that only ever grew would hold all of them.
    expect(appended * 1000).to.be.greaterThan(1_000_000);
    expect(written).to.be.greaterThan(1_000_000);
    // A WAL that never started over would be as large as the database, or larger.
    expect(Math.max(...sizes)).to.be.lessThan(written / 2);
    const verified = await verifyChain(db);
    expect(verified.ok, verified.problem).to.equal(true);
    expect(verified.checked).to.equal(appended);
  });

  it("a reader on an old snapshot (an export) keeps the WAL from starting over: the writer goes on, and the log says why", async () => {
    const lines: string[] = [];
    const log = createLogger({ level: "warn", write: (line) => lines.push(line) });
    const writer = new AuditWriter(db, { commitWindowMs: 0, maxBatch: 16 }, nullLogger);
    await writer.append(padded(0));
    const reader = await openAuditDb(file);
    await reader.exec("BEGIN");
    await reader.get("SELECT count(*) AS n FROM records"); // the snapshot now holds the WAL
    const checkpointer = await Checkpointer.start(file, db, log, { intervalMs: 10, walLimitFrames: 64, catchUpFrames: 8 });
    let appended = 0;
    try {
      appended = await writeContinuously(writer, `${file}-wal`, 500, 32, []);
    } finally {
      await writer.close();
      await checkpointer.stop();
      await reader.exec("COMMIT");
      await reader.close();
    }
    expect(appended).to.be.greaterThan(100);
    expect(lines.join("\n")).to.include("the audit WAL could not be started over");
    expect((await verifyChain(db)).checked).to.equal(appended + 1);
  });
});

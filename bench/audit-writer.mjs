// The audit writer alone: how many records per second it commits, and what a
// commit costs, with nothing else running. Measures, asserts nothing.
//   node bench/audit-writer.mjs [records=50000] [max_batch=256] [window_ms=2]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nullLogger } from "../dist/src/core/log.js";
import { openAuditDb } from "../dist/src/audit/store.js";
import { AuditWriter } from "../dist/src/audit/writer.js";

const total = Number(process.argv[2] ?? 50000);
const maxBatch = Number(process.argv[3] ?? 256);
const windowMs = Number(process.argv[4] ?? 2);
const dir = await mkdtemp(join(tmpdir(), "audit-writer-"));
const db = await openAuditDb(join(dir, "audit.db"));
if (process.env.DROP) for (const s of process.env.DROP.split(",")) await db.exec(s);
const writer = new AuditWriter(db, { commitWindowMs: windowMs, maxBatch }, nullLogger);
const xml = "<message type='chat' to='bob@localhost' id='abcdef' from='alice@localhost/r'><body>hello there, this is a message of ordinary length</body></message>";
const record = (i) => ({
  ts: Date.now(), direction: i % 2 ? "in" : "out", session: "s1", account: "alice@localhost", resource: "r", remote: "127.0.0.1",
  kind: "message", type: "chat", stanzaId: `id${i}`, from: "alice@localhost/r", to: "bob@localhost", xml, detail: null, body: "hello there",
});
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const inflight = [];
for (let i = 0; i < total; i++) inflight.push(writer.append(record(i)));
await Promise.all(inflight);
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
console.log(`${total} records, max_batch ${maxBatch}: ${Math.round(total / (ms / 1000))} records/s, ${((cpu.user + cpu.system) / total).toFixed(1)} µs CPU per record (main thread + sqlite threads)`);
await writer.close();
await db.close();
await rm(dir, { recursive: true, force: true });

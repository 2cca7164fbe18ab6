// How the compliance officer's commands scale: fills an audit trail with N
// message records (through the real writer; half of them deliveries recorded
// as references, as the server writes them), then times `parley audit verify`,
// `export --format jsonl|csv|eml` and a full-text search on it, as child
// processes, with their peak memory. Measures, asserts nothing.
//   node bench/audit-export.mjs [records=1000000]
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nullLogger } from "../dist/src/core/log.js";
import { openAuditDb } from "../dist/src/audit/store.js";
import { AuditWriter } from "../dist/src/audit/writer.js";

const total = Number(process.argv[2] ?? 1_000_000);
const dir = await mkdtemp(join(tmpdir(), "audit-export-"));
const db = await openAuditDb(join(dir, "data", "audit.db"));
const writer = new AuditWriter(db, { commitWindowMs: 2, maxBatch: 2000 }, nullLogger);
const users = Array.from({ length: 100 }, (_, i) => `user${i}@localhost`);
const t0 = Date.now() - total * 10; // spread over the last total*10 ms
let pending = [];
let sent = null;
for (let i = 0; i < total; i++) {
  // As the server records a message: received (with its XML and body), then
  // delivered (a reference to the received record, see NewRecord.sameAs).
  const m = i >> 1, from = users[m % 100], to = users[(m * 7 + 3) % 100];
  const body = `message ${m} about ${m % 13 === 0 ? "wire transfer" : "lunch"}`;
  const xml = `<message type="chat" to="${to}" id="m${m}" from="${from}/r"><body>${body}</body></message>`;
  const record = i % 2 === 0
    ? { direction: "in", account: from, body, sameAs: undefined }
    : { direction: "out", account: to, body: null, sameAs: sent };
  const r = {
    ts: t0 + i * 10, session: "s", resource: "r", remote: "127.0.0.1",
    kind: "message", type: "chat", stanzaId: `m${m}`, from: `${from}/r`, to, detail: null, xml, ...record,
  };
  if (i % 2 === 0) sent = r;
  pending.push(writer.append(r));
  if (pending.length >= 20000) { await Promise.all(pending); pending = []; }
}
await Promise.all(pending);
await writer.close();
await db.close();
await writeFile(join(dir, "p.toml"), `[server]\ndata_dir = "${join(dir, "data")}"\n`);
console.log(`${total} records written; audit.db ${(await stat(join(dir, "data", "audit.db"))).size >> 20} MiB`);

function time(label, args) {
  const r = spawnSync("/usr/bin/time", ["-f", "%e s, %M KiB peak", process.execPath, "bin/parley", "--config", join(dir, "p.toml"), ...args], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  const measured = r.stderr.trim().split("\n").pop();
  console.log(`${label}: ${measured}${r.status === 0 ? "" : ` (exit ${r.status}: ${r.stderr.trim().split("\n")[0]})`}`);
}
time("audit verify", ["audit", "verify"]);
time("audit export jsonl", ["audit", "export", "--format", "jsonl", "-o", join(dir, "out.jsonl")]);
time("audit export csv", ["audit", "export", "--format", "csv", "-o", join(dir, "out.csv")]);
time("audit export eml", ["audit", "export", "--format", "eml", "-o", join(dir, "eml")]);
time("audit search --text 'wire transfer'", ["audit", "search", "--text", "wire transfer", "--limit", "100000"]);
time("audit search --participant user7@localhost", ["audit", "search", "--participant", "user7@localhost", "--limit", "100000"]);
if (process.env.KEEP) console.log(`kept: ${dir}`);
else await rm(dir, { recursive: true, force: true });

// The audit trail across a SIGKILL, and the compliance officer's CLI, against
// the real `parley start` process.

import { expect } from "chai";
import { type XmlElement, xml } from "@xmpp/client";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openAuditDb } from "../../src/audit/store.js";
import { verifyChain } from "../../src/audit/verify.js";
import { type Client, connectClient } from "../harness/clients.js";
import "../harness/server.js"; // accepts the self-signed certificate

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = join(ROOT, "bin/parley");

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function parley(config: string, args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, "--config", config, ...args], { cwd: ROOT });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("close", (code) => resolve({ code, out, err }));
    child.stdin.end(stdin ?? "");
  });
}

/** `parley start` as a child process; resolves with its STARTTLS port once it listens. */
function startServer(config: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "--config", config, "start"], { cwd: ROOT });
    let out = "";
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening kind=starttls address=\S+ port=(\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]), output: () => out });
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`parley start exited (${code}): ${out}`)));
  });
}

describe("audit trail: SIGKILL under load, then the CLI (parley audit ...)", function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;
  const clients: Client[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-audit-crash-"));
    config = join(dir, "parley.toml");
    await writeFile(
      config,
      [
        "[server]",
        `data_dir = "${join(dir, "data")}"`,
        "[listen]",
        "c2s_ports = [0]",
        "c2s_direct_tls_ports = []",
        "[tls]",
        `cert_dir = "${join(dir, "certs")}"`,
        "[auth]",
        "scram_iterations = 4096",
        "failure_delay_ms = 0",
        "[audit]",
        "commit_window_ms = 2",
        "",
      ].join("\n"),
    );
    for (const [user, pw] of [["alice", "wonderland"], ["bob", "builder"]]) {
      const r = await parley(config, ["adduser", `${user}@localhost`, "--password-stdin"], pw);
      expect(r.code, r.err).to.equal(0);
    }
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  it("killed with SIGKILL mid-conversation: verify passes and every message bob received is in the trail", async () => {
    const server = await startServer(config);
    const alice = await connectClient({ port: server.port, username: "alice", password: "wonderland", resource: "desk" });
    const bob = await connectClient({ port: server.port, username: "bob", password: "builder", resource: "phone" });
    clients.push(alice, bob);
    alice.on("error", () => undefined);
    bob.on("error", () => undefined);
    const received: string[] = [];
    bob.on("stanza", (s: XmlElement) => {
      if (s.name === "message" && s.attrs.id?.startsWith("load-")) received.push(s.attrs.id);
    });
    // Keep sending without waiting; kill once bob has some.
    let sent = 0;
    const sending = (async () => {
      while (sent < 5000 && server.child.exitCode === null && server.child.signalCode === null) {
        await alice.send(xml("message", { to: "bob@localhost/phone", type: "chat", id: `load-${sent}` }, xml("body", {}, `load ${sent}`))).catch(() => undefined);
        sent++;
        if (sent % 20 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    while (received.length < 200) await new Promise((r) => setTimeout(r, 5));
    server.child.kill("SIGKILL");
    await new Promise((r) => server.child.once("exit", r));
    await sending;
    const seen = [...received];
    expect(seen.length).to.be.greaterThan(0);

    const v = await parley(config, ["audit", "verify"]);
    expect(v.code, v.err + v.out).to.equal(0);
    expect(v.out).to.match(/^ok: /);

    const db = await openAuditDb(join(dir, "data/audit.db"));
    try {
      const out = await db.all<{ stanza_id: string }>(
        "SELECT stanza_id FROM records WHERE kind = 'message' AND direction = 'out' AND account = 'bob@localhost'",
      );
      const inTrail = new Set(out.map((r) => r.stanza_id));
      expect(seen.filter((id) => !inTrail.has(id))).to.deep.equal([]);
    } finally {
      await db.close();
    }

    // Restarted, the chain continues from the last record.
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
    const again = await startServer(config);
    const c = await connectClient({ port: again.port, username: "alice", password: "wonderland", resource: "again" });
    await c.send(xml("message", { to: "bob@localhost", type: "chat", id: "after" }, xml("body", {}, "after the crash")));
    await c.stop();
    again.child.kill("SIGTERM");
    await new Promise((r) => again.child.once("exit", r));
    const v2 = await parley(config, ["audit", "verify"]);
    expect(v2.code, v2.err).to.equal(0);
  });

  it("search, conversation, export (jsonl, csv, eml), checkpoint, holds and purge; each recorded", async () => {
    const conv = await parley(config, ["audit", "conversation", "alice@localhost", "bob@localhost", "--since", "2000-01-01"]);
    expect(conv.code, conv.err).to.equal(0);
    expect(conv.out).to.match(/alice@localhost\/desk -> bob@localhost\/phone: load 0\n/);

    const search = await parley(config, ["audit", "search", "--participant", "bob@localhost", "--text", "after the crash", "--json"]);
    expect(search.code, search.err).to.equal(0);
    expect(search.out.trim().split("\n").map((l) => (JSON.parse(l) as { stanzaId: string }).stanzaId)).to.deep.equal(["after"]);

    const badDate = await parley(config, ["audit", "search", "--since", "last tuesday"]);
    expect(badDate.code).to.equal(1);
    expect(badDate.err).to.match(/--since: "last tuesday" is not a date/);
    const unknown = await parley(config, ["audit", "conversation", "alice@localhost", "mallory@localhost"]);
    expect(unknown.code).to.equal(1);
    expect(unknown.err).to.match(/mallory@localhost: unknown account/);

    const jsonl = join(dir, "out.jsonl");
    const ex = await parley(config, ["audit", "export", "--format", "jsonl", "-o", jsonl, "--participant", "alice@localhost", "--kind", "message"]);
    expect(ex.code, ex.err).to.equal(0);
    const lines = (await readFile(jsonl, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { seq: number; hash: string });
    const manifest = JSON.parse(await readFile(`${jsonl}.manifest.json`, "utf8")) as { records: [number, string][]; summary: { count: number } };
    expect(manifest.summary.count).to.equal(lines.length);
    expect(manifest.records.map(([seq, hash]) => `${seq}:${hash}`)).to.deep.equal(lines.map((l) => `${l.seq}:${l.hash}`));

    const csv = await parley(config, ["audit", "export", "--format", "csv", "-o", join(dir, "out.csv"), "--kind", "session"]);
    expect(csv.code, csv.err).to.equal(0);
    expect((await readFile(join(dir, "out.csv"), "utf8")).split("\r\n")[0]).to.match(/^seq,ts,direction/);

    const eml = await parley(config, ["audit", "export", "--format", "eml", "-o", join(dir, "eml")]);
    expect(eml.code, eml.err).to.equal(0);
    const files = (await readdir(join(dir, "eml"))).filter((f) => f.endsWith(".eml"));
    expect(files.length).to.be.greaterThan(0);
    const mail = await readFile(join(dir, "eml", files[0]!), "utf8");
    expect(mail).to.match(/^From: alice@localhost\r\nTo: bob@localhost\r\n/);
    expect(mail).to.include("alice@localhost/desk: load 0");

    const cpFile = join(dir, "checkpoint.json");
    expect((await parley(config, ["audit", "checkpoint", "-o", cpFile])).code).to.equal(0);
    expect((await parley(config, ["audit", "verify", "--checkpoint", cpFile])).code).to.equal(0);

    expect((await parley(config, ["audit", "hold", "add", "alice@localhost", "--reason", "case 12"])).code).to.equal(0);
    expect((await parley(config, ["audit", "hold", "list"])).out).to.match(/^alice@localhost\t.*case 12/);
    const purge = await parley(config, ["audit", "purge"]);
    expect(purge.out).to.match(/keep forever/);
    expect((await parley(config, ["deluser", "bob@localhost"])).code).to.equal(0);

    const db = await openAuditDb(join(dir, "data/audit.db"));
    try {
      const admin = await db.all<{ type: string; account: string | null }>("SELECT type, account FROM records WHERE kind IN ('admin', 'purge') ORDER BY seq");
      expect(admin.map((a) => a.type)).to.include.members(["adduser", "conversation", "search", "export", "hold-add", "purge", "deluser"]);
      // The trail survives the account: bob's records are still there and still verify.
      expect(await db.get("SELECT 1 FROM records WHERE account = 'bob@localhost' AND kind = 'message'")).not.to.equal(undefined);
      expect((await verifyChain(db)).ok).to.equal(true);
    } finally {
      await db.close();
    }
    // A cut at the tail after the checkpoint was taken is caught.
    const db2 = await openAuditDb(join(dir, "data/audit.db"));
    const cp = JSON.parse(await readFile(cpFile, "utf8")) as { seq: number };
    await db2.run("DELETE FROM records WHERE seq >= ?", [cp.seq - 1]);
    await db2.close();
    const cut = await parley(config, ["audit", "verify", "--checkpoint", cpFile]);
    expect(cut.code).to.equal(1);
    expect(cut.err).to.match(/cut off the tail/);
  });
});

// Watching a running server (issue 6): the admin socket and `parley status`,
// the Prometheus endpoint, and schema upgrades at start.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { adminRequest } from "../../src/admin/socket.js";
import type { Status } from "../../src/admin/status.js";
import { SqliteDb } from "../../src/storage/sqlite/db.js";
import { MIGRATIONS } from "../../src/storage/sqlite/migrations.js";
import { runParley } from "../harness/cli.js";
import { type Client, connectClient } from "../harness/clients.js";
import { type ConfigOverrides, type TestServer, startTestServer } from "../harness/server.js";

const overrides = (o: Record<string, Record<string, unknown>>) => o as unknown as ConfigOverrides;

function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body }),
      );
    })
      .on("error", reject)
      .end();
  });
}

/** The value of one sample line of the exposition, e.g. `parley_sessions` or `x{a="b"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A raw line-protocol exchange on the admin socket. */
function rawAdmin(path: string, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let got = "";
    s.setEncoding("utf8");
    s.on("connect", () => s.write(lines.join("")));
    s.on("data", (d: string) => {
      got += d;
      const answers = got.split("\n").filter(Boolean);
      if (answers.length >= lines.length) {
        s.destroy();
        resolve(answers);
      }
    });
    s.on("error", reject);
  });
}

describe("daemon: admin socket and parley status", function () {
  this.timeout(30_000);
  let ts: TestServer;
  const clients: Client[] = [];
  const socket = () => join(ts.config.server.data_dir, "parley.sock");

  before(async () => {
    ts = await startTestServer();
    await ts.addUser("alice", "pw");
    await ts.addUser("bob", "pw");
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
    await ts.stop();
  });

  it("is a Unix socket in data_dir with mode 0600", async () => {
    const st = await stat(socket());
    expect(st.isSocket()).to.equal(true);
    expect(st.mode & 0o777).to.equal(0o600);
    expect(ts.server.daemon.adminSocketPath).to.equal(socket());
  });

  it("speaks line-based JSON: one answer per request line, errors named, the connection stays open", async () => {
    const answers = await rawAdmin(socket(), [
      '{"command":"ping"}\n',
      "not json\n",
      '{"command":"reboot"}\n',
      '{"command":"status"}\n',
    ]);
    expect(JSON.parse(answers[0]!)).to.deep.equal({ ok: true });
    expect(JSON.parse(answers[1]!)).to.deep.equal({
      ok: false,
      error: "not JSON: send one JSON object per line",
    });
    expect(JSON.parse(answers[2]!).error).to.match(/unknown command "reboot"/);
    expect(JSON.parse(answers[3]!).ok).to.equal(true);
  });

  it("status reports sessions, accounts, uptime, audit size and lag", async () => {
    clients.push(
      await connectClient({
        port: ts.starttlsPort,
        username: "alice",
        password: "pw",
        resource: "s",
      }),
    );
    const answer = await adminRequest(socket(), { command: "status" });
    const s = answer.status as Status;
    expect(s.sessions).to.equal(1);
    expect(s.connections).to.equal(1);
    expect(s.accounts).to.equal(2);
    expect(s.uptime_seconds).to.be.a("number");
    expect(s.pid).to.equal(process.pid);
    expect(s.audit.enabled).to.equal(true);
    expect(s.audit.file).to.equal(join(ts.config.server.data_dir, "audit.db"));
    expect(s.audit.bytes).to.be.greaterThan(0);
    expect(s.audit.queue).to.deep.equal({ length: 0, oldest_ms: 0 });
    expect(s.audit.committed).to.be.greaterThan(0);
    expect(s.event_loop_lag_ms).to.have.keys("mean_ms", "p99_ms", "max_ms");
  });

  it("parley status prints it, found through the configuration (admin.socket defaults to <data_dir>/parley.sock)", async () => {
    const conf = join(ts.dir, "status.toml");
    await writeFile(conf, `[server]\ndata_dir = "${ts.config.server.data_dir}"\n`);
    const r = await runParley(["--config", conf, "status"], ts.dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^sessions: +1 \(connections: 1\)$/m);
    expect(r.stdout).to.match(/^accounts: +2$/m);
    expect(r.stdout).to.match(/^audit: +.*audit\.db, [\d.]+ KiB$/m);
    expect(r.stdout).to.match(/^audit lag: +0 waiting/m);
    expect(r.stdout).to.match(/, up \d/);
    const json = await runParley(["--config", conf, "status", "--json"], ts.dir);
    expect(JSON.parse(json.stdout).sessions).to.equal(1);
  });

  it("parley status without a running server says so in one line, exit 1", async () => {
    const dir = await mkdtemp(join(tmpdir(), "parley-nostatus-"));
    try {
      const conf = join(dir, "p.toml");
      await writeFile(conf, `[server]\ndata_dir = "${join(dir, "data")}"\n`);
      const r = await runParley(["--config", conf, "status"], dir);
      expect(r.code).to.equal(1);
      expect(r.stderr.trim()).to.equal(
        `parley: ${join(dir, "data", "parley.sock")}: the server is not running (nothing answers on its admin socket)`,
      );
      await writeFile(
        conf,
        `[server]\ndata_dir = "${join(dir, "data")}"\n[admin]\nenabled = false\n`,
      );
      const off = await runParley(["--config", conf, "status"], dir);
      expect(off.stderr.trim()).to.equal(
        "parley: the admin socket is disabled (admin.enabled = false); status is not available",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a second server on the same data directory is refused: the admin socket answers", async () => {
    let error: Error | null = null;
    try {
      const second = await startTestServer({}, { dir: ts.dir, keepDir: true });
      await second.stop();
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).to.equal(
      `${socket()}: another Parley server is running on this data directory (its admin socket answers)`,
    );
    // The first one is unharmed.
    expect((await adminRequest(socket(), { command: "ping" })).ok).to.equal(true);
  });

  it("RFC 6121 2.1.1: parley deluser of an online account ends its sessions; a new account of that name starts with an empty roster", async () => {
    await ts.addUser("carol", "pw");
    const carol = await connectClient({ port: ts.starttlsPort, username: "carol", password: "pw", resource: "c" });
    const streamError = new Promise<string>((resolve) => carol.on("error", (e: { condition?: string }) => resolve(e.condition ?? "")));
    const set = xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "alice@localhost" }));
    await carol.iqCaller.request(xml("iq", { type: "set" }, set)); // carol's roster is now in the server's memory
    const conf = join(ts.dir, "deluser.toml");
    await writeFile(conf, `[server]\ndata_dir = "${ts.config.server.data_dir}"\n`);
    const r = await runParley(["--config", conf, "deluser", "carol@localhost"], ts.dir);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("ended 1 session(s) of carol@localhost");
    expect(await streamError).to.equal("not-authorized");
    await carol.stop().catch(() => undefined);
    await ts.addUser("carol", "pw");
    const again = await connectClient({ port: ts.starttlsPort, username: "carol", password: "pw", resource: "c" });
    clients.push(again);
    const roster = await again.iqCaller.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    expect(roster.getChild("query")?.getChildren("item")).to.deep.equal([]);
  });
});

describe("daemon: admin socket options", function () {
  this.timeout(30_000);

  it("admin.enabled = false opens no socket; admin.socket sets its path; stop removes it", async () => {
    const off = await startTestServer(overrides({ admin: { enabled: false } }));
    try {
      expect(off.server.daemon.adminSocketPath).to.equal(null);
      await stat(join(off.config.server.data_dir, "parley.sock")).then(
        () => expect.fail("socket exists"),
        (e: NodeJS.ErrnoException) => expect(e.code).to.equal("ENOENT"),
      );
    } finally {
      await off.stop();
    }
    const dir = await mkdtemp(join(tmpdir(), "parley-sock-"));
    const path = join(dir, "admin.sock");
    const on = await startTestServer(overrides({ admin: { socket: path } }));
    expect((await stat(path)).isSocket()).to.equal(true);
    await on.stop();
    await stat(path).then(
      () => expect.fail("socket left behind"),
      (e: NodeJS.ErrnoException) => expect(e.code).to.equal("ENOENT"),
    );
    await rm(dir, { recursive: true, force: true });
  });
});

describe("daemon: Prometheus endpoint", function () {
  this.timeout(30_000);

  it("is off by default", async () => {
    const ts = await startTestServer();
    try {
      expect(ts.server.daemon.metricsPort).to.equal(null);
    } finally {
      await ts.stop();
    }
  });

  it("serves sessions, stanzas in and out by kind, auth failures, audit latency and queue, event-loop lag in the text format", async () => {
    const ts = await startTestServer(overrides({ metrics: { enabled: true, port: 0 } }));
    const clients: Client[] = [];
    try {
      await ts.addUser("alice", "pw");
      await ts.addUser("bob", "pw");
      const port = ts.server.daemon.metricsPort!;
      expect(port).to.be.a("number");
      await connectClient({ port: ts.starttlsPort, username: "alice", password: "wrong" }).then(
        () => expect.fail("logged in with a wrong password"),
        () => undefined,
      );
      const alice = await connectClient({
        port: ts.starttlsPort,
        username: "alice",
        password: "pw",
        resource: "m",
      });
      const bob = await connectClient({
        port: ts.starttlsPort,
        username: "bob",
        password: "pw",
        resource: "m",
      });
      clients.push(alice, bob);
      const got = new Promise<void>((resolve) =>
        bob.on("stanza", (s) => s.name === "message" && resolve()),
      );
      await alice.send(
        xml("message", { to: "bob@localhost/m", type: "chat" }, xml("body", {}, "hi")),
      );
      await got;

      const res = await httpGet(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).to.equal(200);
      expect(res.type).to.equal("text/plain; version=0.0.4; charset=utf-8");
      const t = res.body;
      expect(t).to.include("# TYPE parley_stanzas_total counter\n");
      expect(sample(t, "parley_sessions")).to.equal(2);
      expect(sample(t, 'parley_stanzas_total{direction="in",kind="message"}')).to.equal(1);
      expect(sample(t, 'parley_stanzas_total{direction="out",kind="message"}')).to.equal(1);
      expect(sample(t, 'parley_stanzas_total{direction="in",kind="iq"}')).to.be.greaterThan(0);
      expect(sample(t, "parley_auth_failures_total")).to.equal(1);
      expect(sample(t, "parley_audit_write_seconds_count")).to.be.greaterThan(0);
      expect(sample(t, 'parley_audit_write_seconds_bucket{le="+Inf"}')).to.equal(
        sample(t, "parley_audit_write_seconds_count"),
      );
      expect(sample(t, "parley_audit_queue_length")).to.equal(0);
      expect(sample(t, 'parley_event_loop_lag_seconds{stat="p99"}')).to.be.at.least(0);
      expect(t).to.match(/^# TYPE parley_audit_write_seconds histogram$/m);
      expect((await httpGet(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
    } finally {
      await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
      await ts.stop();
    }
  });
});

describe("daemon: database upgrades at start", function () {
  this.timeout(30_000);

  it("a version-1 database is migrated forward, with a .bak of the version-1 file left beside it, and its data kept", async () => {
    const dir = await mkdtemp(join(tmpdir(), "parley-v1-"));
    const file = join(dir, "data", "parley.db");
    await mkdir(join(dir, "data"), { recursive: true });
    const v1 = await SqliteDb.open(file);
    await v1.migrate(
      MIGRATIONS.filter((m) => m.version === 1),
      "main database",
    );
    await v1.close();

    const ts = await startTestServer({}, { dir, keepDir: true });
    await ts.addUser("carol", "pw");
    await ts.stop();

    const db = await SqliteDb.open(file);
    const version = await db.get<{ user_version: number }>("PRAGMA user_version");
    const accounts = await db.all<{ local: string }>("SELECT local FROM accounts");
    await db.close();
    expect(version?.user_version).to.equal(Math.max(...MIGRATIONS.map((m) => m.version)));
    expect(accounts.map((a) => a.local)).to.deep.equal(["carol"]);
    const bak = await SqliteDb.open(`${file}.v1.bak`);
    const bakVersion = await bak.get<{ user_version: number }>("PRAGMA user_version");
    await bak.close();
    expect(bakVersion?.user_version).to.equal(1);
    await rm(dir, { recursive: true, force: true });
  });
});

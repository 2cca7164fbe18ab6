// Running as a daemon (issue 6): `parley start` as a child process under
// SIGTERM, SIGINT and SIGHUP, driven by xmpp.js clients.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import { X509Certificate } from "node:crypto";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { SqliteDb } from "../../src/storage/sqlite/db.js";
import { runParley } from "../harness/cli.js";
import { type Client, HEADER, RawClient, connectClient } from "../harness/clients.js";
import { type Daemon, addUsers, startDaemon, writeToml } from "./daemon-process.js";

// The daemon's certificates are self-signed.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

/** The bound on shutdown that src/cli/start.ts enforces. */
const SHUTDOWN_BOUND_MS = 15_000;

const chat = (to: string, body: string) =>
  xml("message", { to, type: "chat" }, xml("body", {}, body));

/** Every message body a client receives, in order; and the stream error it got, if any. */
function collect(c: Client): { bodies: string[]; streamErrors: string[] } {
  const seen = { bodies: [] as string[], streamErrors: [] as string[] };
  c.on("stanza", (s) => {
    if (s.name === "message" && s.attrs.type !== "error") {
      const body = s.getChildText("body");
      if (body) seen.bodies.push(body);
    }
  });
  c.on("error", (e: Error & { condition?: string }) => {
    if (e.condition) seen.streamErrors.push(e.condition);
  });
  return seen;
}

function login(port: number, user: string, resource = "r"): Promise<Client> {
  return connectClient({ port, username: user, password: "pw", resource });
}

/** SHA-256 fingerprint of the certificate a direct-TLS handshake presents. */
function directTlsFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      { port, host: "127.0.0.1", servername: "localhost", rejectUnauthorized: false },
      () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.destroy();
      },
    );
    s.once("error", reject);
  });
}

/** The same over STARTTLS (RFC 6120 5.4). */
async function starttlsFingerprint(port: number): Promise<string> {
  const raw = await RawClient.starttls(port);
  const fp = (raw.socket as import("node:tls").TLSSocket).getPeerCertificate().fingerprint256;
  raw.close();
  return fp;
}

async function fileFingerprint(path: string): Promise<string> {
  return new X509Certificate(await readFile(path)).fingerprint256;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("daemon: signals (parley start as a child process)", function () {
  this.timeout(60_000);
  let dir: string;
  let config: string;
  let daemon: Daemon | null = null;
  const clients: Client[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-daemon-"));
    config = await writeToml(dir);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
    if (daemon && daemon.child.exitCode === null) {
      daemon.signal("SIGKILL");
      await daemon.exited;
    }
    daemon = null;
    await rm(dir, { recursive: true, force: true });
  });

  it("SIGTERM under traffic loses nothing: every message the server accepted is delivered or stored offline; exit 0 within the bound", async () => {
    await addUsers(dir, config, ["a", "b", "c"]);
    daemon = await startDaemon(dir, config);
    const a = await login(daemon.starttlsPort, "a");
    const b = await login(daemon.starttlsPort, "b");
    clients.push(a, b);
    const seenA = collect(a);
    const seenB = collect(b);
    await a.send(xml("presence"));
    await b.send(xml("presence"));
    await sleep(100);

    // Traffic: a and b write to each other, a writes to c (offline: stored), without waiting.
    let running = true;
    let sent = 0;
    const pump = async (from: Client, to: string, tag: string) => {
      for (let i = 1; running; i++) {
        try {
          await from.send(chat(to, `${tag}-${i}`));
          sent++;
        } catch {
          return; // the stream is gone
        }
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    const pumps = [
      pump(a, "b@localhost", "ab"),
      pump(b, "a@localhost", "ba"),
      pump(a, "c@localhost", "ac"),
    ];
    await sleep(600);

    const t0 = Date.now();
    daemon.signal("SIGTERM");
    const code = await daemon.exited;
    const took = Date.now() - t0;
    running = false;
    await Promise.all(pumps);
    expect(code, daemon.lines.join("\n")).to.equal(0);
    expect(took, `shutdown took ${took} ms`).to.be.lessThan(SHUTDOWN_BOUND_MS);
    expect(sent).to.be.greaterThan(30);
    // Every client was told why (RFC 6120 4.9.3.21).
    expect(seenA.streamErrors).to.include("system-shutdown");
    expect(seenB.streamErrors).to.include("system-shutdown");
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));

    // What the server accepted: the write-ahead audit records of messages in.
    const db = await SqliteDb.open(join(dir, "data/audit.db"));
    const rows = await db.all<{ xml: string }>(
      "SELECT xml FROM records WHERE direction = 'in' AND kind = 'message'",
    );
    await db.close();
    const accepted = rows
      .map((r) => /<body>([^<]*)<\/body>/.exec(r.xml)?.[1])
      .filter((b): b is string => Boolean(b));
    expect(accepted.length).to.be.greaterThan(5);

    // Restart on the same data: offline messages come now.
    daemon = await startDaemon(dir, config);
    const received = new Set([...seenA.bodies, ...seenB.bodies]);
    const again = await Promise.all(["a", "b", "c"].map((u) => login(daemon!.starttlsPort, u)));
    clients.push(...again);
    const later = again.map(collect);
    for (const c of again) await c.send(xml("presence"));
    const missing = () =>
      accepted.filter((body) => !received.has(body) && !later.some((l) => l.bodies.includes(body)));
    for (let waited = 0; missing().length > 0 && waited < 5000; waited += 50) await sleep(50);
    expect(
      missing(),
      `accepted but neither delivered nor stored (of ${accepted.length})`,
    ).to.deep.equal([]);
    // And nothing arrived that the server did not record.
    const all = [...received, ...later.flatMap((l) => l.bodies)];
    expect(all.filter((b) => !accepted.includes(b))).to.deep.equal([]);
    expect(
      later[2]!.bodies.length,
      "a's messages to offline c, stored and delivered after the restart",
    ).to.be.greaterThan(0);
  });

  it("SIGINT stops like SIGTERM: system-shutdown to clients, databases closed, exit 0", async () => {
    await addUsers(dir, config, ["a"]);
    daemon = await startDaemon(dir, config);
    const a = await login(daemon.starttlsPort, "a");
    clients.push(a);
    const seen = collect(a);
    daemon.signal("SIGINT");
    expect(await daemon.exited).to.equal(0);
    expect(seen.streamErrors).to.include("system-shutdown");
    expect(daemon.lines.some((l) => /SIGINT received/.test(l))).to.equal(true);
    expect(daemon.lines.some((l) => /parley: stopped/.test(l))).to.equal(true);
  });

  it("SIGHUP with a new certificate: the next connection (direct TLS and STARTTLS) gets it; an existing session keeps working", async () => {
    await addUsers(dir, config, ["a", "b"]);
    const certs = join(dir, "certs");
    expect(
      (await runParley(["--config", config, "cert", "generate", "localhost", "--dir", certs], dir))
        .code,
    ).to.equal(0);
    const first = await fileFingerprint(join(certs, "localhost.crt"));
    daemon = await startDaemon(dir, config);
    expect(await directTlsFingerprint(daemon.directTlsPort)).to.equal(first);

    const a = await login(daemon.starttlsPort, "a");
    const b = await login(daemon.starttlsPort, "b");
    clients.push(a, b);
    const seenB = collect(b);
    await b.send(xml("presence"));

    const gen = await runParley(
      ["--config", config, "cert", "generate", "localhost", "--dir", certs, "--force"],
      dir,
    );
    expect(gen.code, gen.stderr).to.equal(0);
    const second = await fileFingerprint(join(certs, "localhost.crt"));
    expect(second).not.to.equal(first);
    daemon.signal("SIGHUP");
    await daemon.waitLine(/configuration reloaded/);

    expect(await directTlsFingerprint(daemon.directTlsPort)).to.equal(second);
    expect(await starttlsFingerprint(daemon.starttlsPort)).to.equal(second);
    // The session opened before the reload still carries messages.
    await a.send(chat("b@localhost", "after the reload"));
    for (let i = 0; i < 100 && !seenB.bodies.includes("after the reload"); i++) await sleep(50);
    expect(seenB.bodies).to.include("after the reload");
    expect(daemon.child.exitCode).to.equal(null);
  });

  it("SIGHUP with a config that fails validation: refused with one clear log line; the server keeps running on the old one", async () => {
    await addUsers(dir, config, ["a"]);
    daemon = await startDaemon(dir, config);
    const a = await login(daemon.starttlsPort, "a");
    clients.push(a);
    await writeFile(
      config,
      (await readFile(config, "utf8")) + `[limits]\nmax_stanza_bytes = "big"\n`,
    );
    daemon.signal("SIGHUP");
    const line = await daemon.waitLine(/reload refused/);
    expect(line).to.match(
      /reload refused, the running configuration stays: .*limits\.max_stanza_bytes: expected an integer/,
    );
    expect(daemon.lines.some((l) => /configuration reloaded/.test(l))).to.equal(false);
    // Still serving: the old session and a new login.
    expect(daemon.child.exitCode).to.equal(null);
    clients.push(await login(daemon.starttlsPort, "a", "second"));
    const status = await runParley(
      ["status", "--socket", join(dir, "data/parley.sock"), "--json"],
      dir,
    );
    expect(status.code, status.stderr).to.equal(0);
    expect(JSON.parse(status.stdout).sessions).to.equal(2);
  });

  it("SIGHUP with a changed listen port: reported as needing a restart, not half-applied; the rest applies", async () => {
    daemon = await startDaemon(dir, config);
    const text = (await readFile(config, "utf8"))
      .replace("c2s_ports = [0]", "c2s_ports = [1]")
      .replace('log_level = "debug"', 'log_level = "info"');
    await writeFile(config, text);
    daemon.signal("SIGHUP");
    await daemon.waitLine(/configuration reloaded/);
    expect(
      daemon.lines.some((l) =>
        /listen\.c2s_ports changed: needs a restart; the running value stays/.test(l),
      ),
    ).to.equal(true);
    const status = await runParley(["--config", config, "status", "--json"], dir);
    expect(status.code, status.stderr).to.equal(0);
    const s = JSON.parse(status.stdout);
    expect(s.config.needs_restart).to.deep.equal(["listen.c2s_ports"]);
    expect(s.listeners.find((l: { kind: string }) => l.kind === "starttls").port).to.equal(
      daemon.starttlsPort,
    );
    // Still listening where it was.
    const raw = await RawClient.connect(daemon.starttlsPort);
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    raw.close();
  });
});

describe("daemon: certificates at start and reload", function () {
  this.timeout(30_000);
  let dir: string;
  let config: string;
  let daemon: Daemon | null = null;
  const generate = async (domain: string, into: string) => {
    const r = await runParley(["cert", "generate", domain, "--dir", into, "--force"], dir);
    expect(r.code, r.stderr).to.equal(0);
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-certs-"));
    config = await writeToml(
      dir,
      '[tls.certificates.localhost]\ncert = "' +
        join(dir, "use.crt") +
        '"\nkey = "' +
        join(dir, "use.key") +
        '"\n',
    );
  });
  afterEach(async () => {
    if (daemon && daemon.child.exitCode === null) {
      daemon.signal("SIGKILL");
      await daemon.exited;
    }
    daemon = null;
    await rm(dir, { recursive: true, force: true });
  });

  it("a key that does not match its certificate stops parley start with one line naming both files, exit 1", async () => {
    await generate("localhost", join(dir, "one"));
    await generate("localhost", join(dir, "two"));
    await copyFile(join(dir, "one/localhost.crt"), join(dir, "use.crt"));
    await copyFile(join(dir, "two/localhost.key"), join(dir, "use.key"));
    const r = await runParley(["--config", config, "start"], dir);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim()).to.equal(
      `parley: ${join(dir, "use.key")}: the private key does not match the certificate ${join(dir, "use.crt")}`,
    );
  });

  it("a certificate that does not cover the domain is reported at start, naming what it covers", async () => {
    await generate("other.example", dir);
    await copyFile(join(dir, "other.example.crt"), join(dir, "use.crt"));
    await copyFile(join(dir, "other.example.key"), join(dir, "use.key"));
    daemon = await startDaemon(dir, config);
    const line = await daemon.waitLine(/does not cover/);
    expect(line).to.equal(
      `warn  parley: ${join(dir, "use.crt")}: the certificate does not cover localhost (it names DNS:other.example, DNS:*.other.example)`,
    );
  });

  it("SIGHUP with a mismatched key is refused; the old certificate is still served", async () => {
    await generate("localhost", join(dir, "one"));
    await generate("localhost", join(dir, "two"));
    await copyFile(join(dir, "one/localhost.crt"), join(dir, "use.crt"));
    await copyFile(join(dir, "one/localhost.key"), join(dir, "use.key"));
    daemon = await startDaemon(dir, config);
    const before = await directTlsFingerprint(daemon.directTlsPort);
    await copyFile(join(dir, "two/localhost.crt"), join(dir, "use.crt")); // the key stays one's
    daemon.signal("SIGHUP");
    expect(await daemon.waitLine(/reload refused/)).to.match(
      /reload refused, the running configuration stays: .*use\.key: the private key does not match the certificate/,
    );
    expect(await directTlsFingerprint(daemon.directTlsPort)).to.equal(before);
  });
});

describe("daemon: database upgrades", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-upgrade-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a database from a newer Parley (user_version 99) is refused by parley start with one clear line, exit 1", async () => {
    const config = await writeToml(dir);
    const db = await SqliteDb.open(join(dir, "data/parley.db"));
    await db.exec("PRAGMA user_version = 99");
    await db.close();
    const r = await runParley(["--config", config, "start"], dir);
    expect(r.code).to.equal(1);
    const errLines = r.stderr.trim().split("\n");
    expect(errLines).to.have.length(1);
    expect(errLines[0]).to.match(
      /^parley: .*parley\.db: main database schema version 99 is newer than this Parley supports \(\d+\); upgrade Parley or restore a backup$/,
    );
    expect(r.stdout).not.to.match(/listening/);
  });
});

import { expect } from "chai";
import { type XmlElement, xml } from "@xmpp/client";
import { readFile } from "node:fs/promises";
import { auditSettings } from "../../src/audit/config.js";
import { type AuditSink, SqliteAuditSink } from "../../src/audit/sink.js";
import { iterateRecords } from "../../src/audit/query.js";
import { type RecordRow, openAuditDb } from "../../src/audit/store.js";
import { verifyChain } from "../../src/audit/verify.js";
import { nullLogger } from "../../src/core/log.js";
import type { SqliteDb } from "../../src/storage/sqlite/db.js";
import { type Client, connectClient } from "../harness/clients.js";
import { type ConfigOverrides, type TestServer, startTestServer } from "../harness/server.js";

async function collectRecords<T>(it: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const r of it) all.push(r);
  return all;
}

function collect(c: Client): XmlElement[] {
  const got: XmlElement[] = [];
  c.on("stanza", (s: XmlElement) => got.push(s));
  return got;
}

async function until(test: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("audit trail (issue 5) with xmpp.js clients", function () {
  let ts: TestServer;
  let db: SqliteDb;
  const clients: Client[] = [];

  async function start(overrides: ConfigOverrides = {}, audit?: AuditSink): Promise<void> {
    ts = await startTestServer(overrides, audit ? { audit } : {});
    await ts.addUser("alice", "wonderland");
    await ts.addUser("bob", "builder");
    db = await openAuditDb(auditSettings(ts.config).file);
  }
  async function login(username: string, password: string, resource: string, onStanza?: (s: XmlElement) => void): Promise<Client> {
    const c = await connectClient({ port: ts.starttlsPort, username, password, resource, onStanza });
    clients.push(c);
    return c;
  }
  const rows = (where = "1", params: (string | number)[] = []) => db.all<RecordRow>(`SELECT * FROM records WHERE ${where} ORDER BY seq`, params);

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
    await db?.close();
    await ts?.stop();
  });

  it("a conversation appears in the trail in order and in full, in both directions", async () => {
    await start();
    const alice = await login("alice", "wonderland", "desk");
    const bob = await login("bob", "builder", "phone");
    const bobGot = collect(bob);
    const aliceGot = collect(alice);
    for (let i = 0; i < 5; i++) {
      await alice.send(xml("message", { to: "bob@localhost/phone", type: "chat", id: `a${i}` }, xml("body", {}, `question ${i} <&>`)));
      await until(() => bobGot.some((s) => s.attrs.id === `a${i}`), `a${i}`);
      await bob.send(xml("message", { to: "alice@localhost/desk", type: "chat", id: `b${i}` }, xml("body", {}, `answer ${i}`)));
      await until(() => aliceGot.some((s) => s.attrs.id === `b${i}`), `b${i}`);
    }
    const messages = await rows("kind = 'message'");
    const ids = messages.map((m) => `${m.stanza_id}:${m.direction}`);
    expect(ids).to.deep.equal([0, 1, 2, 3, 4].flatMap((i) => [`a${i}:in`, `a${i}:out`, `b${i}:in`, `b${i}:out`]));
    const [aIn, aOut] = messages;
    expect(aIn).to.include({ account: "alice@localhost", resource: "desk", from_jid: "alice@localhost/desk", to_jid: "bob@localhost/phone", type: "chat" });
    expect(aIn!.remote).to.match(/127\.0\.0\.1/);
    // Delivered exactly as sent: the out record refers to the in record's XML instead of a second copy.
    expect(aOut).to.include({ account: "bob@localhost", resource: "phone", from_jid: "alice@localhost/desk", xml: null, ref: aIn!.seq });
    // Readers see the XML as routed: 'from' stamped by the server, the body as sent.
    const [resolved] = await collectRecords(iterateRecords(db, { kinds: ["message"], directions: ["out"] }, 1));
    expect(resolved!.seq).to.equal(aOut!.seq);
    expect(resolved!.xml).to.equal(aIn!.xml).and.include("from=\"alice@localhost/desk\"").and.include("question 0 &lt;&amp;&gt;");
    expect(await db.get("SELECT 1 FROM bodies WHERE bodies MATCH '\"answer 3\"'")).not.to.equal(undefined);

    // Session events around it, and the end of a session with its reason.
    await alice.stop();
    await until(() => ts.server.core.sessions.count === 1, "alice gone");
    await new Promise((r) => setTimeout(r, 50));
    const [auth] = await rows("type = 'auth-success' AND account = 'alice@localhost'");
    expect(JSON.parse(auth!.detail!)).to.include({ mechanism: "SCRAM-SHA-1" });
    const sessionId = auth!.session;
    // One stream, in order: connect, STARTTLS, SASL, bind ... end with its reason.
    const events = await rows("kind = 'session' AND session = ?", [sessionId!]);
    expect(events.map((e) => e.type)).to.deep.equal(["connect", "tls", "auth-success", "bind", "end"]);
    expect(JSON.parse(events[4]!.detail!).reason).to.be.a("string");
    // The bind request and its result are stanzas too.
    expect((await rows("kind = 'iq' AND session = ?", [sessionId!])).map((r) => r.direction)).to.include.members(["in", "out"]);
    expect((await verifyChain(db)).ok).to.equal(true);
  });

  it("an authentication failure is recorded with mechanism and address, without the password", async () => {
    await start();
    let failed = false;
    try {
      await login("alice", "not-the-password-42", "x");
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    await new Promise((r) => setTimeout(r, 100));
    const [failure] = await rows("type = 'auth-failure'");
    expect(failure!.account).to.equal("alice@localhost");
    expect(JSON.parse(failure!.detail!)).to.include({ mechanism: "SCRAM-SHA-1", condition: "not-authorized" });
    expect(failure!.remote).to.match(/127\.0\.0\.1/);
  });

  it("the recording notice reaches each user after binding, and is recorded", async () => {
    await start({ audit: { notice: "This conversation is recorded for regulatory purposes." } });
    // Collected from the start: the notice may arrive in the same packet as the bind result.
    const got: XmlElement[] = [];
    await login("alice", "wonderland", "desk", (s) => got.push(s));
    await until(() => got.some((s) => s.name === "message"), "the notice");
    const notice = got.find((s) => s.name === "message")!;
    expect(notice.attrs).to.include({ type: "headline", from: "localhost" });
    expect(notice.getChildText("body")).to.equal("This conversation is recorded for regulatory purposes.");
    const [rec] = await rows("kind = 'message' AND direction = 'out'");
    expect(rec!.xml).to.include("recorded for regulatory purposes");
  });

  it("no password ever reaches the audit database or its WAL (SASL PLAIN, XEP-0077 register and password change)", async () => {
    await start({ auth: { mechanisms: ["PLAIN"] } });
    const secrets = ["wonderland", "Calliope-New-Pass-1", "Wrong-Guess-9"];
    const alice = await login("alice", "wonderland", "desk");
    try {
      await login("bob", "Wrong-Guess-9", "x");
    } catch {
      // expected
    }
    const register = xml(
      "iq",
      { type: "set" },
      xml("query", { xmlns: "jabber:iq:register" }, xml("username", {}, "alice"), xml("password", {}, "Calliope-New-Pass-1")),
    );
    await alice.iqCaller.request(register).catch(() => undefined); // no module answers: an error echoing the payload
    await new Promise((r) => setTimeout(r, 100));
    const iqs = await rows("kind = 'iq' AND xml LIKE '%jabber:iq:register%'");
    expect(iqs.map((r) => r.direction)).to.deep.equal(["in", "out"]);
    const file = auditSettings(ts.config).file;
    const plain = (s: string) => [s, Buffer.from(s).toString("base64"), Buffer.from(`\0alice\0${s}`).toString("base64")];
    for (const f of [file, `${file}-wal`]) {
      const bytes = await readFile(f);
      for (const s of secrets.flatMap(plain)) expect(bytes.includes(Buffer.from(s)), `${s} in ${f}`).to.equal(false);
    }
  });

  it("fail closed: a stanza whose audit record cannot be committed is not delivered", async () => {
    let failing = false;
    // The real sink needs the test server's config: it is opened once the server is up.
    const realHolder: { sink: AuditSink | null } = { sink: null };
    const sink: AuditSink = {
      enabled: true,
      stanza: (dir, party, el, text) => (failing && dir === "out" ? Promise.reject(new Error("disk full")) : realHolder.sink!.stanza(dir, party, el, text)),
      event: (party, type, detail) => realHolder.sink!.event(party, type, detail),
      admin: (action, detail, subject) => realHolder.sink!.admin(action, detail, subject),
      close: () => realHolder.sink!.close(),
    };
    ts = await startTestServer({}, { audit: sink });
    realHolder.sink = await SqliteAuditSink.open(auditSettings(ts.config), nullLogger);
    await ts.addUser("alice", "wonderland");
    await ts.addUser("bob", "builder");
    db = await openAuditDb(auditSettings(ts.config).file);
    const alice = await login("alice", "wonderland", "desk");
    const bob = await login("bob", "builder", "phone");
    const bobGot = collect(bob);
    const bobError = new Promise<string>((resolve) => bob.on("error", (e: { condition?: string }) => resolve(e.condition ?? "")));
    failing = true;
    await alice.send(xml("message", { to: "bob@localhost/phone", type: "chat", id: "lost" }, xml("body", {}, "must not arrive")));
    expect(await bobError).to.equal("internal-server-error");
    expect(bobGot.some((s) => s.attrs.id === "lost")).to.equal(false);
    expect(ts.logs.some((l) => /audit record not committed/.test(l))).to.equal(true);
    await realHolder.sink.close();
  });
});

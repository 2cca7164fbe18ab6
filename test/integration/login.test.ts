import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { type XmlElement, xml } from "@xmpp/client";
import { makeCert } from "../harness/certs.js";
import { type Client, HEADER, RawClient, connectClient } from "../harness/clients.js";
import { ScramClient } from "../harness/scram-client.js";
import { type TestServer, startTestServer } from "../harness/server.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString();

/** Raw STARTTLS up to the post-TLS features. */
async function rawSecured(port: number): Promise<RawClient> {
  const raw = await RawClient.starttls(port);
  raw.send(HEADER());
  await raw.waitFor("</stream:features>");
  return raw;
}

/** Raw STARTTLS and PLAIN, up to the features of the restarted stream (bind not yet done). */
async function rawAuthenticated(port: number, user: string, password: string): Promise<RawClient> {
  const raw = await rawSecured(port);
  raw.clear();
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64(`\0${user}\0${password}`)}</auth>`);
  await raw.waitFor("</success>");
  raw.send(HEADER());
  await raw.waitFor("</stream:features>");
  return raw;
}

/** Client-first, then the answer to the challenge; resolves with the stream so far once the server succeeds or fails. */
async function scramExchange(raw: RawClient, scram: ScramClient, mechanism: string): Promise<string> {
  raw.clear();
  raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='${mechanism}'>${b64(scram.first())}</auth>`);
  const challenge = /<challenge[^>]*>([^<]+)<\/challenge>/.exec(await raw.waitFor("</challenge>"))![1]!;
  raw.clear();
  raw.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(scram.final(unb64(challenge)))}</response>`);
  return raw.waitFor(/<\/success>|<\/failure>/);
}

/** The server-final message carried by <success/>. */
const successData = (received: string) => unb64(/<success[^>]*>([^<]*)<\/success>/.exec(received)![1]!);

describe("login (RFC 6120 5-7) with xmpp.js and raw sockets", function () {
  let ts: TestServer;
  const clients: Client[] = [];

  before(async () => {
    ts = await startTestServer();
    await ts.addUser("alice", "wonderland");
    await ts.addUser("bob", "builder");
  });
  after(async () => {
    await ts.stop();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
  });

  it("RFC 6120 5 + 6: xmpp.js logs in over STARTTLS with SCRAM-SHA-1 and binds its resource", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland", resource: "laptop" });
    clients.push(c);
    expect(c.jid?.toString()).to.equal("alice@localhost/laptop");
    expect(ts.server.core.sessions.count).to.equal(1);
  });

  it("XEP-0368: xmpp.js logs in over direct TLS", async () => {
    const c = await connectClient({ port: ts.directTlsPort, username: "bob", password: "builder", directTls: true, resource: "phone" });
    clients.push(c);
    expect(c.jid?.toString()).to.equal("bob@localhost/phone");
  });

  it("RFC 6120 6.5.10: a wrong password fails with not-authorized", async () => {
    let error: (Error & { condition?: string }) | null = null;
    try {
      clients.push(await connectClient({ port: ts.starttlsPort, username: "alice", password: "wrong" }));
    } catch (err) {
      error = err as Error & { condition?: string };
    }
    expect(error?.condition).to.equal("not-authorized");
  });

  it("RFC 6120 6.5.10: an unknown user fails exactly like a wrong password", async () => {
    let error: (Error & { condition?: string }) | null = null;
    try {
      clients.push(await connectClient({ port: ts.starttlsPort, username: "mallory", password: "x" }));
    } catch (err) {
      error = err as Error & { condition?: string };
    }
    expect(error?.condition).to.equal("not-authorized");
  });

  it("RFC 7622 3.3: ALICE logs in to alice's account (one account, case-mapped)", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "ALICE", password: "wonderland", resource: "upper" });
    clients.push(c);
    expect(c.jid?.toString()).to.equal("alice@localhost/upper");
  });

  it("RFC 6120 7.6: the server generates a resource when the client asks for none", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland" });
    clients.push(c);
    expect(c.jid?.resource).to.match(/^.+$/);
    expect(c.jid?.bare().toString()).to.equal("alice@localhost");
  });

  it("RFC 6120 7.7.2.2: binding a resource in use replaces the old session, which gets <conflict/>", async () => {
    const first = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland", resource: "desk" });
    clients.push(first);
    const streamError = new Promise<string>((resolve) => {
      first.on("error", (err: Error & { condition?: string }) => resolve(err.condition ?? err.message));
    });
    const second = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland", resource: "desk" });
    clients.push(second);
    expect(await streamError).to.equal("conflict");
    expect([...ts.server.core.sessions.all()].filter((s) => s.jid.toString() === "alice@localhost/desk").length).to.equal(1);
  });

  it("XEP-0199 4.2: the server answers a client-to-server ping", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "bob", password: "builder" });
    clients.push(c);
    const reply = await c.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(reply.attrs.type).to.equal("result");
  });

  it("RFC 6120 10.5: an iq nobody handles gets service-unavailable", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "bob", password: "builder" });
    clients.push(c);
    let condition = "";
    try {
      await c.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("query", { xmlns: "urn:example:nothing" })));
    } catch (err) {
      condition = (err as { condition?: string }).condition ?? "";
    }
    expect(condition).to.equal("service-unavailable");
  });

  it("RFC 3921 3: the legacy <session/> request is answered with a result", async () => {
    const c = await connectClient({ port: ts.starttlsPort, username: "bob", password: "builder" });
    clients.push(c);
    const reply = await c.iqCaller.request(xml("iq", { type: "set" }, xml("session", { xmlns: "urn:ietf:params:xml:ns:xmpp-session" })));
    expect(reply.attrs.type).to.equal("result");
  });

  it("RFC 6120 5.3.1: before TLS only STARTTLS (required) is offered, no SASL mechanisms", async () => {
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER());
    const got = await raw.waitFor("</stream:features>");
    raw.close();
    expect(got).to.include("<starttls xmlns=\"urn:ietf:params:xml:ns:xmpp-tls\"><required/></starttls>");
    expect(got).not.to.include("mechanisms");
  });

  it("RFC 6120 6.4.2: after TLS, SCRAM-SHA-256, SCRAM-SHA-1 (with -PLUS) and PLAIN are offered", async () => {
    const raw = await rawSecured(ts.starttlsPort);
    raw.close();
    for (const m of ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"]) {
      expect(raw.received).to.include(`<mechanism>${m}</mechanism>`);
    }
  });

  it("RFC 7677: SCRAM-SHA-256 over a raw stream, server signature verified, then bind", async () => {
    const raw = await rawSecured(ts.starttlsPort);
    const scram = new ScramClient("sha256", "alice", "wonderland");
    const success = successData(await scramExchange(raw, scram, "SCRAM-SHA-256"));
    expect(scram.verify(success)).to.equal(true);
    raw.clear();
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    expect(raw.received).to.include("urn:ietf:params:xml:ns:xmpp-bind");
    raw.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>");
    await raw.waitFor("</iq>");
    expect(raw.received).to.include("<jid>alice@localhost/raw</jid>");
    raw.close();
  });

  it("RFC 5929 4.1: SCRAM-SHA-1-PLUS with tls-server-end-point binds to the certificate the client saw, on every connection", async () => {
    // Twice: the server keeps the hash per TLS context after the first connection.
    for (let i = 0; i < 2; i++) {
      const raw = await rawSecured(ts.starttlsPort);
      const cert = (raw.socket as TLSSocket).getPeerCertificate().raw;
      const data = createHash("sha256").update(cert).digest();
      const scram = new ScramClient("sha1", "alice", "wonderland", { type: "tls-server-end-point", data });
      const success = successData(await scramExchange(raw, scram, "SCRAM-SHA-1-PLUS"));
      raw.close();
      expect(scram.verify(success)).to.equal(true);
    }
  });

  it("RFC 5802 6: SCRAM-SHA-1-PLUS with tls-server-end-point data for another certificate fails", async () => {
    const raw = await rawSecured(ts.starttlsPort);
    const scram = new ScramClient("sha1", "alice", "wonderland", { type: "tls-server-end-point", data: Buffer.alloc(32, 7) });
    await scramExchange(raw, scram, "SCRAM-SHA-1-PLUS");
    raw.close();
    expect(raw.received).to.include("<not-authorized/>");
  });

  it("RFC 6120 6.4.5: after max_failures_per_stream failures the stream closes with policy-violation", async () => {
    const raw = await rawSecured(ts.starttlsPort);
    const bad = b64("\0alice\0nope");
    for (let i = 0; i < ts.config.auth.max_failures_per_stream; i++) {
      raw.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${bad}</auth>`);
      await raw.waitFor(new RegExp(`(<failure[^]*?</failure>[^]*){${i + 1}}`));
    }
    await raw.waitFor("</stream:stream>");
    expect(raw.received).to.include("<not-authorized/>");
    expect(raw.received).to.match(/<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"\/>/);
    await raw.waitClosed();
  });

  /** Sends one <auth/> on a fresh TLS stream and returns what came back up to its <failure/>. */
  async function authFailure(auth: string): Promise<string> {
    const raw = await rawSecured(ts.starttlsPort);
    raw.send(auth);
    await raw.waitFor("</failure>");
    raw.close();
    return raw.received;
  }

  it("RFC 6120 6.4.2: a mechanism that was not offered fails with invalid-mechanism", async () => {
    const got = await authFailure("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='DIGEST-MD5'/>");
    expect(got).to.include("<invalid-mechanism/>");
  });

  it("RFC 6120 6.4.2: SASL data that is not base64 fails with incorrect-encoding", async () => {
    const got = await authFailure("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>***</auth>");
    expect(got).to.include("<incorrect-encoding/>");
  });

  it("RFC 6120 6.4.2: PLAIN with \"=\" (a zero-length initial response) fails with malformed-request, no challenge", async () => {
    const got = await authFailure("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>=</auth>");
    expect(got).to.include("<malformed-request/>");
    expect(got).not.to.include("<challenge");
  });

  it("RFC 6120 6.4.2: PLAIN with no initial response gets an empty challenge, then logs in with the response", async () => {
    const raw = await rawSecured(ts.starttlsPort);
    raw.clear();
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'/>");
    const challenge = await raw.waitFor(/<challenge[^>]*(\/>|><\/challenge>)/);
    raw.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64("\0alice\0wonderland")}</response>`);
    const outcome = await raw.waitFor(/<\/success>|<success[^>]*\/>|<\/failure>/);
    raw.close();
    expect(challenge).to.match(/<challenge xmlns=["']urn:ietf:params:xml:ns:xmpp-sasl["']\s*(\/>|><\/challenge>)/);
    expect(outcome).to.match(/<success/);
  });

  it("RFC 6120 6.4.6: an element sent after <auth/> without waiting for <success/> is not handled on the new stream", async () => {
    // Found by fuzzing: a bind pipelined behind <auth/> was parsed before the restart, then
    // handled after it, binding a resource on a stream the client never restarted.
    const raw = await rawSecured(ts.starttlsPort);
    raw.clear();
    raw.send(
      `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64("\0alice\0wonderland")}</auth>` +
        "<iq type='set' id='early'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>early</resource></bind></iq>",
    );
    await raw.waitFor("</success>");
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    raw.send("<iq type='set' id='late'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>late</resource></bind></iq>");
    const got = await raw.waitFor(/<iq [^>]*id="late"[^>]*>.*?<\/iq>/);
    raw.close();
    expect(got).not.to.include('id="early"');
    expect(got).to.include("<jid>alice@localhost/late</jid>");
  });

  it("XML 1.0 2.11 + 3.3.3: CR in text and tab, LF, CR in attributes arrive as sent, online and offline", async () => {
    // Found by fuzzing: written back as bare characters, they reached the recipient as LF and
    // spaces (and were stored offline and recorded so). xmpp.js cannot send them (it writes
    // them bare itself), so alice is a raw client; bob reads with xmpp.js.
    const raw = await rawAuthenticated(ts.starttlsPort, "alice", "wonderland");
    raw.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>");
    await raw.waitFor("</iq>");
    const message = (id: string) =>
      `<message type='chat' to='bob@localhost' id='${id}'><body>one&#13;two&#13;&#10;three</body><x xmlns='urn:example:x' v='a&#9;b&#10;c&#13;d'/></message>`;
    raw.send(message("offline"));
    await new Promise((resolve) => setTimeout(resolve, 300)); // stored before bob comes online
    const got: XmlElement[] = [];
    const c = await connectClient({ port: ts.starttlsPort, username: "bob", password: "builder", resource: "r", onStanza: (s) => void (s.is("message") && got.push(s)) });
    clients.push(c);
    await c.send(xml("presence")); // XEP-0160: offline messages come after initial presence
    raw.send(message("online"));
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    raw.close();
    expect(got.map((m) => m.attrs.id).sort()).to.deep.equal(["offline", "online"]);
    for (const m of got) {
      expect(m.getChildText("body"), `body of ${m.attrs.id}`).to.equal("one\rtwo\r\nthree");
      expect(m.getChild("x", "urn:example:x")?.attrs.v, `attribute of ${m.attrs.id}`).to.equal("a\tb\nc\rd");
    }
  });

  it("RFC 6120 8.1.3, 8.2.3, 7.7.2.1: a bind without an id, with two payloads or two resources is bad-request, and a proper one still binds", async () => {
    const raw = await rawAuthenticated(ts.starttlsPort, "alice", "wonderland");
    const bind = (...resources: string[]) => `<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>${resources.map((r) => `<resource>${r}</resource>`).join("")}</bind>`;
    const refused = async (iq: string): Promise<string> => {
      raw.clear();
      raw.send(iq);
      return raw.waitFor(/<iq [^>]*type="error"[^>]*>.*?<\/iq>/);
    };
    expect(await refused(`<iq type='set'>${bind("a")}</iq>`)).to.include("<bad-request ");
    expect(await refused(`<iq type='set' id='two'>${bind("a")}<x xmlns='urn:example'/></iq>`)).to.match(/id="two"[^>]*>.*<bad-request /);
    expect(await refused(`<iq type='set' id='res'>${bind("a", "b")}</iq>`)).to.match(/id="res"[^>]*>.*<bad-request /);
    raw.clear();
    raw.send(`<iq type='set' id='ok'>${bind("fine")}</iq>`);
    const got = await raw.waitFor(/<iq [^>]*id="ok"[^>]*>.*?<\/iq>/);
    raw.close();
    expect(got).to.include("<jid>alice@localhost/fine</jid>");
  });

  it("the password never appears in the server's log", () => {
    const all = ts.logs.join("\n");
    expect(all).not.to.include("wonderland");
    expect(all).not.to.include("builder");
  });
});

describe("login policy options", function () {
  it("PLAIN inside TLS works with xmpp.js when it is the only mechanism", async () => {
    const ts = await startTestServer({ auth: { mechanisms: ["PLAIN"] } });
    try {
      await ts.addUser("carol", "secret");
      const c = await connectClient({ port: ts.starttlsPort, username: "carol", password: "secret" });
      expect(c.jid?.bare().toString()).to.equal("carol@localhost");
      await c.stop();
    } finally {
      await ts.stop();
    }
  });

  it("RFC 6120 13.9.4: PLAIN is never offered on a plaintext stream, even when TLS is optional", async () => {
    const ts = await startTestServer({ listen: { require_encryption: false } });
    try {
      const raw = await RawClient.connect(ts.starttlsPort);
      raw.send(HEADER());
      const got = await raw.waitFor("</stream:features>");
      raw.close();
      expect(got).to.include("<mechanism>SCRAM-SHA-1</mechanism>");
      expect(got).not.to.include("<mechanism>PLAIN</mechanism>");
      expect(got).not.to.include("-PLUS");
    } finally {
      await ts.stop();
    }
  });

  it("RFC 5929 4.1: with a certificate signed with SHA-384, tls-server-end-point is its SHA-384 hash", async () => {
    const certDir = await mkdtemp(join(tmpdir(), "parley-sha384-"));
    const { cert, key } = await makeCert("localhost", ["localhost"], new Date(Date.now() - 60_000), new Date(Date.now() + 86_400_000), "sha384");
    await writeFile(join(certDir, "localhost.crt"), cert);
    await writeFile(join(certDir, "localhost.key"), key, { mode: 0o600 });
    const ts = await startTestServer({ tls: { cert_dir: certDir } });
    try {
      await ts.addUser("alice", "wonderland");
      const outcome = async (hash: "sha256" | "sha384") => {
        const raw = await rawSecured(ts.starttlsPort);
        const data = createHash(hash).update((raw.socket as TLSSocket).getPeerCertificate().raw).digest();
        const received = await scramExchange(raw, new ScramClient("sha1", "alice", "wonderland", { type: "tls-server-end-point", data }), "SCRAM-SHA-1-PLUS");
        raw.close();
        return received.includes("</success>") ? "success" : "failure";
      };
      expect(await outcome("sha384")).to.equal("success");
      expect(await outcome("sha256")).to.equal("failure");
    } finally {
      await ts.stop();
      await rm(certDir, { recursive: true, force: true });
    }
  });
});

import { expect } from "chai";
import { xml } from "@xmpp/client";
import { HEADER, RawClient, connectClient } from "../harness/clients.js";
import { type TestServer, startTestServer } from "../harness/server.js";

const streamError = (condition: string) =>
  new RegExp(`<stream:error><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>(<text[^>]*>[^<]*</text>)?</stream:error></stream:stream>`);

/** Sends the given bytes on a fresh stream and returns all the server wrote until it closed. */
async function errorFor(ts: TestServer, ...chunks: string[]): Promise<string> {
  const raw = await RawClient.connect(ts.starttlsPort);
  for (const c of chunks) raw.send(c);
  await raw.waitClosed();
  return raw.received;
}

describe("stream errors (RFC 6120 4.9) over raw sockets", function () {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ limits: { max_stanza_bytes: 10000, max_xml_depth: 8, auth_timeout_seconds: 1 } });
    await ts.addUser("alice", "wonderland");
  });
  after(() => ts.stop());

  it("RFC 6120 4.7.1: the server answers with its own header, an id and version 1.0", async () => {
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER());
    const got = await raw.waitFor("</stream:features>");
    raw.close();
    expect(got).to.match(/^<\?xml version='1.0'\?><stream:stream xmlns='jabber:client' xmlns:stream='http:\/\/etherx.jabber.org\/streams' id='[^']{8,}' from='localhost' version='1.0' xml:lang='en'>/);
  });

  it("RFC 6120 4.9.3.6: a domain not served here is host-unknown", async () => {
    const got = await errorFor(ts, HEADER("example.org"));
    expect(got).to.match(/^<\?xml version='1.0'\?><stream:stream [^>]*>/);
    expect(got).to.match(streamError("host-unknown"));
  });

  it("RFC 6120 4.9.3.10: a wrong stream namespace is invalid-namespace", async () => {
    const got = await errorFor(ts, "<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>");
    expect(got).to.match(streamError("invalid-namespace"));
  });

  it("RFC 6120 4.9.3.10: a content namespace other than jabber:client is invalid-namespace", async () => {
    const got = await errorFor(ts, "<stream:stream to='localhost' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>");
    expect(got).to.match(streamError("invalid-namespace"));
  });

  it("RFC 6120 4.9.3.25: a stream without version 1.0 is unsupported-version", async () => {
    const got = await errorFor(ts, "<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>");
    expect(got).to.match(streamError("unsupported-version"));
  });

  it("RFC 6120 4.7.5: a higher version is answered with version 1.0 and features", async () => {
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER().replace("version='1.0' xmlns=", "version='2.0' xmlns="));
    const got = await raw.waitFor("</stream:features>");
    raw.close();
    expect(got).to.match(/<stream:stream [^>]*version='1.0'/);
  });

  it("RFC 6120 4.9.3.13: mismatched tags are not-well-formed", async () => {
    const got = await errorFor(ts, HEADER(), "<a></b>");
    expect(got).to.match(streamError("not-well-formed"));
  });

  it("RFC 6120 11.1: a comment is restricted-xml", async () => {
    const got = await errorFor(ts, HEADER(), "<!-- hello -->");
    expect(got).to.match(streamError("restricted-xml"));
  });

  it("RFC 6120 4.9.3.18: a stanza over max_stanza_bytes is policy-violation", async () => {
    const got = await errorFor(ts, HEADER(), `<message><body>${"x".repeat(20000)}</body></message>`);
    expect(got).to.match(streamError("policy-violation"));
  });

  it("RFC 6120 4.9.3.18: nesting deeper than max_xml_depth is policy-violation", async () => {
    const got = await errorFor(ts, HEADER(), "<a>".repeat(20));
    expect(got).to.match(streamError("policy-violation"));
  });

  it("RFC 6120 5.3.1: a stanza before STARTTLS when TLS is required is policy-violation", async () => {
    const got = await errorFor(ts, HEADER(), "<message to='alice@localhost'><body>hi</body></message>");
    expect(got).to.match(streamError("policy-violation"));
  });

  it("RFC 6120 4.9.3.4: a stream that does not authenticate in time gets connection-timeout", async () => {
    const got = await errorFor(ts, HEADER());
    expect(got).to.match(streamError("connection-timeout"));
  });

  it("RFC 6120 4.4: the closing handshake is answered with </stream:stream> and the connection closes", async () => {
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    raw.send("</stream:stream>");
    await raw.waitClosed();
    expect(raw.received.endsWith("</stream:stream>")).to.equal(true);
    expect(raw.received).not.to.include("stream:error");
  });

  it("RFC 6120 4.9.1.2: an error in the very first bytes still comes after a stream header", async () => {
    const got = await errorFor(ts, "<<<garbage");
    expect(got).to.match(/^<\?xml version='1.0'\?><stream:stream /);
    expect(got).to.match(streamError("not-well-formed"));
  });

  it("Namespaces in XML 3: a stream header declaring xmlns:xml gets features, not a dead server", async () => {
    // Found by fuzzing: this declaration made the parser throw out of the socket's data handler.
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER().replace("<stream:stream ", "<stream:stream xmlns:xml='http://www.w3.org/XML/1998/namespace' "));
    const got = await raw.waitFor("</stream:features>");
    raw.close();
    expect(got).to.include("urn:ietf:params:xml:ns:xmpp-tls");
  });

  it("RFC 6120 5.4.3.3: plaintext sent along with <starttls/> is discarded, not read as the TLS stream", async () => {
    // Found by fuzzing: the rest of the chunk was parsed as the new stream (a STARTTLS injection);
    // a stream header there even threw from the channel-binding code.
    for (const injected of [HEADER(), "<message to='alice@localhost'/>"]) {
      const raw = await RawClient.connect(ts.starttlsPort);
      raw.send(HEADER());
      await raw.waitFor("</stream:features>");
      raw.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>" + injected);
      await raw.waitFor("<proceed");
      await raw.upgrade();
      raw.send(HEADER());
      const got = await raw.waitFor("</stream:features>");
      raw.close();
      expect(got).to.include("urn:ietf:params:xml:ns:xmpp-sasl").and.not.include("stream:error");
    }
  });

  it("hostile input on one stream leaves the server and other sessions working", async () => {
    const alice = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland", resource: "steady" });
    try {
      await Promise.all([
        errorFor(ts, HEADER(), "<a></b>"),
        errorFor(ts, HEADER(), "\u0000\u0001\u0002"),
        errorFor(ts, HEADER(), `<iq>${"<x>".repeat(1000)}`),
        errorFor(ts, Buffer.from([0xff, 0xfe, 0x00, 0x3c]).toString("latin1")),
      ]);
      const reply = await alice.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
      expect(reply.attrs.type).to.equal("result");
    } finally {
      await alice.stop();
    }
  });

  it("RFC 6120 4.9.3.22: stopping the server sends system-shutdown to every stream", async () => {
    const other = await startTestServer();
    const raw = await RawClient.connect(other.starttlsPort);
    raw.send(HEADER());
    await raw.waitFor("</stream:features>");
    await other.stop();
    await raw.waitClosed();
    expect(raw.received).to.match(streamError("system-shutdown"));
  });

  it("limits.max_connections_per_address: connections past the limit are refused", async () => {
    const other = await startTestServer({ limits: { max_connections_per_address: 2 } });
    try {
      const kept = [await RawClient.connect(other.starttlsPort), await RawClient.connect(other.starttlsPort)];
      const third = await RawClient.connect(other.starttlsPort);
      await third.waitClosed();
      kept[0]!.send(HEADER());
      await kept[0]!.waitFor("</stream:features>");
      kept.forEach((k) => k.close());
    } finally {
      await other.stop();
    }
  });
});

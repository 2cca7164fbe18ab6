import { expect } from "chai";
import { xml } from "@xmpp/client";
import { HEADER, RawClient, connectClient } from "../harness/clients.js";
import { type TestServer, startTestServer } from "../harness/server.js";

describe("several domains on one server (configuration, not code)", function () {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ server: { domains: ["localhost", "example.test"] } });
    await ts.addUser("alice", "pw", "localhost");
    await ts.addUser("alice", "other", "example.test");
  });
  after(() => ts.stop());

  it("RFC 6120 4.7.1: each hosted domain answers with its own 'from'", async () => {
    const raw = await RawClient.connect(ts.starttlsPort);
    raw.send(HEADER("example.test"));
    const got = await raw.waitFor("</stream:features>");
    raw.close();
    expect(got).to.match(/<stream:stream [^>]*from='example.test'/);
  });

  it("alice@localhost and alice@example.test are two accounts with their own passwords", async () => {
    const a = await connectClient({ port: ts.starttlsPort, username: "alice", password: "pw", domain: "localhost" });
    const b = await connectClient({ port: ts.starttlsPort, username: "alice", password: "other", domain: "example.test" });
    try {
      expect(a.jid?.bare().toString()).to.equal("alice@localhost");
      expect(b.jid?.bare().toString()).to.equal("alice@example.test");
      let condition = "";
      await connectClient({ port: ts.starttlsPort, username: "alice", password: "pw", domain: "example.test" }).catch(
        (err: { condition?: string }) => (condition = err.condition ?? ""),
      );
      expect(condition).to.equal("not-authorized");
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it("a message crosses from one hosted domain to the other", async () => {
    const a = await connectClient({ port: ts.starttlsPort, username: "alice", password: "pw", domain: "localhost", resource: "x" });
    const b = await connectClient({ port: ts.starttlsPort, username: "alice", password: "other", domain: "example.test", resource: "y" });
    try {
      const got = new Promise<string>((resolve) =>
        b.on("stanza", (s) => {
          if (s.name === "message") resolve(`${s.attrs.from}: ${s.getChildText("body")}`);
        }),
      );
      await a.send(xml("message", { to: "alice@example.test/y", type: "chat" }, xml("body", {}, "across domains")));
      expect(await got).to.equal("alice@localhost/x: across domains");
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe("whitespace keepalives (RFC 6120 4.6.1)", function () {
  it("whitespace between stanzas keeps a bound session alive and is otherwise ignored", async () => {
    const ts = await startTestServer();
    try {
      await ts.addUser("bob", "pw");
      const c = await connectClient({ port: ts.starttlsPort, username: "bob", password: "pw" });
      const socket = (c as unknown as { socket: { write(s: string): void } }).socket;
      for (let i = 0; i < 5; i++) socket.write(" \n");
      const reply = await c.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
      expect(reply.attrs.type).to.equal("result");
      await c.stop();
    } finally {
      await ts.stop();
    }
  });
});

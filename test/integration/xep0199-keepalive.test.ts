// The server's side of keeping a session alive: after limits.idle_timeout_seconds
// of silence it pings the client (XEP-0199 4.3), and closes the stream with
// connection-timeout (RFC 6120 4.9.3.4) when the ping goes unanswered for
// limits.ping_timeout_seconds. Driven by xmpp.js, which answers pings itself.

import { expect } from "chai";
import { xml, type Client, type XmlElement } from "@xmpp/client";
import { Socket } from "node:net";
import { connectClient } from "../harness/clients.js";
import { type TestServer, startTestServer } from "../harness/server.js";

/** The TCP (or TLS) socket under an xmpp.js client, which may wrap it after STARTTLS. */
function tcpSocketOf(c: Client): Socket {
  let s = (c as unknown as { socket: unknown }).socket;
  while (s && !(s instanceof Socket)) s = (s as { socket?: unknown }).socket;
  if (!s) throw new Error("no socket under the client");
  return s as Socket;
}

const isServerPing = (s: XmlElement) => s.is("iq") && s.attrs.type === "get" && s.attrs.from === "localhost" && !!s.getChild("ping", "urn:xmpp:ping");

describe("XEP-0199 4.3: the server pings idle clients", function () {
  let ts: TestServer;
  const clients: Client[] = [];
  before(async () => {
    ts = await startTestServer({ limits: { idle_timeout_seconds: 1, ping_timeout_seconds: 1 } });
    await ts.addUser("alice", "wonderland");
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.stop().catch(() => undefined)));
  });
  after(() => ts.stop());

  async function login(resource: string, onStanza: (s: XmlElement) => void): Promise<Client> {
    const c = await connectClient({ port: ts.starttlsPort, username: "alice", password: "wonderland", resource, onStanza });
    clients.push(c);
    return c;
  }

  it("XEP-0199 4.3: a silent client is pinged, and stays online by answering", async () => {
    const pings: XmlElement[] = [];
    const c = await login("answers", (s) => void (isServerPing(s) && pings.push(s)));
    // Two idle periods and more than a ping timeout: answered pings keep the session.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(pings.length, "pings received").to.be.at.least(1);
    expect(pings[0]!.attrs.to).to.equal(c.jid!.toString());
    const reply = await c.iqCaller.request(xml("iq", { type: "get", to: "localhost" }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    expect(reply.attrs.type).to.equal("result");
  });

  it("RFC 6120 4.9.3.4: a client that leaves the ping unanswered gets connection-timeout", async () => {
    let pinged!: () => void;
    const ping = new Promise<void>((resolve) => (pinged = resolve));
    const c = await login("silent", (s) => isServerPing(s) && pinged());
    const condition = new Promise<string>((resolve) => c.on("error", (err: { condition?: string }) => resolve(err.condition ?? String(err))));
    // The client stops reading (a laptop asleep, a dead link): the ping goes unanswered.
    const socket = tcpSocketOf(c);
    socket.pause();
    // Idle (1 s), ping, no answer (1 s): closed by now, with room for a busy machine.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    socket.resume();
    // xmpp.js may report the stream error before it hands over the ping read in the same chunk.
    const [closedWith] = await Promise.all([condition, ping]);
    expect(closedWith).to.equal("connection-timeout");
  });
});

// XEP-0160 offline messages and RFC 6121 persistence across a restart, with
// real xmpp.js clients against the real server.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config/types.js";
import { startTestServer } from "../harness/server.js";
import { barrier, connect, isPresence, rosterGet, suiteServer } from "../harness/im-inbox.js";

const chat = (to: string, body: string, ...extra: ReturnType<typeof xml>[]) => xml("message", { to, type: "chat" }, xml("body", {}, body), ...extra);
const withBody = (body: string) => (s: { name: string; getChildText(n: string): string | null }) => s.name === "message" && s.getChildText("body") === body;

describe("XEP-0160: offline messages", function () {
  const suite = suiteServer();
  let n = 0;
  const users = async () => {
    n++;
    await suite.ts.addUser(`s${n}`, "pw");
    await suite.ts.addUser(`r${n}`, "pw");
    const s = await suite.login(`s${n}`, "r");
    return { s, recipient: `r${n}@localhost` };
  };
  const loginRecipient = (bare: string) => suite.login(bare.split("@")[0]!, "r");

  it("XEP-0160 2 + XEP-0203: stored and delivered at the next initial presence, with a delay stamp, in order", async () => {
    const { s, recipient } = await users();
    await s.send(chat(recipient, "first"));
    await s.send(xml("message", { to: recipient }, xml("body", {}, "second"))); // type normal
    await barrier(s, s);
    const r = await loginRecipient(recipient);
    await barrier(s, r);
    expect(r.some(withBody("first"))).to.equal(false); // not before initial presence
    await r.send(xml("presence"));
    const first = await r.next(withBody("first"), "first");
    const second = await r.next(withBody("second"), "second");
    expect(r.all.indexOf(first)).to.be.lessThan(r.all.indexOf(second));
    const delay = first.getChild("delay", "urn:xmpp:delay");
    expect(delay?.attrs.from).to.equal("localhost");
    expect(Number.isNaN(Date.parse(delay?.attrs.stamp ?? ""))).to.equal(false);
    expect(first.attrs.from).to.equal(s.jid);
    expect(await suite.ts.server.core.storage.offline.count(recipient)).to.equal(0);
  });

  it("XEP-0160 2: not delivered to a resource with negative priority; delivered once it is non-negative", async () => {
    const { s, recipient } = await users();
    await s.send(chat(recipient, "wait for priority"));
    await barrier(s, s);
    const r = await loginRecipient(recipient);
    await r.send(xml("presence", {}, xml("priority", {}, "-1")));
    await barrier(s, r);
    expect(r.some(withBody("wait for priority"))).to.equal(false);
    await r.send(xml("presence", {}, xml("priority", {}, "1")));
    await r.next(withBody("wait for priority"));
  });

  it("XEP-0160 3: chat states alone are not stored and not bounced; a no-store hint is bounced", async () => {
    const { s, recipient } = await users();
    await s.send(xml("message", { to: recipient, type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await s.send(chat(recipient, "private", xml("no-store", { xmlns: "urn:xmpp:hints" })));
    const bounced = await s.next((x) => x.name === "message" && x.attrs.type === "error", "error for no-store");
    expect(bounced.getChildText("body")).to.equal("private");
    expect(bounced.getChild("error")?.getChild("service-unavailable")).to.not.equal(undefined);
    await barrier(s, s);
    expect(s.all.filter((x) => x.attrs.type === "error")).to.have.length(1);
    expect(await suite.ts.server.core.storage.offline.count(recipient)).to.equal(0);
  });

  it("XEP-0160 3: past the quota (modules.offline.max_messages) the sender gets an error, never a silent drop", async () => {
    const saved = suite.ts.server.config;
    await suite.ts.server.reload({ ...suite.ts.config, modules: { offline: { max_messages: 2 } } } as unknown as Config);
    try {
      const { s, recipient } = await users();
      await s.send(chat(recipient, "one"));
      await s.send(chat(recipient, "two"));
      await s.send(chat(recipient, "three"));
      const err = await s.next((x) => x.name === "message" && x.attrs.type === "error", "quota error");
      expect(err.getChildText("body")).to.equal("three");
      expect(err.getChild("error")?.getChild("service-unavailable")).to.not.equal(undefined);
      expect(await suite.ts.server.core.storage.offline.count(recipient)).to.equal(2);
    } finally {
      await suite.ts.server.reload(saved);
    }
  });

  it("RFC 6121 8.5.2.2.1: a headline for an offline account is neither stored nor bounced", async () => {
    const { s, recipient } = await users();
    await s.send(xml("message", { to: recipient, type: "headline" }, xml("body", {}, "news")));
    await barrier(s, s);
    expect(s.some((x) => x.attrs.type === "error")).to.equal(false);
    expect(await suite.ts.server.core.storage.offline.count(recipient)).to.equal(0);
  });
});

describe("RFC 6121 + XEP-0160: rosters, pending requests and offline messages survive a restart", function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-restart-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("state written before a restart is there after it", async () => {
    const first = await startTestServer({}, { dir, keepDir: true });
    for (const u of ["alice", "bob", "carol"]) await first.addUser(u, "pw");
    const a = await connect(first.starttlsPort, "alice", "pw", "r");
    await rosterGet(a);
    await a.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "bob@localhost", name: "Bob" }, xml("group", {}, "Friends")))));
    await a.send(xml("presence", { to: "bob@localhost", type: "subscribe" })); // bob is offline: kept pending
    await a.send(chat("carol@localhost", "see you after the restart"));
    await barrier(a, a);
    await a.client.stop();
    await first.stop();

    const second = await startTestServer({}, { dir });
    try {
      const a2 = await connect(second.starttlsPort, "alice", "pw", "r");
      const item = (await rosterGet(a2)).getChild("query", "jabber:iq:roster")!.getChildren("item")[0]!;
      expect(item.attrs).to.include({ jid: "bob@localhost", name: "Bob", subscription: "none", ask: "subscribe" });
      expect(item.getChildText("group")).to.equal("Friends");
      const b = await connect(second.starttlsPort, "bob", "pw", "r");
      await b.send(xml("presence"));
      await b.next(isPresence("subscribe", "alice@localhost"), "the pending request");
      const c = await connect(second.starttlsPort, "carol", "pw", "r");
      await c.send(xml("presence"));
      const msg = await c.next(withBody("see you after the restart"), "the offline message");
      expect(msg.getChild("delay", "urn:xmpp:delay")).to.not.equal(undefined);
      await Promise.all([a2, b, c].map((x) => x.client.stop().catch(() => undefined)));
    } finally {
      await second.stop();
    }
  });
});

// RFC 6121 section 2 (roster), RFC 6120 10.5 (iq routing) and 8.1.2.1 ('from'
// stamping), driven by real xmpp.js clients against the real server.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import type { Config } from "../../src/config/types.js";
import { barrier, errorCondition, isRosterPush, pushedItem, rosterGet, rosterSet, suiteServer } from "../harness/im-inbox.js";

describe("RFC 6121 2: roster management", function () {
  const suite = suiteServer();
  const login = suite.login;

  before(async () => {
    for (const u of ["alice", "bob", "carol", "dave", "erin"]) await suite.ts.addUser(u, "pw");
  });

  it("RFC 6121 2.6.1 + 3.4.1: roster versioning and pre-approval are offered as stream features", () => {
    // The features after authentication (next to bind) are built from this registry.
    const features = [...suite.ts.server.core.streamFeatures].map((b) => b({ secure: true })?.toString() ?? "");
    expect(features).to.include('<ver xmlns="urn:xmpp:features:rosterver"/>');
    expect(features).to.include('<sub xmlns="urn:xmpp:features:pre-approval"/>');
  });

  it("RFC 6121 2.1.3: an empty roster is an empty query", async () => {
    const a = await login("erin");
    const reply = await rosterGet(a);
    const query = reply.getChild("query", "jabber:iq:roster");
    expect(query).to.not.equal(undefined);
    expect(query!.getChildren("item")).to.have.length(0);
  });

  it("RFC 6121 2.3 + 2.1.6: set adds an item with name and groups, pushed to every interested resource", async () => {
    const a1 = await login("alice", "one");
    const a2 = await login("alice", "two");
    const a3 = await login("alice", "three"); // never asks for the roster: not interested
    await rosterGet(a1);
    await rosterGet(a2);
    const reply = await rosterSet(a1, { jid: "bob@localhost", name: "Bob" }, "Friends", "Work");
    expect(reply.attrs.type).to.equal("result");
    for (const c of [a1, a2]) {
      const item = pushedItem(await c.next(isRosterPush("bob@localhost"), "roster push"));
      expect(item.attrs).to.include({ jid: "bob@localhost", name: "Bob", subscription: "none" });
      expect(item.getChildren("group").map((g) => g.text()).sort()).to.deep.equal(["Friends", "Work"]);
    }
    await barrier(a1, a3);
    expect(a3.some(isRosterPush("bob@localhost"))).to.equal(false);

    const roster = (await rosterGet(a3)).getChild("query", "jabber:iq:roster")!;
    const items = roster.getChildren("item");
    expect(items).to.have.length(1);
    expect(items[0]!.attrs).to.include({ jid: "bob@localhost", name: "Bob", subscription: "none" });
  });

  it("RFC 6121 2.4: set on an existing item updates name and groups", async () => {
    const a = await login("alice");
    await rosterGet(a);
    await rosterSet(a, { jid: "bob@localhost", name: "Robert" }, "Family");
    const item = pushedItem(await a.next(isRosterPush("bob@localhost"), "roster push"));
    expect(item.attrs.name).to.equal("Robert");
    expect(item.getChildren("group").map((g) => g.text())).to.deep.equal(["Family"]);
  });

  it("RFC 6121 2.1.2.5: the client cannot set the subscription state or ask", async () => {
    const a = await login("alice");
    await rosterGet(a);
    await rosterSet(a, { jid: "carol@localhost", subscription: "both", ask: "subscribe" });
    const item = pushedItem(await a.next(isRosterPush("carol@localhost"), "roster push"));
    expect(item.attrs.subscription).to.equal("none");
    expect(item.attrs.ask).to.equal(undefined);
  });

  it("RFC 6121 2.5: remove deletes the item and pushes subscription='remove'", async () => {
    const a = await login("alice");
    await rosterGet(a);
    await rosterSet(a, { jid: "carol@localhost", subscription: "remove" });
    const item = pushedItem(await a.next(isRosterPush("carol@localhost"), "roster push"));
    expect(item.attrs.subscription).to.equal("remove");
    const items = (await rosterGet(a)).getChild("query", "jabber:iq:roster")!.getChildren("item");
    expect(items.map((i) => i.attrs.jid)).to.not.include("carol@localhost");
  });

  it("RFC 6121 2.5.3: removing an item that is not there is item-not-found", async () => {
    const a = await login("alice");
    expect(await errorCondition(rosterSet(a, { jid: "nobody@localhost", subscription: "remove" }))).to.equal("item-not-found");
  });

  it("RFC 6121 2.3.3: two items in one set is bad-request", async () => {
    const a = await login("alice");
    const req = xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "x@localhost" }), xml("item", { jid: "y@localhost" })));
    expect(await errorCondition(a.iq(req))).to.equal("bad-request");
  });

  it("RFC 6121 2.3.3: an empty group is not-acceptable, a duplicate group bad-request", async () => {
    const a = await login("alice");
    expect(await errorCondition(rosterSet(a, { jid: "x@localhost" }, ""))).to.equal("not-acceptable");
    expect(await errorCondition(rosterSet(a, { jid: "x@localhost" }, "G", "G"))).to.equal("bad-request");
  });

  it("RFC 6121 2.1.5: another account cannot read or change a user's roster", async () => {
    const b = await login("bob");
    const get = xml("iq", { type: "get", to: "alice@localhost" }, xml("query", { xmlns: "jabber:iq:roster" }));
    expect(await errorCondition(b.iq(get))).to.equal("forbidden");
    const set = xml("iq", { type: "set", to: "alice@localhost" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "bob@localhost" })));
    expect(await errorCondition(b.iq(set))).to.equal("forbidden");
  });

  it("RFC 6121 2.6.3: a current 'ver' gets an empty result; an old one the whole roster with the new ver", async () => {
    const d = await login("dave");
    const first = (await rosterGet(d, "")).getChild("query", "jabber:iq:roster")!;
    const v0 = first.attrs.ver!;
    expect(v0).to.be.a("string");
    await rosterSet(d, { jid: "alice@localhost" });
    await d.next(isRosterPush("alice@localhost"), "roster push");
    const push = (await rosterGet(d, v0)).getChild("query", "jabber:iq:roster")!;
    const v1 = push.attrs.ver!;
    expect(v1).to.not.equal(v0);
    expect(push.getChildren("item").map((i) => i.attrs.jid)).to.deep.equal(["alice@localhost"]);
    const current = await rosterGet(d, v1);
    expect(current.attrs.type).to.equal("result");
    expect(current.getChild("query")).to.equal(undefined);
  });

  it("RFC 6121 2.1.6: roster pushes carry the new version", async () => {
    const d = await login("dave");
    const v = (await rosterGet(d, "")).getChild("query", "jabber:iq:roster")!.attrs.ver!;
    await rosterSet(d, { jid: "bob@localhost" });
    const push = await d.next(isRosterPush("bob@localhost"), "roster push");
    const pushedVer = push.getChild("query", "jabber:iq:roster")!.attrs.ver!;
    expect(pushedVer).to.not.equal(v);
    expect((await rosterGet(d, pushedVer)).getChild("query")).to.equal(undefined);
  });

  it("RFC 6121 2.3.3: past the configured maximum (modules.roster.max_items) a new item is not-allowed", async () => {
    const limited = { ...suite.ts.config, modules: { roster: { max_items: 2 } } } as unknown as Config;
    const saved = suite.ts.server.config;
    await suite.ts.server.reload(limited);
    try {
      const c = await login("carol");
      await rosterSet(c, { jid: "one@localhost" });
      await rosterSet(c, { jid: "two@localhost" });
      expect(await errorCondition(rosterSet(c, { jid: "three@localhost" }))).to.equal("not-allowed");
      // Updating an item that is already there is still allowed.
      expect((await rosterSet(c, { jid: "two@localhost", name: "Two" })).attrs.type).to.equal("result");
    } finally {
      await suite.ts.server.reload(saved);
    }
  });
});

describe("RFC 6120 10.5 and 8.1.2.1: iq routing and 'from' stamping", function () {
  const suite = suiteServer();
  before(async () => {
    await suite.ts.addUser("alice", "pw");
    await suite.ts.addUser("bob", "pw");
  });

  it("RFC 6120 10.5.4: an iq to a connected full JID is routed to that resource", async () => {
    const a = await suite.login("alice", "desk");
    const b = await suite.login("bob", "phone");
    b.client.iqCallee.get("urn:example:echo", "echo", () => xml("echo", { xmlns: "urn:example:echo" }, "pong"));
    const reply = await a.iq(xml("iq", { type: "get", to: b.jid }, xml("echo", { xmlns: "urn:example:echo" })));
    expect(reply.attrs.from).to.equal(b.jid);
    expect(reply.getChildText("echo", "urn:example:echo")).to.equal("pong");
  });

  it("RFC 6120 10.5.4: an iq to an offline resource is service-unavailable", async () => {
    const a = await suite.login("alice");
    const req = xml("iq", { type: "get", to: "bob@localhost/gone" }, xml("echo", { xmlns: "urn:example:echo" }));
    expect(await errorCondition(a.iq(req))).to.equal("service-unavailable");
  });

  it("RFC 6120 10.5.3: an iq to a bare JID in an unknown namespace is service-unavailable", async () => {
    const a = await suite.login("alice");
    const req = xml("iq", { type: "get", to: "bob@localhost" }, xml("query", { xmlns: "urn:example:unknown" }));
    expect(await errorCondition(a.iq(req))).to.equal("service-unavailable");
  });

  it("RFC 6120 8.1.2.1: the server stamps 'from'; a client's own bare JID is accepted and replaced", async () => {
    const a = await suite.login("alice", "desk");
    const b = await suite.login("bob", "phone");
    await a.send(xml("message", { to: b.jid, from: a.bare, type: "chat" }, xml("body", {}, "stamped")));
    const got = await b.next((s) => s.name === "message" && s.getChildText("body") === "stamped");
    expect(got.attrs.from).to.equal(a.jid);
  });

  it("RFC 6120 8.1.2.1: a forged 'from' is never delivered (the stream is closed)", async () => {
    const a = await suite.login("alice", "desk");
    const b = await suite.login("bob", "phone");
    const closed = new Promise<string>((resolve) => a.client.on("error", (e: Error & { condition?: string }) => resolve(e.condition ?? e.message)));
    await a.send(xml("message", { to: b.jid, from: "carol@localhost/evil", type: "chat" }, xml("body", {}, "forged")));
    expect(await closed).to.equal("invalid-from");
    // bob talks to himself: once that arrives, anything alice's stream produced before it was handled.
    const b2 = await suite.login("bob", "tablet");
    await barrier(b2, b);
    expect(b.some((s) => s.getChildText("body") === "forged")).to.equal(false);
  });
});

// RFC 6121 section 3 and Appendix A with real xmpp.js clients. Each test uses
// its own pair of accounts so that states never leak between tests.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import type { Config } from "../../src/config/types.js";
import { type Inbox, barrier, isPresence, isRosterPush, pushedItem, rosterGet, suiteServer } from "../harness/im-inbox.js";

describe("RFC 6121 3: presence subscriptions", function () {
  const suite = suiteServer();
  let n = 0;
  /** Two fresh accounts, logged in, interested in roster pushes, available. */
  const pair = async (): Promise<[Inbox, Inbox]> => {
    n++;
    await suite.ts.addUser(`u${n}`, "pw");
    await suite.ts.addUser(`c${n}`, "pw");
    const u = await suite.login(`u${n}`, "r");
    const c = await suite.login(`c${n}`, "r");
    for (const x of [u, c]) {
      await rosterGet(x);
      await x.send(xml("presence"));
      // The session queue is in order: once this arrives, initial presence is fully handled.
      await barrier(x, x);
    }
    return [u, c];
  };
  const item = async (x: Inbox, jid: string) => pushedItem(await x.next(isRosterPush(jid), `roster push for ${jid}`)).attrs;

  it("RFC 6121 3.1.2: the user's server pushes ask=subscribe and stamps the bare JID", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    expect(await item(u, c.bare)).to.include({ subscription: "none", ask: "subscribe" });
    const req = await c.next(isPresence("subscribe"), "subscribe");
    expect(req.attrs.from).to.equal(u.bare);
  });

  it("RFC 6121 3.1.3: the contact's server does not add a roster item for an inbound request", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await barrier(u, c);
    expect(c.some(isRosterPush(u.bare))).to.equal(false);
  });

  it("RFC 6121 3.1.5 + 3.1.6: approval: contact gets 'from', user gets 'to' and the contact's presence", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    expect(await item(u, c.bare)).to.include({ ask: "subscribe" });
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    expect(await item(c, u.bare)).to.include({ subscription: "from" });
    await u.next(isPresence("subscribed", c.bare), "subscribed");
    const pushed = await item(u, c.bare);
    expect(pushed.subscription).to.equal("to");
    expect(pushed.ask).to.equal(undefined);
    // RFC 6121 3.1.5: the contact's server sends the contact's current presence.
    await u.next(isPresence(undefined, c.jid), "contact's available presence");
  });

  it("RFC 6121 3.1.3 + A.3.1: both directions make 'both' on each side", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    await u.next(isPresence("subscribed", c.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribe" }));
    await u.next(isPresence("subscribe", c.bare));
    await u.send(xml("presence", { to: c.bare, type: "subscribed" }));
    await c.next(isPresence("subscribed", u.bare));
    const roster = async (x: Inbox, jid: string) =>
      (await rosterGet(x)).getChild("query", "jabber:iq:roster")!.getChildren("item").find((i) => i.attrs.jid === jid)!.attrs;
    expect(await roster(u, c.bare)).to.include({ subscription: "both" });
    expect(await roster(c, u.bare)).to.include({ subscription: "both" });
  });

  it("RFC 6121 3.1.3: a request is kept for an offline contact and delivered at its next initial presence", async () => {
    const [u, c] = await pair();
    await c.client.stop();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await item(u, c.bare);
    const c2 = await suite.login(c.bare.split("@")[0]!, "later");
    await barrier(u, c2);
    expect(c2.some(isPresence("subscribe"))).to.equal(false); // not before initial presence
    await c2.send(xml("presence"));
    const req = await c2.next(isPresence("subscribe", u.bare), "stored subscribe");
    expect(req.attrs.to).to.equal(c.bare);
  });

  it("RFC 6121 3.2.2 + 3.2.3: denying a request (unsubscribed) clears the user's ask", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await item(u, c.bare);
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "unsubscribed" }));
    await u.next(isPresence("unsubscribed", c.bare), "unsubscribed");
    const pushed = await item(u, c.bare);
    expect(pushed.subscription).to.equal("none");
    expect(pushed.ask).to.equal(undefined);
  });

  it("RFC 6121 3.2: cancelling a subscription: 'from' becomes 'none', the user gets unavailable", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    await u.next(isPresence(undefined, c.jid), "contact's presence");
    await item(c, u.bare);
    await c.send(xml("presence", { to: u.bare, type: "unsubscribed" }));
    expect(await item(c, u.bare)).to.include({ subscription: "none" });
    await u.next(isPresence("unsubscribed", c.bare), "unsubscribed");
    await u.next(isPresence("unavailable", c.jid), "contact's unavailable");
    const pushed = (await u.next(isRosterPush(c.bare))).getChild("query")!;
    expect(pushed).to.not.equal(undefined);
  });

  it("RFC 6121 3.3: unsubscribing: 'to' becomes 'none' on one side, 'from' becomes 'none' on the other", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    await u.next(isPresence("subscribed", c.bare));
    await item(c, u.bare);
    await u.send(xml("presence", { to: c.bare, type: "unsubscribe" }));
    await c.next(isPresence("unsubscribe", u.bare), "unsubscribe");
    expect(await item(c, u.bare)).to.include({ subscription: "none" });
    const last = u.all.filter(isRosterPush(c.bare)).map((s) => pushedItem(s).attrs.subscription);
    await barrier(c, u);
    const all = u.all.filter(isRosterPush(c.bare)).map((s) => pushedItem(s).attrs.subscription);
    expect(all[all.length - 1]).to.equal("none");
    expect(last.length).to.be.greaterThan(0);
  });

  it("RFC 6121 3.1.2 (retracting): unsubscribe while pending removes the contact's stored request", async () => {
    const [u, c] = await pair();
    await c.client.stop();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await item(u, c.bare);
    await u.send(xml("presence", { to: c.bare, type: "unsubscribe" }));
    expect(await item(u, c.bare)).to.not.have.property("ask");
    await barrier(u, u); // the unsubscribe has reached the contact's side
    expect(await suite.ts.server.core.storage.roster.pending(c.bare)).to.deep.equal([]);
  });

  it("RFC 6121 3.4: a pre-approved subscription is granted without asking the contact", async () => {
    const [u, c] = await pair();
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    expect(await item(c, u.bare)).to.include({ subscription: "none", approved: "true" });
    await barrier(c, u);
    expect(u.some(isPresence("subscribed"))).to.equal(false); // 3.4.2: not routed
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await u.next(isPresence("subscribed", c.bare), "automatic subscribed");
    expect((await item(c, u.bare)).subscription).to.equal("from");
    await barrier(u, c);
    expect(c.some(isPresence("subscribe"))).to.equal(false);
  });

  it("RFC 6121 3.4 + 3.1.5 + 2.3.3: a pre-approval or an approval that would add an item past max_items is not-allowed", async () => {
    // Found by fuzzing: pre-approvals created roster items past the limit, without bound.
    const limited = { ...suite.ts.config, modules: { roster: { max_items: 1 } } } as unknown as Config;
    const saved = suite.ts.server.config;
    await suite.ts.server.reload(limited);
    try {
      const [u, c] = await pair();
      await c.send(xml("presence", { to: "first@localhost", type: "subscribed" }));
      expect(await item(c, "first@localhost")).to.include({ approved: "true" });
      await c.send(xml("presence", { to: "second@localhost", type: "subscribed" }));
      const bounced = await c.next(isPresence("error", "second@localhost"), "presence error");
      expect(bounced.getChild("error")?.getChild("not-allowed")).to.not.equal(undefined);
      const items = (await rosterGet(c)).getChild("query", "jabber:iq:roster")!.getChildren("item");
      expect(items.map((i) => i.attrs.jid)).to.deep.equal(["first@localhost"]);
      // Approving a real request would add an item too: refused, and the request stays pending.
      await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
      await c.next(isPresence("subscribe", u.bare));
      await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
      const refused = await c.next(isPresence("error", u.bare), "presence error");
      expect(refused.getChild("error")?.getChild("not-allowed")).to.not.equal(undefined);
      await barrier(c, u);
      expect(u.some(isPresence("subscribed", c.bare)), "approval routed").to.equal(false);
    } finally {
      await suite.ts.server.reload(saved);
    }
  });

  it("RFC 6121 3.1.3 + A.3.1: a request to a contact that already approved is not delivered to it again", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    await u.next(isPresence("subscribed", c.bare));
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await barrier(u, c);
    expect(c.all.filter(isPresence("subscribe")).length).to.equal(1);
    const items = (await rosterGet(u)).getChild("query", "jabber:iq:roster")!.getChildren("item");
    expect(items.find((i) => i.attrs.jid === c.bare)?.attrs).to.include({ subscription: "to" });
  });

  it("RFC 6121 2.5.2: removing a 'both' item unsubscribes both ways", async () => {
    const [u, c] = await pair();
    await u.send(xml("presence", { to: c.bare, type: "subscribe" }));
    await c.next(isPresence("subscribe", u.bare));
    await c.send(xml("presence", { to: u.bare, type: "subscribed" }));
    await c.send(xml("presence", { to: u.bare, type: "subscribe" }));
    await u.next(isPresence("subscribe", c.bare));
    await u.send(xml("presence", { to: c.bare, type: "subscribed" }));
    await c.next(isPresence("subscribed", u.bare));
    await u.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: c.bare, subscription: "remove" }))));
    await c.next(isPresence("unsubscribe", u.bare), "unsubscribe");
    await c.next(isPresence("unsubscribed", u.bare), "unsubscribed");
    await barrier(u, c);
    const items = (await rosterGet(c)).getChild("query", "jabber:iq:roster")!.getChildren("item");
    expect(items.find((i) => i.attrs.jid === u.bare)?.attrs.subscription).to.equal("none");
  });
});

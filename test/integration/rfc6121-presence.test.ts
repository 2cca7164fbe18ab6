// RFC 6121 section 4 with real xmpp.js clients: broadcast, probes, directed
// presence, unavailable at session end (closing handshake and dropped TCP),
// priority, and presence never reaching someone not entitled to it.

import { expect } from "chai";
import { xml } from "@xmpp/client";
import { type Inbox, barrier, dropConnection, isPresence, subscribeBoth, suiteServer } from "../harness/im-inbox.js";

describe("RFC 6121 4: presence", function () {
  const suite = suiteServer();
  let n = 0;
  const login = (user: string, resource = "r") => suite.login(user, resource);
  /** u and c subscribed both ways; x is a stranger. */
  const trio = async (): Promise<[Inbox, Inbox, Inbox]> => {
    n++;
    for (const p of ["u", "c", "x"]) await suite.ts.addUser(`${p}${n}`, "pw");
    const [u, c, x] = [await login(`u${n}`), await login(`c${n}`), await login(`x${n}`)];
    await subscribeBoth(u, c);
    return [u, c, x];
  };

  it("RFC 6121 4.2.2: initial presence goes to subscribers and to the user's own resources, not to strangers", async () => {
    const [u, c, x] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence", {}, xml("status", {}, "here")));
    const got = await c.next(isPresence(undefined, u.jid), "u's presence");
    expect(got.getChildText("status")).to.equal("here");
    await u.next(isPresence(undefined, u.jid), "own presence");
    await barrier(u, x);
    expect(x.some((s) => s.name === "presence" && s.attrs.from === u.jid)).to.equal(false);
  });

  it("RFC 6121 4.2.2 + 4.3.2: at initial presence the user learns each available resource of its contacts (probe)", async () => {
    const [u, c] = await trio();
    const c2 = await login(c.bare.split("@")[0]!, "second");
    await c.send(xml("presence", {}, xml("show", {}, "away")));
    await c2.send(xml("presence", {}, xml("show", {}, "dnd")));
    await barrier(c2, u);
    await u.send(xml("presence"));
    const first = await u.next(isPresence(undefined, c.jid), "c/r presence");
    const second = await u.next(isPresence(undefined, c2.jid), "c/second presence");
    expect(first.getChildText("show")).to.equal("away");
    expect(second.getChildText("show")).to.equal("dnd");
  });

  it("RFC 6121 4.3.2: a probe from someone not subscribed reveals nothing", async () => {
    const [, c, x] = await trio();
    await c.send(xml("presence"));
    await x.send(xml("presence", { to: c.bare, type: "probe" }));
    await barrier(x, x);
    await barrier(c, x);
    expect(x.some((s) => s.name === "presence" && s.attrs.from === c.jid)).to.equal(false);
  });

  it("RFC 6121 4.4.2: a presence update is broadcast to subscribers", async () => {
    const [u, c] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await c.next(isPresence(undefined, u.jid));
    await u.send(xml("presence", {}, xml("show", {}, "xa")));
    const update = await c.next((s) => isPresence(undefined, u.jid)(s) && s.getChildText("show") === "xa", "update");
    expect(update.getChildText("show")).to.equal("xa");
  });

  it("RFC 6121 4.5.2: unavailable presence is broadcast to subscribers", async () => {
    const [u, c] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await c.next(isPresence(undefined, u.jid));
    await u.send(xml("presence", { type: "unavailable" }));
    await c.next(isPresence("unavailable", u.jid), "unavailable");
  });

  it("RFC 6121 4.5.2: a closing handshake makes the session unavailable to subscribers", async () => {
    const [u, c] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await c.next(isPresence(undefined, u.jid));
    await u.client.stop();
    await c.next(isPresence("unavailable", u.jid), "unavailable after stop");
  });

  it("RFC 6121 4.5.2: a dropped TCP connection makes the session unavailable to subscribers", async () => {
    const [u, c] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await c.next(isPresence(undefined, u.jid));
    dropConnection(u);
    await c.next(isPresence("unavailable", u.jid), "unavailable after the socket was destroyed");
  });

  it("RFC 6121 4.6: directed presence reaches a stranger, and unavailable follows when the session ends", async () => {
    const [u, , x] = await trio();
    await u.send(xml("presence", { to: x.jid }, xml("status", {}, "just for you")));
    const got = await x.next(isPresence(undefined, u.jid), "directed presence");
    expect(got.getChildText("status")).to.equal("just for you");
    dropConnection(u);
    await x.next(isPresence("unavailable", u.jid), "unavailable after directed presence");
  });

  it("RFC 6121 4.6.3: after directed unavailable, the recipient gets nothing more at session end", async () => {
    const [u, c, x] = await trio();
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await u.send(xml("presence", { to: x.jid }));
    await x.next(isPresence(undefined, u.jid));
    await u.send(xml("presence", { to: x.jid, type: "unavailable" }));
    await x.next(isPresence("unavailable", u.jid));
    await u.client.stop();
    await c.next(isPresence("unavailable", u.jid)); // the session end was processed
    await barrier(c, x);
    expect(x.all.filter(isPresence("unavailable", u.jid)).length).to.equal(1);
  });

  it("RFC 6121 4.7.2.3 + 8.5.2.1.1: a bare-JID message goes to the highest non-negative priority; negative gets none", async () => {
    const [u, c] = await trio();
    const u2 = await login(u.bare.split("@")[0]!, "low");
    await u.send(xml("presence", {}, xml("priority", {}, "5")));
    await u2.send(xml("presence", {}, xml("priority", {}, "-1")));
    await barrier(u2, c);
    await c.send(xml("message", { to: u.bare, type: "chat" }, xml("body", {}, "to the top")));
    await u.next((s) => s.getChildText("body") === "to the top", "message at priority 5");
    await barrier(c, u2);
    expect(u2.some((s) => s.getChildText("body") === "to the top")).to.equal(false);
  });

  it("RFC 6121 4.2.2: a stranger never receives presence broadcasts, even after subscribers change", async () => {
    const [u, c, x] = await trio();
    await x.send(xml("presence"));
    await c.send(xml("presence"));
    await u.send(xml("presence"));
    await u.send(xml("presence", {}, xml("show", {}, "chat")));
    await u.send(xml("presence", { type: "unavailable" }));
    await c.next(isPresence("unavailable", u.jid));
    await barrier(u, x);
    expect(x.some((s) => s.name === "presence" && s.attrs.from?.startsWith(u.bare))).to.equal(false);
  });

  // The server reads an online account's roster from memory (storage/roster-cache.ts):
  // every change made while the account is online must show in what presence does next.
  describe("rosters changed while online", function () {
    it("RFC 6121 3.1.5 + 4.4.2: a subscription approved while online reaches the next broadcast", async () => {
      n++;
      for (const p of ["u", "c"]) await suite.ts.addUser(`${p}${n}`, "pw");
      const [u, c] = [await login(`u${n}`), await login(`c${n}`)];
      await u.send(xml("presence")); // u's roster (empty) is read, and cached, here
      await c.send(xml("presence"));
      await barrier(u, c);
      await c.send(xml("presence", { to: u.bare, type: "subscribe" }));
      await barrier(c, u);
      await u.send(xml("presence", { to: c.bare, type: "subscribed" }));
      await u.send(xml("presence", {}, xml("show", {}, "chat")));
      const update = await c.next((s) => isPresence(undefined, u.jid)(s) && s.getChildText("show") === "chat", "u's update");
      expect(update.attrs.to).to.equal(c.bare);
    });

    it("RFC 6121 3.2.2 + 4.4.2: after the user cancels a subscription while online, its next broadcast skips the former subscriber", async () => {
      const [u, c] = await trio();
      await c.send(xml("presence"));
      await u.send(xml("presence"));
      await c.next(isPresence(undefined, u.jid));
      await u.send(xml("presence", { to: c.bare, type: "unsubscribed" }));
      await c.next(isPresence("unavailable", u.jid), "unavailable on cancellation");
      await u.send(xml("presence", {}, xml("show", {}, "xa")));
      await barrier(u, c);
      expect(c.some((s) => isPresence(undefined, u.jid)(s) && s.getChildText("show") === "xa")).to.equal(false);
    });

    it("RFC 6121 4.3.2: a probe is answered by the online contact's roster as it is now", async () => {
      n++;
      for (const p of ["u", "c"]) await suite.ts.addUser(`${p}${n}`, "pw");
      const [u, c] = [await login(`u${n}`), await login(`c${n}`)];
      await c.send(xml("presence")); // c's roster (empty) is read, and cached, here
      await barrier(c, u);
      // Written as the modules write (through the server's storage): u's side says c lets u see.
      const roster = suite.ts.server.core.storage.roster;
      const item = (jid: string, subscription: "both" | "from") => ({ jid, name: null, groups: [], subscription, ask: false, approved: false });
      await roster.update(u.bare, c.bare, () => item(c.bare, "both"));
      const u2 = await login(u.bare.split("@")[0]!, "two");
      await u2.send(xml("presence")); // probes c: c's roster has no u, so no answer
      await barrier(u2, u2);
      expect(u2.some(isPresence(undefined, c.jid))).to.equal(false);
      await roster.update(c.bare, u.bare, () => item(u.bare, "from"));
      const u3 = await login(u.bare.split("@")[0]!, "three");
      await u3.send(xml("presence"));
      await u3.next(isPresence(undefined, c.jid), "the probe's answer");
    });
  });
});

// One suite for the roster and offline stores, run against every backend:
// the in-memory store is the reference, SQLite must behave the same.

import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMemoryStorage } from "../../src/storage/memory/index.js";
import { CachedRosterStore } from "../../src/storage/roster-cache.js";
import { openSqliteStorage } from "../../src/storage/sqlite/index.js";
import type { RosterItem, Storage } from "../../src/storage/types.js";

const A = "alice@localhost";
const B = "bob@localhost";
const C = "carol@localhost";

const item = (jid: string, over: Partial<RosterItem> = {}): RosterItem => ({
  jid,
  name: null,
  groups: [],
  subscription: "none",
  ask: false,
  approved: false,
  ...over,
});

const backends: { name: string; open: () => Promise<Storage> }[] = [
  { name: "memory", open: async () => createMemoryStorage() },
  { name: "sqlite", open: () => openSqliteStorage(":memory:") },
  // The online-roster cache must keep the same contract (every account counted as online).
  {
    name: "sqlite, roster cached",
    open: async () => {
      const s = await openSqliteStorage(":memory:");
      return { ...s, roster: new CachedRosterStore(s.roster, () => true) };
    },
  },
];

for (const backend of backends) {
  describe(`storage (${backend.name}): roster`, function () {
    let s: Storage;
    beforeEach(async () => {
      s = await backend.open();
    });
    afterEach(async () => {
      await s.close();
    });

    it("an account without a roster has version 0 and no items", async () => {
      expect(await s.roster.get(A)).to.deep.equal({ version: 0, items: [] });
      expect(await s.roster.item(A, B)).to.equal(null);
      expect(await s.roster.count(A)).to.equal(0);
    });

    it("RFC 6121 2.1.2: keeps name, groups, subscription, ask and approved", async () => {
      const stored = item(B, { name: "Bob", groups: ["Friends", "Work"], subscription: "from", ask: true, approved: true });
      const change = await s.roster.update(A, B, () => stored);
      expect(change.before).to.equal(null);
      expect(change.after).to.deep.equal(stored);
      expect(await s.roster.item(A, B)).to.deep.equal(stored);
      expect((await s.roster.get(A)).items).to.deep.equal([stored]);
      expect(await s.roster.count(A)).to.equal(1);
    });

    it("RFC 6121 2.6: every change bumps the account's version by one; no change keeps it", async () => {
      expect((await s.roster.update(A, B, () => item(B))).version).to.equal(1);
      expect((await s.roster.update(A, C, () => item(C))).version).to.equal(2);
      expect((await s.roster.update(A, B, () => undefined)).version).to.equal(2);
      expect((await s.roster.update(A, "nobody@localhost", () => null)).version).to.equal(2);
      const removed = await s.roster.update(A, B, () => null);
      expect(removed.version).to.equal(3);
      expect(removed.before?.jid).to.equal(B);
      expect(removed.after).to.equal(null);
      expect(await s.roster.get(A)).to.deep.equal({ version: 3, items: [item(C)] });
      expect((await s.roster.get(B)).version).to.equal(0);
    });

    it("update sees the current item and its result replaces it", async () => {
      await s.roster.update(A, B, () => item(B, { name: "Bob" }));
      const change = await s.roster.update(A, B, (cur) => cur && { ...cur, subscription: "both" });
      expect(change.before?.subscription).to.equal("none");
      expect(change.after).to.deep.equal(item(B, { name: "Bob", subscription: "both" }));
    });

    it("concurrent updates of one item do not lose each other's change", async () => {
      await s.roster.update(A, B, () => item(B));
      await Promise.all(
        ["g1", "g2", "g3", "g4"].map((g) => s.roster.update(A, B, (cur) => cur && { ...cur, groups: [...cur.groups, g] })),
      );
      expect((await s.roster.item(A, B))?.groups.sort()).to.deep.equal(["g1", "g2", "g3", "g4"]);
      expect((await s.roster.get(A)).version).to.equal(5);
    });

    it("RFC 6121 3.1.3: pending-in requests live beside the roster, per account", async () => {
      await s.roster.addPending(A, B, "<presence type='subscribe'/>");
      expect(await s.roster.hasPending(A, B)).to.equal(true);
      expect(await s.roster.hasPending(B, A)).to.equal(false);
      expect(await s.roster.pending(A)).to.deep.equal([{ contact: B, stanza: "<presence type='subscribe'/>" }]);
      expect((await s.roster.get(A)).items).to.deep.equal([]);
      await s.roster.addPending(A, B, "<presence type='subscribe' id='2'/>");
      expect(await s.roster.pending(A)).to.have.length(1);
      expect(await s.roster.removePending(A, B)).to.equal(true);
      expect(await s.roster.removePending(A, B)).to.equal(false);
      expect(await s.roster.pending(A)).to.deep.equal([]);
    });
  });

  describe(`storage (${backend.name}): offline messages`, function () {
    let s: Storage;
    beforeEach(async () => {
      s = await backend.open();
    });
    afterEach(async () => {
      await s.close();
    });

    it("XEP-0160: stores in order and take() returns and removes them", async () => {
      expect(await s.offline.store(A, "<message id='1'/>", 1000, 10)).to.equal(true);
      expect(await s.offline.store(A, "<message id='2'/>", 2000, 10)).to.equal(true);
      expect(await s.offline.store(B, "<message id='3'/>", 3000, 10)).to.equal(true);
      expect(await s.offline.count(A)).to.equal(2);
      expect(await s.offline.take(A)).to.deep.equal([
        { stanza: "<message id='1'/>", storedAt: 1000 },
        { stanza: "<message id='2'/>", storedAt: 2000 },
      ]);
      expect(await s.offline.take(A)).to.deep.equal([]);
      expect(await s.offline.count(B)).to.equal(1);
    });

    it("forget() removes one account's roster, pending requests and stored messages, and nobody else's", async () => {
      await s.roster.update(A, B, () => item(B));
      await s.roster.addPending(A, B, "<presence type='subscribe'/>");
      await s.offline.store(A, "<message/>", 1, 10);
      await s.roster.update(B, A, () => item(A));
      await s.offline.store(B, "<message/>", 1, 10);
      await s.roster.forget(A);
      await s.offline.forget(A);
      expect(await s.roster.get(A)).to.deep.equal({ version: 0, items: [] });
      expect(await s.roster.pending(A)).to.deep.equal([]);
      expect(await s.offline.count(A)).to.equal(0);
      expect(await s.roster.count(B)).to.equal(1);
      expect(await s.offline.count(B)).to.equal(1);
    });

    it("XEP-0160: refuses to store past the limit, even when stores race", async () => {
      const results = await Promise.all([1, 2, 3, 4, 5].map((i) => s.offline.store(A, `<message id='${i}'/>`, i, 3)));
      expect(results.filter(Boolean)).to.have.length(3);
      expect(await s.offline.count(A)).to.equal(3);
      expect(await s.offline.store(A, "<message/>", 9, 3)).to.equal(false);
    });
  });
}

describe("storage: the online-roster cache", function () {
  it("RFC 6121 2.1.6: a write that finishes while the roster is being read is not hidden by that read", async () => {
    const backend = createMemoryStorage().roster;
    let release = () => {};
    // The first read of the whole roster is held until the write below has finished.
    const slow = Object.create(backend) as typeof backend;
    let hold = true;
    slow.get = async (account) => {
      const read = await backend.get(account);
      if (hold) await new Promise<void>((r) => (release = r));
      return read;
    };
    const cache = new CachedRosterStore(slow, () => true);
    const reading = cache.get(A);
    await new Promise((r) => setImmediate(r));
    hold = false;
    await cache.update(A, B, () => item(B, { subscription: "both" }));
    release();
    expect((await reading).items).to.deep.equal([]); // read before the write: may predate it
    expect(await cache.item(A, B)).to.deep.equal(item(B, { subscription: "both" }));
    expect((await cache.get(A)).version).to.equal(1);
  });

  it("keeps only online accounts' rosters, and what callers change does not change the cache", async () => {
    const backend = createMemoryStorage().roster;
    const online = new Set([A]);
    const cache = new CachedRosterStore(backend, (account) => online.has(account));
    await backend.update(A, B, () => item(B, { groups: ["g"] }));
    await backend.update(C, B, () => item(B));
    const got = await cache.item(A, B);
    got!.groups.push("changed");
    expect(await cache.item(A, B)).to.deep.equal(item(B, { groups: ["g"] }));
    await backend.update(C, A, () => item(A)); // behind the cache, for an account it does not keep
    expect(await cache.count(C)).to.equal(2);
    online.delete(A);
    cache.evict(A);
    await backend.update(A, C, () => item(C)); // behind the cache: seen once A's entry is gone
    expect(await cache.count(A)).to.equal(2);
  });
});

describe("storage (sqlite): rosters, pending requests and offline messages survive reopening", function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "parley-storage-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("what was written is there after close and open", async () => {
    const first = await openSqliteStorage(dir);
    await first.roster.update(A, B, () => item(B, { name: "Bob", groups: ["x"], subscription: "to" }));
    await first.roster.addPending(A, C, "<presence type='subscribe'/>");
    await first.offline.store(A, "<message><body>hi</body></message>", 42, 10);
    await first.close();
    const second = await openSqliteStorage(dir);
    try {
      expect(await second.roster.get(A)).to.deep.equal({ version: 1, items: [item(B, { name: "Bob", groups: ["x"], subscription: "to" })] });
      expect(await second.roster.pending(A)).to.deep.equal([{ contact: C, stanza: "<presence type='subscribe'/>" }]);
      expect(await second.offline.take(A)).to.deep.equal([{ stanza: "<message><body>hi</body></message>", storedAt: 42 }]);
    } finally {
      await second.close();
    }
  });
});

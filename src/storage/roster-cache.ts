// A read cache in front of any RosterStore, for the rosters of accounts that are
// online. Presence reads them all the time (RFC 6121 4: each broadcast, each
// probe and each probe's answer), and a round trip to the database per read is
// what a mass login spent most of its time on; they change rarely.
//
// Correctness does not depend on who is online, only on every write going
// through this object: a write drops the account's entry, and a read that
// was in flight when a write finished is not kept (Load.stale).
// Writes made by another process (the CLI's deluser) are not seen: the server
// is told over its admin socket instead, and closes the account's sessions.

import type { PendingSubscription, RosterChange, RosterItem, RosterStore, RosterUpdate } from "./types.js";

interface Entry {
  version: number;
  /** In the order the backend returned them. */
  items: Map<string, RosterItem>;
}

/** A read of the whole roster in flight, shared by the readers that come meanwhile. */
interface Load {
  promise: Promise<Entry>;
  /** A write to the account finished meanwhile: what is read may predate it, so it is not kept. */
  stale: boolean;
}

/** Callers may change what they are given; the cached item must not change with it. */
const copy = (item: RosterItem): RosterItem => ({ ...item, groups: [...item.groups] });

export class CachedRosterStore implements RosterStore {
  private readonly entries = new Map<string, Entry>();
  private readonly loads = new Map<string, Load>();

  /** `keep(account)`: whether a roster read now is worth keeping (the account has a session). */
  constructor(
    private readonly inner: RosterStore,
    private readonly keep: (account: string) => boolean,
  ) {}

  /** Forgets the cached roster (the account's last session ended); the stored one is untouched. */
  evict(account: string): void {
    this.entries.delete(account);
  }

  /** The cached roster, loaded first if the account is online; null: read the backend. */
  private async entry(account: string): Promise<Entry | null> {
    const cached = this.entries.get(account);
    if (cached) return cached;
    if (!this.keep(account)) return null;
    const running = this.loads.get(account);
    if (running) return running.promise;
    const load: Load = { stale: false, promise: this.inner.get(account).then(toEntry) };
    this.loads.set(account, load);
    try {
      const entry = await load.promise;
      if (!load.stale && this.keep(account)) this.entries.set(account, entry);
      return entry;
    } finally {
      if (this.loads.get(account) === load) this.loads.delete(account);
    }
  }

  private async write<T>(account: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } finally {
      // Also when the write failed: whether anything changed is not known.
      const load = this.loads.get(account);
      if (load) load.stale = true;
      this.loads.delete(account);
      this.entries.delete(account);
    }
  }

  async get(account: string): Promise<{ version: number; items: RosterItem[] }> {
    const entry = await this.entry(account);
    if (!entry) return this.inner.get(account);
    return { version: entry.version, items: [...entry.items.values()].map(copy) };
  }

  async item(account: string, contact: string): Promise<RosterItem | null> {
    const entry = await this.entry(account);
    if (!entry) return this.inner.item(account, contact);
    const item = entry.items.get(contact);
    return item ? copy(item) : null;
  }

  async count(account: string): Promise<number> {
    const entry = await this.entry(account);
    return entry ? entry.items.size : this.inner.count(account);
  }

  update(account: string, contact: string, fn: RosterUpdate): Promise<RosterChange> {
    return this.write(account, () => this.inner.update(account, contact, fn));
  }

  forget(account: string): Promise<void> {
    return this.write(account, () => this.inner.forget(account));
  }

  // Pending requests are read once per login, not per stanza: not cached.
  addPending(account: string, contact: string, stanza: string): Promise<void> {
    return this.inner.addPending(account, contact, stanza);
  }

  removePending(account: string, contact: string): Promise<boolean> {
    return this.inner.removePending(account, contact);
  }

  hasPending(account: string, contact: string): Promise<boolean> {
    return this.inner.hasPending(account, contact);
  }

  pending(account: string): Promise<PendingSubscription[]> {
    return this.inner.pending(account);
  }
}

function toEntry({ version, items }: { version: number; items: RosterItem[] }): Entry {
  return { version, items: new Map(items.map((i) => [i.jid, i])) };
}

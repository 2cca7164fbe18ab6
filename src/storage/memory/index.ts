// In-memory storage: fast module tests, and the reference the SQLite store is
// checked against by the shared storage test suite.

import type { Credentials } from "../../c2s/sasl/credentials.js";
import {
  AccountExistsError,
  type AccountRecord,
  type AccountStore,
  type OfflineMessage,
  type OfflineStore,
  type PendingSubscription,
  type RosterChange,
  type RosterItem,
  type RosterStore,
  type RosterUpdate,
  type Storage,
} from "../types.js";

class MemoryAccounts implements AccountStore {
  private readonly rows = new Map<string, AccountRecord>();

  async create(domain: string, local: string, credentials: Credentials): Promise<void> {
    const key = `${local}@${domain}`;
    if (this.rows.has(key)) throw new AccountExistsError(key);
    this.rows.set(key, { domain, local, credentials: structuredClone(credentials), createdAt: Date.now() });
  }

  async get(domain: string, local: string): Promise<AccountRecord | null> {
    const row = this.rows.get(`${local}@${domain}`);
    return row ? structuredClone(row) : null;
  }

  async setCredentials(domain: string, local: string, credentials: Credentials): Promise<boolean> {
    const row = this.rows.get(`${local}@${domain}`);
    if (!row) return false;
    row.credentials = structuredClone(credentials);
    return true;
  }

  async delete(domain: string, local: string): Promise<boolean> {
    return this.rows.delete(`${local}@${domain}`);
  }

  async list(domain?: string): Promise<{ domain: string; local: string }[]> {
    return [...this.rows.values()]
      .filter((r) => domain === undefined || r.domain === domain)
      .map(({ domain, local }) => ({ domain, local }))
      .sort((a, b) => a.domain.localeCompare(b.domain) || a.local.localeCompare(b.local));
  }
}

class MemoryRoster implements RosterStore {
  private readonly rosters = new Map<string, { version: number; items: Map<string, RosterItem> }>();
  private readonly pendingIn = new Map<string, Map<string, string>>();

  private roster(account: string) {
    let r = this.rosters.get(account);
    if (!r) this.rosters.set(account, (r = { version: 0, items: new Map() }));
    return r;
  }

  async forget(account: string): Promise<void> {
    this.rosters.delete(account);
    this.pendingIn.delete(account);
  }

  async get(account: string): Promise<{ version: number; items: RosterItem[] }> {
    const r = this.rosters.get(account);
    if (!r) return { version: 0, items: [] };
    return { version: r.version, items: [...r.items.values()].map((i) => structuredClone(i)) };
  }

  async item(account: string, contact: string): Promise<RosterItem | null> {
    const item = this.rosters.get(account)?.items.get(contact);
    return item ? structuredClone(item) : null;
  }

  async count(account: string): Promise<number> {
    return this.rosters.get(account)?.items.size ?? 0;
  }

  async update(account: string, contact: string, fn: RosterUpdate): Promise<RosterChange> {
    const r = this.roster(account);
    const current = r.items.get(contact);
    const before = current ? structuredClone(current) : null;
    const next = fn(current ? structuredClone(current) : null);
    if (next === undefined || (next === null && !before)) return { before, after: before, version: r.version };
    if (next === null) r.items.delete(contact);
    else r.items.set(contact, structuredClone({ ...next, jid: contact }));
    r.version++;
    return { before, after: next && structuredClone({ ...next, jid: contact }), version: r.version };
  }

  async addPending(account: string, contact: string, stanza: string): Promise<void> {
    let m = this.pendingIn.get(account);
    if (!m) this.pendingIn.set(account, (m = new Map()));
    m.set(contact, stanza);
  }

  async removePending(account: string, contact: string): Promise<boolean> {
    return this.pendingIn.get(account)?.delete(contact) ?? false;
  }

  async hasPending(account: string, contact: string): Promise<boolean> {
    return this.pendingIn.get(account)?.has(contact) ?? false;
  }

  async pending(account: string): Promise<PendingSubscription[]> {
    return [...(this.pendingIn.get(account) ?? new Map<string, string>())].map(([contact, stanza]) => ({ contact, stanza }));
  }
}

class MemoryOffline implements OfflineStore {
  private readonly queues = new Map<string, OfflineMessage[]>();

  async store(account: string, stanza: string, storedAt: number, limit: number): Promise<boolean> {
    let q = this.queues.get(account);
    if (!q) this.queues.set(account, (q = []));
    if (q.length >= limit) return false;
    q.push({ stanza, storedAt });
    return true;
  }

  async forget(account: string): Promise<void> {
    this.queues.delete(account);
  }

  async count(account: string): Promise<number> {
    return this.queues.get(account)?.length ?? 0;
  }

  async take(account: string): Promise<OfflineMessage[]> {
    const q = this.queues.get(account) ?? [];
    this.queues.delete(account);
    return q;
  }
}

export function createMemoryStorage(): Storage {
  return { accounts: new MemoryAccounts(), roster: new MemoryRoster(), offline: new MemoryOffline(), close: async () => {} };
}

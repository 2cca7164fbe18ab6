// SQLite storage: one database file for accounts and (later) rosters,
// offline messages, archives. The audit trail has a database of its own.

import { join } from "node:path";
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
  type Subscription,
} from "../types.js";
import { SqliteDb } from "./db.js";
import { MIGRATIONS } from "./migrations.js";

class SqliteAccounts implements AccountStore {
  constructor(private readonly db: SqliteDb) {}

  async create(domain: string, local: string, credentials: Credentials): Promise<void> {
    try {
      await this.db.run("INSERT INTO accounts (domain, local, credentials, created_at) VALUES (?, ?, ?, ?)", [
        domain,
        local,
        JSON.stringify(credentials),
        Date.now(),
      ]);
    } catch (err) {
      if ((err as { code?: string }).code === "SQLITE_CONSTRAINT") throw new AccountExistsError(`${local}@${domain}`);
      throw err;
    }
  }

  async get(domain: string, local: string): Promise<AccountRecord | null> {
    const row = await this.db.getPrepared<{ credentials: string; created_at: number }>(
      "SELECT credentials, created_at FROM accounts WHERE domain = ? AND local = ?",
      [domain, local],
    );
    if (!row) return null;
    return { domain, local, credentials: JSON.parse(row.credentials) as Credentials, createdAt: row.created_at };
  }

  async setCredentials(domain: string, local: string, credentials: Credentials): Promise<boolean> {
    const { changes } = await this.db.run("UPDATE accounts SET credentials = ? WHERE domain = ? AND local = ?", [
      JSON.stringify(credentials),
      domain,
      local,
    ]);
    return changes > 0;
  }

  async delete(domain: string, local: string): Promise<boolean> {
    const { changes } = await this.db.run("DELETE FROM accounts WHERE domain = ? AND local = ?", [domain, local]);
    return changes > 0;
  }

  list(domain?: string): Promise<{ domain: string; local: string }[]> {
    return domain === undefined
      ? this.db.all("SELECT domain, local FROM accounts ORDER BY domain, local")
      : this.db.all("SELECT domain, local FROM accounts WHERE domain = ? ORDER BY local", [domain]);
  }
}

interface RosterRow {
  contact: string;
  name: string | null;
  groups: string;
  subscription: Subscription;
  ask: number;
  approved: number;
}

const ROSTER_COLUMNS = "contact, name, groups, subscription, ask, approved";

function rosterItem(row: RosterRow): RosterItem {
  return {
    jid: row.contact,
    name: row.name,
    groups: JSON.parse(row.groups) as string[],
    subscription: row.subscription,
    ask: row.ask === 1,
    approved: row.approved === 1,
  };
}

class SqliteRoster implements RosterStore {
  forget(account: string): Promise<void> {
    return this.db.transaction(async () => {
      for (const table of ["roster_items", "roster_versions", "roster_pending_in"]) {
        await this.db.run(`DELETE FROM ${table} WHERE account = ?`, [account]);
      }
    });
  }

  constructor(private readonly db: SqliteDb) {}

  private async version(account: string): Promise<number> {
    const row = await this.db.getPrepared<{ version: number }>("SELECT version FROM roster_versions WHERE account = ?", [account]);
    return row?.version ?? 0;
  }

  async get(account: string): Promise<{ version: number; items: RosterItem[] }> {
    // One statement, so the version matches the items read (a consistent snapshot)
    // without a transaction's extra trips; every initial presence reads the roster.
    // The version row is always there; contact is null when there are no items.
    const rows = await this.db.allPrepared<RosterRow & { version: number; contact: string | null }>(
      `SELECT v.version, i.contact, i.name, i.groups, i.subscription, i.ask, i.approved
       FROM (SELECT COALESCE((SELECT version FROM roster_versions WHERE account = ?1), 0) AS version) AS v
       LEFT JOIN roster_items AS i ON i.account = ?1 ORDER BY i.contact`,
      [account],
    );
    const items = rows.filter((r) => r.contact !== null).map(rosterItem);
    return { version: rows[0]?.version ?? 0, items };
  }

  async item(account: string, contact: string): Promise<RosterItem | null> {
    const row = await this.db.getPrepared<RosterRow>(`SELECT ${ROSTER_COLUMNS} FROM roster_items WHERE account = ? AND contact = ?`, [
      account,
      contact,
    ]);
    return row ? rosterItem(row) : null;
  }

  async count(account: string): Promise<number> {
    const row = await this.db.getPrepared<{ n: number }>("SELECT COUNT(*) AS n FROM roster_items WHERE account = ?", [account]);
    return row?.n ?? 0;
  }

  update(account: string, contact: string, fn: RosterUpdate): Promise<RosterChange> {
    return this.db.transaction(async () => {
      const before = await this.item(account, contact);
      const next = fn(before ? structuredClone(before) : null);
      if (next === undefined || (next === null && !before)) return { before, after: before, version: await this.version(account) };
      if (next === null) await this.db.run("DELETE FROM roster_items WHERE account = ? AND contact = ?", [account, contact]);
      else {
        await this.db.run(
          `INSERT OR REPLACE INTO roster_items (account, ${ROSTER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [account, contact, next.name, JSON.stringify(next.groups), next.subscription, next.ask ? 1 : 0, next.approved ? 1 : 0],
        );
      }
      await this.db.run(
        "INSERT INTO roster_versions (account, version) VALUES (?, 1) ON CONFLICT (account) DO UPDATE SET version = version + 1",
        [account],
      );
      return { before, after: next && { ...next, jid: contact }, version: await this.version(account) };
    });
  }

  async addPending(account: string, contact: string, stanza: string): Promise<void> {
    await this.db.run("INSERT OR REPLACE INTO roster_pending_in (account, contact, stanza) VALUES (?, ?, ?)", [account, contact, stanza]);
  }

  async removePending(account: string, contact: string): Promise<boolean> {
    const { changes } = await this.db.run("DELETE FROM roster_pending_in WHERE account = ? AND contact = ?", [account, contact]);
    return changes > 0;
  }

  async hasPending(account: string, contact: string): Promise<boolean> {
    const row = await this.db.getPrepared("SELECT 1 AS x FROM roster_pending_in WHERE account = ? AND contact = ?", [account, contact]);
    return row !== undefined;
  }

  pending(account: string): Promise<PendingSubscription[]> {
    return this.db.allPrepared("SELECT contact, stanza FROM roster_pending_in WHERE account = ? ORDER BY contact", [account]);
  }
}

class SqliteOffline implements OfflineStore {
  async forget(account: string): Promise<void> {
    await this.db.run("DELETE FROM offline_messages WHERE account = ?", [account]);
  }

  constructor(private readonly db: SqliteDb) {}

  store(account: string, stanza: string, storedAt: number, limit: number): Promise<boolean> {
    // Count and insert in one transaction so concurrent senders cannot pass the quota.
    return this.db.transaction(async () => {
      if ((await this.count(account)) >= limit) return false;
      await this.db.run("INSERT INTO offline_messages (account, stanza, stored_at) VALUES (?, ?, ?)", [account, stanza, storedAt]);
      return true;
    });
  }

  async count(account: string): Promise<number> {
    const row = await this.db.getPrepared<{ n: number }>("SELECT COUNT(*) AS n FROM offline_messages WHERE account = ?", [account]);
    return row?.n ?? 0;
  }

  async take(account: string): Promise<OfflineMessage[]> {
    // Every initial presence asks, and there is usually nothing: one statement
    // (atomic by itself) instead of a transaction of four trips. RETURNING has
    // no order of its own, hence the sort by id.
    const rows = await this.db.exclusive(() =>
      this.db.allPrepared<{ id: number; stanza: string; stored_at: number }>(
        "DELETE FROM offline_messages WHERE account = ? RETURNING id, stanza, stored_at",
        [account],
      ),
    );
    return rows.sort((a, b) => a.id - b.id).map((r) => ({ stanza: r.stanza, storedAt: r.stored_at }));
  }
}

export async function openSqliteStorage(dataDir: string): Promise<Storage> {
  const db = await SqliteDb.open(dataDir === ":memory:" ? ":memory:" : join(dataDir, "parley.db"));
  try {
    await db.migrate(MIGRATIONS, "main database");
  } catch (err) {
    await db.close();
    throw err;
  }
  return {
    accounts: new SqliteAccounts(db),
    roster: new SqliteRoster(db),
    offline: new SqliteOffline(db),
    close: () => db.close(),
  };
}

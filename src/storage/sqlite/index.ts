// SQLite storage: one database file for accounts and (later) rosters,
// offline messages, archives. The audit trail has a database of its own.

import { join } from "node:path";
import type { Credentials } from "../../c2s/sasl/credentials.js";
import { AccountExistsError, type AccountRecord, type AccountStore, type Storage } from "../types.js";
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
    const row = await this.db.get<{ credentials: string; created_at: number }>(
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

export async function openSqliteStorage(dataDir: string): Promise<Storage> {
  const db = await SqliteDb.open(dataDir === ":memory:" ? ":memory:" : join(dataDir, "parley.db"));
  try {
    await db.migrate(MIGRATIONS, "main database");
  } catch (err) {
    await db.close();
    throw err;
  }
  return { accounts: new SqliteAccounts(db), close: () => db.close() };
}

// In-memory storage: fast module tests, and the reference the SQLite store is
// checked against by the shared storage test suite.

import type { Credentials } from "../../c2s/sasl/credentials.js";
import { AccountExistsError, type AccountRecord, type AccountStore, type Storage } from "../types.js";

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

export function createMemoryStorage(): Storage {
  return { accounts: new MemoryAccounts(), close: async () => {} };
}

// Feature-shaped storage interfaces. Nothing outside src/storage/ writes SQL;
// a PostgreSQL backend implements these same interfaces later.

import type { Credentials } from "../c2s/sasl/credentials.js";

export interface AccountRecord {
  domain: string;
  local: string;
  credentials: Credentials;
  createdAt: number;
}

export class AccountExistsError extends Error {
  constructor(readonly jid: string) {
    super(`account ${jid} already exists`);
  }
}

export interface AccountStore {
  /** Throws AccountExistsError when the account is already there. */
  create(domain: string, local: string, credentials: Credentials): Promise<void>;
  get(domain: string, local: string): Promise<AccountRecord | null>;
  /** False when there is no such account. */
  setCredentials(domain: string, local: string, credentials: Credentials): Promise<boolean>;
  /** False when there is no such account. */
  delete(domain: string, local: string): Promise<boolean>;
  list(domain?: string): Promise<{ domain: string; local: string }[]>;
}

export interface Storage {
  accounts: AccountStore;
  close(): Promise<void>;
}

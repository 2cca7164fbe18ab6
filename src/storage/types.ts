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

/** RFC 6121 2.1.2.5: the subscription state of a roster item. */
export type Subscription = "none" | "to" | "from" | "both";

/** One roster item (RFC 6121 2.1.2), keyed by account and contact bare JIDs. */
export interface RosterItem {
  /** The contact's bare JID. */
  jid: string;
  name: string | null;
  groups: string[];
  subscription: Subscription;
  /** Pending out (RFC 6121 3.1.2): the account asked to see the contact's presence. */
  ask: boolean;
  /** Pre-approved (RFC 6121 3.4): a subscribe from the contact is approved at once. */
  approved: boolean;
}

/**
 * Atomic change of one roster item: gets the current item (null when absent)
 * and returns the new one, null to remove it, or undefined for no change.
 */
export type RosterUpdate = (current: RosterItem | null) => RosterItem | null | undefined;

export interface RosterChange {
  before: RosterItem | null;
  after: RosterItem | null;
  /** The roster version after the change (unchanged when nothing changed). */
  version: number;
}

/** An inbound subscription request the account has not answered (pending in, RFC 6121 3.1.3). */
export interface PendingSubscription {
  contact: string;
  /** The subscribe stanza as received, redelivered until answered. */
  stanza: string;
}

export interface RosterStore {
  /** Removes the account's roster, version and pending requests (account deletion). */
  forget(account: string): Promise<void>;
  /** All items of an account and the roster version (RFC 6121 2.6); version 0 for an empty history. */
  get(account: string): Promise<{ version: number; items: RosterItem[] }>;
  item(account: string, contact: string): Promise<RosterItem | null>;
  count(account: string): Promise<number>;
  /** Applies fn atomically; every change that is made bumps the account's roster version by one. */
  update(account: string, contact: string, fn: RosterUpdate): Promise<RosterChange>;
  /** Pending-in requests live beside the roster: they can exist without a roster item (RFC 6121 3.1.3). */
  addPending(account: string, contact: string, stanza: string): Promise<void>;
  /** False when there was none. */
  removePending(account: string, contact: string): Promise<boolean>;
  hasPending(account: string, contact: string): Promise<boolean>;
  pending(account: string): Promise<PendingSubscription[]>;
}

/** A message kept for an account with no available resource (XEP-0160). */
export interface OfflineMessage {
  /** The stanza as received, serialised. */
  stanza: string;
  /** When it was stored, ms since the epoch. */
  storedAt: number;
}

export interface OfflineStore {
  /** Removes every message stored for the account (account deletion). */
  forget(account: string): Promise<void>;
  /** Stores the message unless the account already holds `limit` messages; false when full. */
  store(account: string, stanza: string, storedAt: number, limit: number): Promise<boolean>;
  count(account: string): Promise<number>;
  /** Removes and returns all messages of the account, oldest first, atomically. */
  take(account: string): Promise<OfflineMessage[]>;
}

export interface Storage {
  accounts: AccountStore;
  roster: RosterStore;
  offline: OfflineStore;
  close(): Promise<void>;
}

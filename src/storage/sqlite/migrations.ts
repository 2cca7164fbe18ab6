// Schema of the main database (data_dir/parley.db). Append, never edit.

import type { Migration } from "./db.js";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE accounts (
        domain TEXT NOT NULL,
        local TEXT NOT NULL,
        credentials TEXT NOT NULL, -- JSON: salted, iterated SCRAM keys; never a password
        created_at INTEGER NOT NULL,
        PRIMARY KEY (domain, local)
      ) WITHOUT ROWID;
    `,
  },
  {
    // RFC 6121 rosters with a version per account (2.6), pending inbound
    // subscription requests (3.1.3), and XEP-0160 offline messages.
    version: 2,
    sql: `
      CREATE TABLE roster_items (
        account TEXT NOT NULL, -- bare JID
        contact TEXT NOT NULL, -- bare JID
        name TEXT,
        groups TEXT NOT NULL, -- JSON array of strings
        subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
        ask INTEGER NOT NULL,
        approved INTEGER NOT NULL,
        PRIMARY KEY (account, contact)
      ) WITHOUT ROWID;
      CREATE TABLE roster_versions (
        account TEXT PRIMARY KEY,
        version INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE roster_pending_in (
        account TEXT NOT NULL,
        contact TEXT NOT NULL,
        stanza TEXT NOT NULL,
        PRIMARY KEY (account, contact)
      ) WITHOUT ROWID;
      CREATE TABLE offline_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        account TEXT NOT NULL,
        stanza TEXT NOT NULL,
        stored_at INTEGER NOT NULL
      );
      CREATE INDEX offline_messages_account ON offline_messages (account, id);
    `,
  },
];

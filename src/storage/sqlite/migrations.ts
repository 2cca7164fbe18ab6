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
];

// A small promise wrapper over one sqlite3 connection: WAL journal with
// synchronous=FULL (committed means durable), schema versions in
// PRAGMA user_version, a backup copy before any migration.

import { copyFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import sqlite3 from "sqlite3";

export type SqlParam = string | number | bigint | Buffer | null;

export interface Migration {
  version: number;
  sql: string;
}

export class SchemaTooNewError extends Error {}

export class SqliteDb {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: sqlite3.Database,
    readonly path: string,
  ) {}

  static async open(path: string, mode = 0o600): Promise<SqliteDb> {
    if (path !== ":memory:") await mkdir(dirname(path), { recursive: true });
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle = new sqlite3.Database(path, (err) => (err ? reject(err) : resolve(handle)));
    });
    const wrapped = new SqliteDb(db, path);
    await wrapped.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    if (path !== ":memory:") {
      const { chmod } = await import("node:fs/promises");
      await chmod(path, mode);
    }
    return wrapped;
  }

  run(sql: string, params: SqlParam[] = []): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.db.run(sql, params, function (err) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  private readonly statements = new Map<string, Promise<sqlite3.Statement>>();

  /** The statement for `sql`, prepared on first use and kept until close(). Only for fixed SQL texts. */
  private prepared(sql: string): Promise<sqlite3.Statement> {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = new Promise((resolve, reject) => {
        const statement = this.db.prepare(sql, (err) => (err ? reject(err) : resolve(statement)));
      });
      this.statements.set(sql, prepared);
      prepared.catch(() => this.statements.delete(sql)); // not kept: the next call prepares again
    }
    return prepared;
  }

  /**
   * Like run(), but the statement is prepared once and kept: for SQL run over
   * and over (the audit writer's inserts), so SQLite does not parse it each time.
   */
  async runPrepared(sql: string, params: SqlParam[]): Promise<{ changes: number; lastID: number }> {
    const statement = await this.prepared(sql);
    return new Promise((resolve, reject) => {
      statement.run(params, function (err) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  /**
   * Like all(), with a kept statement: one trip to the worker thread instead of
   * three (prepare, step, finalize). For the queries of every login.
   */
  async allPrepared<T>(sql: string, params: SqlParam[]): Promise<T[]> {
    const statement = await this.prepared(sql);
    return new Promise((resolve, reject) => {
      statement.all(params, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    });
  }

  /**
   * The first row, with a kept statement. Through all(), not Statement.get():
   * get() leaves the statement on its row, which would hold the connection's
   * read snapshot (and delay autocommit) until the statement's next use.
   */
  async getPrepared<T>(sql: string, params: SqlParam[]): Promise<T | undefined> {
    return (await this.allPrepared<T>(sql, params))[0];
  }

  get<T>(sql: string, params: SqlParam[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.db.get(sql, params, (err, row) => (err ? reject(err) : resolve(row as T | undefined)));
    });
  }

  all<T>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[])));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Runs fn when no transaction of this connection is open (they are queued
   * here), without BEGIN/COMMIT: for a single statement, atomic on its own,
   * that must not become part of another caller's transaction.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Runs fn inside BEGIN/COMMIT; transactions are queued so they never interleave. */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      await this.exec("BEGIN IMMEDIATE");
      try {
        const result = await fn();
        await this.exec("COMMIT");
        return result;
      } catch (err) {
        await this.exec("ROLLBACK");
        throw err;
      }
    });
  }

  /**
   * Brings the schema to the newest migration. A database written by a newer
   * Parley is refused; an older one is copied to <path>.v<N>.bak first.
   */
  async migrate(migrations: readonly Migration[], what: string): Promise<void> {
    const target = migrations.reduce((max, m) => Math.max(max, m.version), 0);
    const row = await this.get<{ user_version: number }>("PRAGMA user_version");
    const current = row?.user_version ?? 0;
    if (current > target) {
      throw new SchemaTooNewError(
        `${this.path}: ${what} schema version ${current} is newer than this Parley supports (${target}); upgrade Parley or restore a backup`,
      );
    }
    if (current === target) return;
    if (current > 0 && this.path !== ":memory:") {
      await this.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      await copyFile(this.path, `${this.path}.v${current}.bak`);
    }
    for (const m of migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version)) {
      await this.transaction(async () => {
        await this.exec(m.sql);
        await this.exec(`PRAGMA user_version = ${m.version}`);
      });
    }
  }

  async close(): Promise<void> {
    for (const prepared of this.statements.values()) {
      const statement = await prepared.catch(() => null);
      if (statement) await new Promise<void>((resolve) => statement.finalize(() => resolve()));
    }
    this.statements.clear();
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}

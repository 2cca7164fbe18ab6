// WAL checkpoints off the commit path. By default SQLite checkpoints inside the
// commit that takes the WAL past 1,000 pages: that commit, and every stanza
// waiting for it, then pays for copying the pages into the database file and
// for its fsync. The server's writer connection turns that off, and a second
// connection checkpoints once a second instead, on another worker thread.
// PASSIVE never waits for the writer nor blocks it; the WAL is reused from its
// start by the first commit after a checkpoint has copied everything.

import { SqliteDb } from "../storage/sqlite/db.js";
import type { Logger } from "../core/log.js";

const INTERVAL_MS = 1000;

export class Checkpointer {
  private running: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly db: SqliteDb,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.tick(), INTERVAL_MS);
    this.timer.unref();
  }

  /** `writer` is the connection that commits records: it stops checkpointing itself. */
  static async start(file: string, writer: SqliteDb, log: Logger): Promise<Checkpointer> {
    const db = await SqliteDb.open(file);
    await db.exec("PRAGMA busy_timeout = 10000");
    await writer.exec("PRAGMA wal_autocheckpoint = 0");
    return new Checkpointer(db, log);
  }

  private tick(): void {
    this.running ??= this.db
      .get("PRAGMA wal_checkpoint(PASSIVE)")
      .then(
        () => undefined,
        (err: unknown) => this.log.warn("audit checkpoint failed; the WAL grows until one succeeds", { error: (err as Error).message }),
      )
      .finally(() => (this.running = null));
  }

  /** Stops; the writer's connection, closed last, then checkpoints what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.db.close();
  }
}

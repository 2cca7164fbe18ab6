// WAL checkpoints off the commit path. By default SQLite checkpoints inside the
// commit that takes the WAL past 1,000 pages: that commit, and every stanza
// waiting for it, then pays for copying the pages into the database file and
// for its fsync. The server's writer connection turns that off, and a second
// connection checkpoints once a second instead, on another worker thread.
// PASSIVE never waits for the writer nor blocks it; the WAL is reused from its
// start by the first commit after a checkpoint has copied everything.
//
// Under continuous writes that first commit never comes: a checkpoint ends
// behind the commits made while it copied, and the WAL grew to 480-850 MB in
// 20 s of saturation (and kept that size on disk). So past a limit the
// checkpointer copies until little is left, then holds the writer for the
// rest (RESTART): the next commit starts the WAL over from its beginning. A
// stall of a few milliseconds, paid only under sustained load, instead of a
// WAL that grows until the disk is full. The file is reused, not truncated
// (truncating tens of MB would lengthen the stall): it keeps its largest size,
// about the limit plus one interval's writes.

import { SqliteDb } from "../storage/sqlite/db.js";
import type { Logger } from "../core/log.js";

export interface CheckpointOptions {
  intervalMs: number;
  /** Past this many frames in the WAL, it is made to start over. */
  walLimitFrames: number;
  /** Frames a copy may leave behind before the writer is held for the rest. */
  catchUpFrames: number;
}

/** A second's checkpoints; 16,384 frames of 4 KiB pages: 64 MiB of WAL, plus a second's growth. */
export const DEFAULT_CHECKPOINTS: CheckpointOptions = { intervalMs: 1000, walLimitFrames: 16_384, catchUpFrames: 256 };

/** Copying passes before the writer is held anyway: each copies what the one before let pass. */
const MAX_PASSES = 8;

/** What PRAGMA wal_checkpoint reports: whether it was stopped short, frames in the WAL, frames copied. */
interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

export class Checkpointer {
  private running: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;
  /** The last warning about a WAL that could not start over, to say it once a minute at most. */
  private warnedAt = 0;

  private constructor(
    private readonly db: SqliteDb,
    private readonly writer: SqliteDb,
    private readonly log: Logger,
    private readonly opts: CheckpointOptions,
  ) {
    this.timer = setInterval(() => this.tick(), opts.intervalMs);
    this.timer.unref();
  }

  /** `writer` is the connection that commits records: it stops checkpointing itself. */
  static async start(file: string, writer: SqliteDb, log: Logger, opts = DEFAULT_CHECKPOINTS): Promise<Checkpointer> {
    const db = await SqliteDb.open(file);
    // Never waits: PASSIVE calls no busy handler anyway, and the RESTART below runs
    // while the writer is held, so a reader on an old snapshot must not hold it longer.
    await db.exec("PRAGMA busy_timeout = 0");
    await writer.exec("PRAGMA wal_autocheckpoint = 0");
    return new Checkpointer(db, writer, log, opts);
  }

  private tick(): void {
    this.running ??= this.checkpoint()
      .catch((err: unknown) => this.log.warn("audit checkpoint failed; the WAL grows until one succeeds", { error: (err as Error).message }))
      .finally(() => (this.running = null));
  }

  private async checkpoint(): Promise<void> {
    let result = await this.run("PASSIVE");
    // Even when all is copied, a commit that began meanwhile keeps appending:
    // only holding the writer makes sure the next one starts the WAL over.
    if (result.log <= this.opts.walLimitFrames) return;
    for (let pass = 1; pass < MAX_PASSES && result.log - result.checkpointed > this.opts.catchUpFrames; pass++) {
      result = await this.run("PASSIVE");
    }
    // The writer's connection runs its statements one at a time (exclusive): queued
    // there, this runs between two commits, and the next waits until it is done.
    const restarted = await this.writer.exclusive(() => this.run("RESTART"));
    if (restarted.busy && Date.now() - this.warnedAt > 60_000) {
      this.warnedAt = Date.now();
      this.log.warn("the audit WAL could not be started over: a reader (an export or search?) still uses it", {
        frames: restarted.log,
      });
    }
  }

  /** RESTART copies the rest, so that the next commit starts the WAL over; busy at once if a reader holds it. */
  private async run(mode: "PASSIVE" | "RESTART"): Promise<CheckpointResult> {
    const row = await this.db.get<CheckpointResult>(`PRAGMA wal_checkpoint(${mode})`);
    return row ?? { busy: 0, log: 0, checkpointed: 0 };
  }

  /** Stops; the writer's connection, closed last, then checkpoints what is left. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.db.close();
  }
}

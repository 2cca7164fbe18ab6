// One logger for the whole server, with a child per component, module and
// session. Lines go to stdout, one per event, readable under journald
// (which adds its own timestamps, so we only add ours when stdout is a TTY).

import type { LogLevel } from "../config/types.js";

const LEVELS: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  trace(msg: string, fields?: LogFields): void;
  enabled(level: LogLevel): boolean;
  child(name: string): Logger;
}

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface LogSink {
  level: LogLevel;
  write(line: string): void;
}

/** Shared by every child, so a SIGHUP can change the level everywhere at once. */
export function createSink(level: LogLevel, write?: (line: string) => void): LogSink {
  const stamp = process.stdout.isTTY;
  return {
    level,
    write:
      write ??
      ((line) =>
        process.stdout.write(stamp ? `${new Date().toISOString()} ${line}\n` : `${line}\n`)),
  };
}

function formatValue(v: LogFields[string]): string {
  const s = String(v);
  return /^[^\s"=]*$/.test(s) && s !== "" ? s : JSON.stringify(s);
}

/**
 * A class, not an object of closures: every session has a child logger, and
 * seven closures with their contexts cost about 700 bytes per session where an
 * instance with two fields costs about 40.
 */
class SinkLogger implements Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly name: string,
  ) {}

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] > LEVELS[this.sink.level]) return;
    let line = `${level.padEnd(5)} ${this.name}: ${msg}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields))
        if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
    }
    this.sink.write(line);
  }

  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  trace(msg: string, fields?: LogFields): void {
    this.log("trace", msg, fields);
  }
  enabled(level: LogLevel): boolean {
    return LEVELS[level] <= LEVELS[this.sink.level];
  }
  child(name: string): Logger {
    return new SinkLogger(this.sink, `${this.name}.${name}`);
  }
}

export function createLogger(sink: LogSink, name = "parley"): Logger {
  return new SinkLogger(sink, name);
}

/** For tests and tools that want silence. */
export const nullLogger: Logger = createLogger({ level: "error", write: () => {} });

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
      ((line) => process.stdout.write(stamp ? `${new Date().toISOString()} ${line}\n` : `${line}\n`)),
  };
}

function formatValue(v: LogFields[string]): string {
  const s = String(v);
  return /^[^\s"=]*$/.test(s) && s !== "" ? s : JSON.stringify(s);
}

export function createLogger(sink: LogSink, name = "parley"): Logger {
  const log =
    (level: LogLevel) =>
    (msg: string, fields?: LogFields): void => {
      if (LEVELS[level] > LEVELS[sink.level]) return;
      let line = `${level.padEnd(5)} ${name}: ${msg}`;
      if (fields) {
        for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
      }
      sink.write(line);
    };
  return {
    error: log("error"),
    warn: log("warn"),
    info: log("info"),
    debug: log("debug"),
    trace: log("trace"),
    enabled: (level) => LEVELS[level] <= LEVELS[sink.level],
    child: (child) => createLogger(sink, `${name}.${child}`),
  };
}

/** For tests and tools that want silence. */
export const nullLogger: Logger = createLogger({ level: "error", write: () => {} });

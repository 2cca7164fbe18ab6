// Process figures from /proc (Linux): CPU seconds (all threads) and RSS.

import { readdirSync, readFileSync } from "node:fs";

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of the whole process (every thread), in seconds; null if gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields after the command: state(3) ... utime(14) stime(15), counted from 1
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return null;
  }
}

/** Resident set size in bytes; null if gone. */
export function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU of this process (every thread), in seconds. */
export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds per thread name (comm), e.g. node's main thread vs its libuv pool. */
export function threadCpu(pid) {
  const out = {};
  let tids = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const comm = String(tid) === String(pid) ? `${name} (main thread)` : name;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out[comm] = (out[comm] ?? 0) + (Number(f[11]) + Number(f[12])) / TICKS;
    } catch {
      // the thread ended
    }
  }
  return out;
}

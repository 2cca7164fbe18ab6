// The load generator: one scenario against one running server, result as one
// JSON line on stdout. run.mjs starts it pinned to its own core; it reads the
// server's CPU and memory from /proc itself, at the edges of its measurement
// windows, and reports its own CPU so that readers can see it is not the limit.
//
// Usage: node gen.mjs '{"scenario":"messages","port":5222,"serverPid":123,...}'

import { Client, now } from "./lib/client.mjs";
import { cpuSeconds, rssBytes, selfCpuSeconds, threadCpu } from "./lib/proc.mjs";
import { DOMAIN, PASSWORD, presenceName, ringContacts, userName } from "./servers/common.mjs";

const opts = JSON.parse(process.argv[2] ?? "{}");
const PORT = opts.port;
const PID = opts.serverPid;
const SOURCES = opts.sources ?? 8; // 127.0.0.1 .. 127.0.0.N: spreads ephemeral ports

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => process.stderr.write(`[gen ${opts.scenario}] ${a.join(" ")}\n`);

let sourceIdx = 0;
function client(user, resource) {
  return new Client({
    host: "127.0.0.1",
    port: PORT,
    domain: DOMAIN,
    user,
    password: PASSWORD,
    resource,
    localAddress: `127.0.0.${1 + (sourceIdx++ % SOURCES)}`,
    timeoutMs: opts.loginTimeoutMs ?? 60000,
  });
}

function percentiles(values) {
  if (!values.length) return null;
  const a = Float64Array.from(values).sort();
  const p = (q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];
  const r = (x) => Math.round(x * 100) / 100;
  return { n: a.length, p50: r(p(0.5)), p90: r(p(0.9)), p99: r(p(0.99)), p999: r(p(0.999)), max: r(a[a.length - 1]) };
}

/** Measures server CPU, generator CPU and wall time over a window. */
function meter() {
  const t0 = now();
  const s0 = cpuSeconds(PID);
  const g0 = selfCpuSeconds();
  const th0 = threadCpu(PID);
  return () => {
    const wall = (now() - t0) / 1000;
    const th1 = threadCpu(PID);
    const threads = {};
    for (const [k, v] of Object.entries(th1)) {
      const pct = Math.round(((v - (th0[k] ?? 0)) / wall) * 1000) / 10;
      if (pct >= 1) threads[k] = pct;
    }
    return {
      threads,
      wall,
      serverCpu: cpuSeconds(PID) - s0,
      serverCpuPct: Math.round(((cpuSeconds(PID) - s0) / wall) * 1000) / 10,
      genCpuPct: Math.round(((selfCpuSeconds() - g0) / wall) * 1000) / 10,
    };
  };
}

/** Logs in many clients with at most `concurrency` handshakes in flight. */
async function loginAll(clients, concurrency, loginOpts) {
  let next = 0;
  const errors = [];
  const worker = async () => {
    while (next < clients.length) {
      const i = next++;
      try {
        await clients[i].login(loginOpts);
      } catch (e) {
        // One retry on a fresh connection; the first error is still reported.
        errors.push(e.message);
        clients[i].destroy();
        clients[i] = clients[i].fresh();
        try {
          await clients[i].login(loginOpts);
        } catch (e2) {
          errors.push(`retry: ${e2.message}`);
          clients[i].destroy();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker));
  return errors;
}

// ---------------------------------------------------------------- logins
async function logins() {
  const concurrency = opts.concurrency ?? 50;
  const warmup = opts.warmupSeconds ?? 3;
  const duration = opts.seconds ?? 20;
  const pool = opts.users ?? 10000;
  let idx = 0;
  let done = 0;
  const errors = [];
  const latencies = [];
  const start = now();
  const measureFrom = start + warmup * 1000;
  const end = measureFrom + duration * 1000;
  let m = null;
  setTimeout(() => (m = meter()), warmup * 1000);
  const worker = async () => {
    while (now() < end) {
      const c = client(userName(idx++ % pool), `login${idx}`);
      const t = now();
      try {
        await c.login({});
        const t1 = now();
        if (t >= measureFrom && t1 <= end) {
          done++;
          latencies.push(t1 - t);
        }
      } catch (e) {
        errors.push(e.message);
      }
      c.close();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const w = m();
  return {
    concurrency,
    seconds: duration,
    logins: done,
    loginsPerSec: Math.round((done / duration) * 10) / 10,
    latencyMs: percentiles(latencies),
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 3),
    serverCpuPct: w.serverCpuPct,
    serverThreadsPct: w.threads,
    genCpuPct: w.genCpuPct,
    serverCpuMsPerLogin: done ? Math.round((w.serverCpu / done) * 1e5) / 100 : null,
  };
}

// ---------------------------------------------------------------- messages
/**
 * Pairs of online users; each user sends to its partner (both directions).
 * Every message carries BM:<direction>:<seq>:<time>: in its body; receivers
 * find the markers with indexOf and check exactly-once per direction.
 */
async function messages() {
  const pairs = opts.pairs ?? 100;
  const window = opts.window ?? 5;
  const satSeconds = opts.seconds ?? 20;
  const warmup = opts.warmupSeconds ?? 3;
  const rate = opts.rate ?? 250;
  const rateSeconds = opts.rateSeconds ?? 20;
  const clients = [];
  for (let i = 0; i < 2 * pairs; i++) clients.push(client(userName(i), `msg${i}`));
  const loginErrors = await loginAll(clients, opts.concurrency ?? 50, {});
  const failed = clients.filter((c) => !c.fullJid || c.closed).length;
  if (failed) throw new Error(`messages: ${failed} logins failed: ${loginErrors[0]}`);

  // Directions: d = 2p is client 2p -> 2p+1, d = 2p+1 is 2p+1 -> 2p.
  const D = 2 * pairs;
  const dirs = Array.from({ length: D }, (_, d) => {
    const from = clients[d];
    const to = clients[d ^ 1];
    return { from, to, prefix: `<message to='${to.fullJid}' type='chat'><body>BM:${d}:`, sent: 0, expected: 0, gaps: new Set(), dup: 0, unique: 0, inflight: 0 };
  });

  // Coalesced writes: one socket write per client per turn of the event loop.
  const dirty = new Set();
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    for (const c of dirty) {
      c.socket.write(c.obuf);
      c.obuf = "";
    }
    dirty.clear();
  };
  const sendMsg = (d, t) => {
    const dir = dirs[d];
    const c = dir.from;
    c.obuf = (c.obuf ?? "") + `${dir.prefix}${dir.sent++}:${t.toFixed(2)}:</body></message>`;
    dir.inflight++;
    dirty.add(c);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };

  let phase = "idle"; // "sat" | "rate" | "drain"
  let satLat = [];
  let rateLat = [];
  let satCount = 0;
  let satFrom = Infinity;
  let satTo = Infinity;
  let misrouted = 0;
  let errorsSeen = 0;

  const onMessage = (me, d, seq, t) => {
    const dir = dirs[d];
    if (!dir || dir.to !== me) {
      misrouted++;
      return;
    }
    if (seq === dir.expected) dir.expected++;
    else if (seq > dir.expected) {
      for (let s = dir.expected; s < seq; s++) dir.gaps.add(s);
      dir.expected = seq + 1;
    } else if (dir.gaps.has(seq)) dir.gaps.delete(seq);
    else {
      dir.dup++;
      return;
    }
    dir.unique++;
    dir.inflight--;
    const tr = now();
    if (phase === "sat") {
      if (tr >= satFrom && tr < satTo) {
        satCount++;
        satLat.push(tr - t);
      }
      if (tr < satTo) sendMsg(d, tr); // closed loop: keep `window` in flight per direction
    } else if (phase === "rate") rateLat.push(tr - t);
  };

  for (const c of clients) {
    let buf = "";
    c.stream((chunk) => {
      buf += chunk;
      if (chunk.includes("type='error'") || chunk.includes('type="error"')) errorsSeen++;
      let pos = 0;
      for (;;) {
        const i = buf.indexOf("BM:", pos);
        if (i < 0) {
          buf = buf.length - pos > 2 ? buf.slice(buf.length - 2) : buf.slice(pos);
          break;
        }
        const e = buf.indexOf(":<", i + 3);
        if (e < 0) {
          buf = buf.slice(i);
          break;
        }
        const f = buf.slice(i + 3, e).split(":");
        onMessage(c, Number(f[0]), Number(f[1]), Number(f[2]));
        pos = e + 2;
      }
    });
  }

  const drain = async (maxMs) => {
    const until = now() + maxMs;
    while (now() < until && dirs.some((d) => d.inflight > 0)) await sleep(50);
  };
  const tally = () => {
    let sent = 0, unique = 0, dup = 0, missing = 0;
    for (const d of dirs) {
      sent += d.sent;
      unique += d.unique;
      dup += d.dup;
      missing += d.sent - d.unique;
    }
    return { sent, unique, duplicates: dup, missing, misrouted, errorStanzas: errorsSeen };
  };

  // Phase 1: saturation, closed loop.
  phase = "sat";
  const t0 = now();
  satFrom = t0 + warmup * 1000;
  satTo = satFrom + satSeconds * 1000;
  for (let d = 0; d < D; d++) for (let k = 0; k < window; k++) sendMsg(d, now());
  await sleep(warmup * 1000);
  const m1 = meter();
  await sleep(satSeconds * 1000);
  const w1 = m1();
  phase = "drain";
  await drain(15000);
  const satCheck = tally();

  // Phase 2: fixed rate, open loop; latency from the scheduled send time.
  await sleep(1000);
  phase = "rate";
  const total = Math.round(rate * rateSeconds);
  const interval = 1000 / rate;
  const r0 = now() + 50;
  let n = 0;
  const m2 = meter();
  await new Promise((resolve) => {
    const tick = () => {
      const tn = now();
      while (n < total && r0 + n * interval <= tn) {
        sendMsg(n % D, r0 + n * interval);
        n++;
      }
      if (n < total) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 50);
  });
  await drain(30000);
  const w2 = m2();
  const check = tally();
  for (const c of clients) c.close();
  await sleep(500);
  const satMsgs = satCount;
  return {
    pairs,
    window,
    saturation: {
      seconds: satSeconds,
      delivered: satMsgs,
      msgsPerSec: Math.round(satMsgs / satSeconds),
      serverCpuPct: w1.serverCpuPct,
      serverThreadsPct: w1.threads,
      serverCpuUsPerMsg: satMsgs ? Math.round((w1.serverCpu / satMsgs) * 1e7) / 10 : null,
      genCpuPct: w1.genCpuPct,
      latencyMs: percentiles(satLat),
      check: satCheck,
    },
    fixedRate: {
      rate,
      seconds: rateSeconds,
      sent: total,
      latencyMs: percentiles(rateLat),
      serverCpuPct: w2.serverCpuPct,
      genCpuPct: w2.genCpuPct,
    },
    check,
    exactlyOnce: check.missing === 0 && check.duplicates === 0 && check.misrouted === 0,
  };
}

// ---------------------------------------------------------------- idle
async function idle() {
  const n = opts.sessions ?? 10000;
  const hold = opts.holdSeconds ?? 10;
  const rssBefore = rssBytes(PID);
  const genRssBefore = process.memoryUsage().rss;
  const clients = [];
  for (let i = 0; i < n; i++) clients.push(client(userName(i), `idle${i}`));
  const t0 = now();
  const m = meter();
  const errors = await loginAll(clients, opts.concurrency ?? 100, {});
  const loginWall = (now() - t0) / 1000;
  const w = m();
  const ok = clients.filter((c) => c.fullJid && !c.closed).length;
  log(`${ok} sessions up in ${loginWall.toFixed(1)} s; holding ${hold} s`);
  await sleep(hold * 1000);
  const rssAfter = rssBytes(PID);
  const open = clients.filter((c) => !c.closed && c.fullJid).length;
  const genRss = process.memoryUsage().rss;
  for (const c of clients) c.destroy();
  await sleep(2000);
  return {
    sessions: n,
    established: ok,
    stillOpen: open,
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 3),
    loginSeconds: Math.round(loginWall * 10) / 10,
    loginsPerSec: Math.round(ok / loginWall),
    serverCpuPct: w.serverCpuPct,
    genCpuPct: w.genCpuPct,
    rssBeforeMB: Math.round(rssBefore / 1048576),
    rssAfterMB: Math.round(rssAfter / 1048576),
    kbPerSession: open ? Math.round(((rssAfter - rssBefore) / open / 1024) * 10) / 10 : null,
    genKbPerSession: open ? Math.round((genRss - genRssBefore) / open / 1024) : null,
  };
}

// ---------------------------------------------------------------- presence
async function presence() {
  const m = opts.presenceUsers ?? 1000;
  const contacts = opts.contacts ?? 50;
  const timeout = (opts.timeoutSeconds ?? 180) * 1000;
  const clients = [];
  const want = [];
  for (let i = 0; i < m; i++) {
    clients.push(client(presenceName(i), "pres"));
    want.push(new Set(ringContacts(i, m, contacts).map((j) => `${presenceName(j)}@${DOMAIN}`)));
  }
  let complete = 0;
  let lastComplete = 0;
  let stanzas = 0;
  const t0 = now();
  const mt = meter();
  let resolveAll;
  const allSeen = new Promise((r) => (resolveAll = r));
  const loginTimes = [];
  const errors = [];
  let next = 0;
  const attach = (i) => {
    const c = clients[i];
    const seen = new Set();
    let buf = "";
    c.stream((chunk) => {
      buf += chunk;
      let pos = 0;
      for (;;) {
        const s = buf.indexOf("<presence", pos);
        if (s < 0) {
          buf = buf.slice(Math.max(pos, buf.length - 9));
          break;
        }
        const gt = buf.indexOf(">", s);
        if (gt < 0) {
          buf = buf.slice(s);
          break;
        }
        const tag = buf.slice(s, gt);
        pos = gt + 1;
        stanzas++;
        if (tag.includes("type=")) {
          const t = /type=['"]([a-z]+)/.exec(tag)?.[1];
          if (t && t !== "available") continue;
        }
        const f = /from=['"]([^'"/]+)/.exec(tag)?.[1];
        if (f && want[i].has(f) && !seen.has(f)) {
          seen.add(f);
          if (seen.size === want[i].size) {
            complete++;
            lastComplete = now();
            if (complete === m) resolveAll();
          }
        }
      }
    });
  };
  const worker = async () => {
    while (next < m) {
      const i = next++;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          await clients[i].login({ roster: true, presence: true, waitPresence: false });
          loginTimes.push(now() - t0);
          attach(i);
          break;
        } catch (e) {
          errors.push(e.message);
          clients[i].destroy();
          clients[i] = clients[i].fresh();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 250, m) }, worker));
  const allLoggedIn = (now() - t0) / 1000;
  const timedOut = await Promise.race([allSeen.then(() => false), sleep(timeout).then(() => true)]);
  const w = mt();
  for (const c of clients) c.close();
  await sleep(1000);
  return {
    users: m,
    contacts,
    allLoggedInSeconds: Math.round(allLoggedIn * 100) / 100,
    allSeenSeconds: timedOut ? null : Math.round(((lastComplete - t0) / 1000) * 100) / 100,
    usersComplete: complete,
    presenceStanzas: stanzas,
    errors: errors.length,
    firstErrors: [...new Set(errors)].slice(0, 3),
    serverCpuPct: w.serverCpuPct,
    genCpuPct: w.genCpuPct,
  };
}

const scenarios = { logins, messages, idle, presence };
const fn = scenarios[opts.scenario];
if (!fn) {
  console.error(`unknown scenario ${opts.scenario}`);
  process.exit(2);
}
try {
  const result = await fn();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
} catch (e) {
  process.stdout.write(JSON.stringify({ error: e.message }) + "\n");
  process.exit(1);
}

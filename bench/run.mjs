#!/usr/bin/env node
// Parley vs Prosody vs ejabberd, one after the other, configured alike.
// Each scenario gets a freshly started server pinned to one core (taskset) and
// the load generator (gen.mjs) pinned to the other. See bench/README.md.
//
//   npm run bench
//   npm run bench -- --scenario messages --servers parley,prosody
//   npm run bench -- --quick

import net from "node:net";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { topFunctions } from "./lib/profile.mjs";
import { FD_LIMIT, sh, spawnPinned, stopChild } from "./lib/spawn.mjs";
import { Client } from "./lib/client.mjs";
import { DOMAIN, PASSWORD, certificate, userName } from "./servers/common.mjs";
import { ejabberd } from "./servers/ejabberd.mjs";
import { parley } from "./servers/parley.mjs";
import { prosody } from "./servers/prosody.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const ALL_SCENARIOS = ["logins", "messages", "idle", "presence", "audit"];

function parseArgs(argv) {
  const a = { scenario: ALL_SCENARIOS.join(","), servers: "parley,prosody,ejabberd" };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith("--")) throw new Error(`unexpected argument ${k}`);
    const key = k.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) a[key] = true;
    else {
      a[key] = /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
      i++;
    }
  }
  return a;
}

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  console.log(`npm run bench -- [options]
  --scenario LIST     ${ALL_SCENARIOS.join(",")} (default: all)
  --servers LIST      parley,prosody,ejabberd (default: all installed)
  --quick             small sizes, for a smoke test (about 1 minute per server)
  --parley-root DIR   the Parley checkout to run (default: this repository; needs dist/, npm run build)
  --dir DIR           working directory for configs and data (default: a new /tmp/parley-bench-*)
  --ejabberd-mam X    mnesia (default) or sql: where ejabberd's mod_mam archives
  --profile           Parley runs with node --cpu-prof; prints its top functions by self time
  --server-cpu N      core for the server (default 1); --gen-cpu N core for the generator (default 0)
  sizes: --concurrency --login-seconds --pairs --window --seconds --rate --rate-seconds
         --sessions --hold-seconds --presence-users --contacts`);
  process.exit(0);
}

const quick = !!args.quick;
const size = {
  users: args.sessions ?? (quick ? 1000 : 10000),
  sessions: args.sessions ?? (quick ? 1000 : 10000),
  presenceUsers: args.presenceUsers ?? (quick ? 200 : 1000),
  contacts: args.contacts ?? 50,
  pairs: args.pairs ?? 100,
  window: args.window ?? 5,
  seconds: args.seconds ?? (quick ? 5 : 20),
  rate: args.rate ?? 250,
  rateSeconds: args.rateSeconds ?? (quick ? 5 : 20),
  loginConcurrency: args.concurrency ?? 50,
  loginSeconds: args.loginSeconds ?? (quick ? 5 : 20),
  holdSeconds: args.holdSeconds ?? (quick ? 3 : 10),
};
const serverCpu = String(args.serverCpu ?? 1);
const genCpu = String(args.genCpu ?? 0);
const root = resolve(args.parleyRoot ?? join(here, ".."));
const scenarios = String(args.scenario).split(",").map((s) => s.trim()).filter(Boolean);
for (const s of scenarios) if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; one of ${ALL_SCENARIOS.join(", ")}`);
const factories = { parley: () => parley({ root }), prosody, ejabberd: () => ejabberd({ mam: args.ejabberdMam ?? "mnesia" }) };
const wanted = String(args.servers).split(",").map((s) => s.trim()).filter(Boolean);
const servers = [];
for (const name of wanted) {
  if (!factories[name]) throw new Error(`unknown server ${name}`);
  const s = factories[name]();
  if (!s.available()) console.log(`# ${s.label} is not installed: skipped (apt-get install -y ${name})`);
  else servers.push(s);
}
if (servers.some((s) => s.name === "parley") && !existsSync(join(root, "dist/src/main.js"))) {
  throw new Error(`${root}/dist is missing: run npm run build first`);
}

const base = resolve(args.dir ?? join("/tmp", `parley-bench-${new Date().toISOString().replace(/[:.]/g, "-")}`));
mkdirSync(base, { recursive: true });
const cert = certificate(join(base, "cert"));
const log = (s) => console.log(`# ${new Date().toISOString().slice(11, 19)} ${s}`);

function runGenerator(params) {
  return new Promise((resolvePromise) => {
    const child = spawnPinned(genCpu, process.execPath, [join(here, "gen.mjs"), JSON.stringify(params)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", () => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolvePromise(JSON.parse(line));
      } catch {
        resolvePromise({ error: `generator printed no result: ${out.slice(-300)}` });
      }
    });
  });
}

function genParams(scenario) {
  switch (scenario) {
    case "logins":
      return { concurrency: size.loginConcurrency, seconds: size.loginSeconds, users: size.users };
    case "messages":
      return { pairs: size.pairs, window: size.window, seconds: size.seconds, rate: size.rate, rateSeconds: size.rateSeconds };
    case "idle":
      return { sessions: size.sessions, holdSeconds: size.holdSeconds, concurrency: 100 };
    case "presence":
      return { presenceUsers: size.presenceUsers, contacts: size.contacts };
  }
  return {};
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolvePort(port));
    });
  });
}

async function loginWorks(port, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const c = new Client({ host: "127.0.0.1", port, domain: DOMAIN, user: userName(0), password: PASSWORD, resource: "ready", timeoutMs: 10000 });
    try {
      await c.login({});
      c.close();
      return true;
    } catch (e) {
      last = e.message;
      c.destroy();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return last;
}

async function runScenario(server, scenario, port, startOpts = {}) {
  let srv;
  if (args.profile && server.name === "parley") {
    startOpts = { ...startOpts, profileDir: join(base, "profiles", `${scenario}${startOpts.audit === false ? "-audit-off" : ""}`) };
  }
  try {
    srv = await server.start({ cpus: serverCpu, ...startOpts });
  } catch (e) {
    return { error: `start failed: ${e.message}` };
  }
  // Ready means a login works (ejabberd accepts connections before its SQL pool is up).
  const ready = await loginWorks(port);
  if (ready !== true) {
    await stopChild(srv.child);
    return { error: `server not ready: ${ready}` };
  }
  await new Promise((r) => setTimeout(r, 1500)); // let start-up work settle
  const load0 = loadavg()[0];
  const result = await runGenerator({ scenario, port, serverPid: srv.pid, ...genParams(scenario) });
  // Other work on the machine skews the figures: the 1-minute load average, before and after.
  result.loadAvg = [Math.round(load0 * 100) / 100, Math.round(loadavg()[0] * 100) / 100];
  if (srv.child.exitCode !== null || srv.child.signalCode !== null) result.serverDied = true;
  await stopChild(srv.child);
  if (startOpts.profileDir) {
    result.profile = startOpts.profileDir;
    result.hotspots = topFunctions(startOpts.profileDir, 12);
    log(`profile of Parley (${scenario}) in ${startOpts.profileDir}; top self time:\n${result.hotspots.map((h) => `    ${h}`).join("\n")}`);
  }
  return result;
}

const results = {};
const started = Date.now();
for (const server of servers) {
  const dir = join(base, server.name);
  mkdirSync(dir, { recursive: true });
  const port = args.port ?? (await freePort()); // never a fixed port: another run may be going on
  log(`${server.label} ${server.version()}: provisioning ${size.users} accounts and ${size.presenceUsers} with ${size.contacts} contacts in ${dir}`);
  try {
    await server.prepare({ dir, port, cert, users: size.users, presenceUsers: size.presenceUsers, contacts: size.contacts });
  } catch (e) {
    log(`${server.label}: provisioning failed: ${e.message}`);
    results[server.name] = { error: e.message };
    continue;
  }
  const r = (results[server.name] = { version: server.version(), storage: server.storageNote });
  for (const scenario of scenarios) {
    if (scenario === "audit") {
      if (server.name !== "parley") continue;
      if (!r.messages) {
        log(`${server.label}: messages (audit on)`);
        r.messages = await runScenario(server, "messages", port);
      }
      log(`${server.label}: messages with audit off`);
      r.auditOff = await runScenario(server, "messages", port, { audit: false });
      if (r.logins) {
        log(`${server.label}: logins with audit off`);
        r.auditOffLogins = await runScenario(server, "logins", port, { audit: false });
      }
      continue;
    }
    log(`${server.label}: ${scenario}`);
    r[scenario] = await runScenario(server, scenario, port);
    if (r[scenario].error) log(`${server.label}: ${scenario} failed: ${r[scenario].error}`);
  }
}

// ---------------------------------------------------------------- report
const get = (o, path) => path.split(".").reduce((x, k) => (x == null ? undefined : x[k]), o);
const rows = [
  ["logins/s (concurrency " + size.loginConcurrency + ")", "logins.loginsPerSec", "high"],
  ["login latency p50 ms", "logins.latencyMs.p50", "low"],
  ["login latency p99 ms", "logins.latencyMs.p99", "low"],
  ["server CPU ms per login", "logins.serverCpuMsPerLogin", "low"],
  [`messages/s at saturation (${size.pairs} pairs)`, "messages.saturation.msgsPerSec", "high"],
  ["server CPU µs per message", "messages.saturation.serverCpuUsPerMsg", "low"],
  [`latency p50 ms at ${size.rate} msg/s`, "messages.fixedRate.latencyMs.p50", "low"],
  [`latency p99 ms at ${size.rate} msg/s`, "messages.fixedRate.latencyMs.p99", "low"],
  [`latency p99.9 ms at ${size.rate} msg/s`, "messages.fixedRate.latencyMs.p999", "low"],
  ["delivered exactly once", "messages.exactlyOnce", "bool"],
  [`KB per idle TLS session (${size.sessions})`, "idle.kbPerSession", "low"],
  ["server RSS MB with the sessions", "idle.rssAfterMB", "low"],
  [`presence: s until all seen (${size.presenceUsers} users × ${size.contacts})`, "presence.allSeenSeconds", "low"],
  ["msgs/s with audit off", "auditOff.saturation.msgsPerSec", "high"],
  ["latency p99 ms at fixed rate, audit off", "auditOff.fixedRate.latencyMs.p99", "low"],
  ["logins/s with audit off", "auditOffLogins.loginsPerSec", "high"],
];
const names = Object.keys(results);
const fmt = (v) => (v === undefined || v === null ? "–" : typeof v === "boolean" ? (v ? "yes" : "NO") : String(v));
const peers = names.filter((n) => n !== "parley");
const header = ["metric", ...names.map((n) => servers.find((s) => s.name === n)?.label ?? n), ...(names.includes("parley") ? peers.map((p) => `Parley/${servers.find((s) => s.name === p)?.label}`) : [])];
const lines = [header, header.map(() => "---")];
for (const [label, path, kind] of rows) {
  const vals = names.map((n) => get(results[n], path));
  if (vals.every((v) => v === undefined)) continue;
  const pv = get(results.parley, path);
  const ratios = names.includes("parley")
    ? peers.map((p) => {
        const v = get(results[p], path);
        return typeof pv === "number" && typeof v === "number" && v !== 0 ? `${(pv / v).toFixed(2)}×` : "–";
      })
    : [];
  lines.push([label, ...vals.map(fmt), ...ratios]);
}
const pm = get(results.parley, "messages.saturation.msgsPerSec");
const po = get(results.parley, "auditOff.saturation.msgsPerSec");
if (typeof pm === "number" && typeof po === "number" && po > 0) {
  lines.push(["audit cost (msgs/s lost with audit on)", `${(((po - pm) / po) * 100).toFixed(1)} %`, ...names.slice(1).map(() => "–"), ...peers.map(() => "")]);
}
const genMax = {};
for (const n of names) {
  const g = ["logins", "messages.saturation", "messages.fixedRate", "idle", "presence", "auditOff.saturation"].map((p) => get(results[n], `${p}.genCpuPct`)).filter((x) => typeof x === "number");
  const s = ["logins", "messages.saturation"].map((p) => get(results[n], `${p}.serverCpuPct`)).filter((x) => typeof x === "number");
  genMax[n] = g.length ? `${Math.max(...g)} % gen / ${s.length ? Math.max(...s) : "–"} % server` : "–";
}
lines.push(["CPU busiest (generator / server, % of one core)", ...names.map((n) => genMax[n]), ...peers.map(() => "")]);
const table = lines.map((l) => `| ${l.join(" | ")} |`).join("\n");

const machine = {
  cpu: sh("lscpu | sed -n 's/^Model name:[ ]*//p'") || cpus()[0]?.model,
  cores: cpus().length,
  memGiB: Math.round(totalmem() / 2 ** 30),
  kernel: sh("uname -r"),
  os: sh(". /etc/os-release && echo $PRETTY_NAME"),
  node: process.version,
  openssl: process.versions.openssl,
};
const summary = {
  date: new Date().toISOString(),
  minutes: Math.round((Date.now() - started) / 600) / 100,
  machine,
  pinning: { server: serverCpu, generator: genCpu },
  fdLimit: sh(`sh -c 'ulimit -n ${FD_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); ulimit -n'`),
  size,
  results,
  table,
};
const outDir = join(here, "results");
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `${summary.date.replace(/[:.]/g, "-")}.json`);
writeFileSync(outFile, JSON.stringify(summary, null, 2));
console.log(`\n${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}; server on core ${serverCpu}, generator on core ${genCpu}`);
for (const n of names) console.log(`${n}: ${results[n].version ?? ""} — ${results[n].storage ?? results[n].error ?? ""}`);
console.log(`\n${table}\n`);
for (const n of names) {
  for (const [k, v] of Object.entries(results[n])) {
    if (v && typeof v === "object" && (v.error || v.serverDied || v.exactlyOnce === false || v.errors)) {
      console.log(`! ${n} ${k}: ${v.error ?? ""}${v.serverDied ? " server died" : ""}${v.exactlyOnce === false ? ` delivery check ${JSON.stringify(v.check)}` : ""}${v.errors ? ` ${v.errors} errors: ${JSON.stringify(v.firstErrors)}` : ""}`);
    }
  }
}
console.log(`full results: ${outFile} (${summary.minutes} min)`);

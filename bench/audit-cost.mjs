// What the audit trail costs: N client pairs exchange messages through the
// real server, once with audit.enabled = true and once with false; prints
// messages/s for each. Run after `npm run build`:
//   node bench/audit-cost.mjs [pairs=10] [messagesPerSender=300] [commit_window_ms=2]
// Measures, asserts nothing.

import { xml } from "@xmpp/client";
import { connectClient } from "../dist/test/harness/clients.js";
import { startTestServer } from "../dist/test/harness/server.js";

const pairs = Number(process.argv[2] ?? 10);
const perSender = Number(process.argv[3] ?? 300);
const windowMs = Number(process.argv[4] ?? 2);

async function run(enabled) {
  const ts = await startTestServer({
    server: { log_level: "warn" },
    limits: { max_connections_per_address: 10_000 },
    audit: { enabled, commit_window_ms: windowMs },
  });
  const clients = [];
  try {
    for (let i = 0; i < pairs; i++) {
      await ts.addUser(`s${i}`, "pw");
      await ts.addUser(`r${i}`, "pw");
    }
    const links = [];
    for (let i = 0; i < pairs; i++) {
      const sender = await connectClient({ port: ts.starttlsPort, username: `s${i}`, password: "pw", resource: "b" });
      const receiver = await connectClient({ port: ts.starttlsPort, username: `r${i}`, password: "pw", resource: "b" });
      clients.push(sender, receiver);
      let got = 0;
      const done = new Promise((resolve) =>
        receiver.on("stanza", (s) => {
          if (s.name === "message" && s.getChild("body") && ++got === perSender) resolve();
        }),
      );
      links.push({ sender, done, to: `r${i}@localhost/b` });
    }
    const started = process.hrtime.bigint();
    await Promise.all(
      links.map(async ({ sender, to }) => {
        for (let m = 0; m < perSender; m++) await sender.send(xml("message", { to, type: "chat", id: `m${m}` }, xml("body", {}, `message ${m}`)));
      }),
    );
    await Promise.all(links.map((l) => l.done));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return (pairs * perSender) / seconds;
  } finally {
    await Promise.all(clients.map((c) => c.stop().catch(() => undefined)));
    await ts.stop();
  }
}

// Warm up once (TLS, JIT), then measure each mode.
await run(false);
const off = await run(false);
const on = await run(true);
console.log(`${pairs} pairs x ${perSender} messages, commit window ${windowMs} ms`);
console.log(`audit off: ${off.toFixed(0)} messages/s`);
console.log(`audit on:  ${on.toFixed(0)} messages/s (${((on / off) * 100).toFixed(0)}% of off)`);

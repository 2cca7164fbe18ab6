// Writes the benchmark accounts and rosters into a Parley data directory
// through Parley's own storage API (dist/), before the server starts.
// Usage: node parley-provision.mjs ROOT DATA_DIR USERS PRESENCE_USERS CONTACTS

import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { DOMAIN, ITERATIONS, PASSWORD, presenceName, ringContacts, userName } from "./common.mjs";

const [root, dataDir, n, m, contacts] = process.argv.slice(2);
const dist = (p) => pathToFileURL(join(root, "dist/src", p)).href;
const { openSqliteStorage } = await import(dist("storage/sqlite/index.js"));
const { deriveCredentials } = await import(dist("c2s/sasl/credentials.js"));

const storage = await openSqliteStorage(dataDir);
const creds = await deriveCredentials(PASSWORD, ITERATIONS); // once, reused for every account
const existing = new Set((await storage.accounts.list(DOMAIN)).map((a) => a.local));

async function inBatches(items, fn, size = 200) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const names = [];
for (let i = 0; i < Number(n); i++) names.push(userName(i));
for (let i = 0; i < Number(m); i++) names.push(presenceName(i));
await inBatches(names.filter((x) => !existing.has(x)), (local) => storage.accounts.create(DOMAIN, local, creds));

const items = [];
for (let i = 0; i < Number(m); i++) {
  for (const j of ringContacts(i, Number(m), Number(contacts))) items.push([`${presenceName(i)}@${DOMAIN}`, `${presenceName(j)}@${DOMAIN}`]);
}
await inBatches(items, ([account, contact]) =>
  storage.roster.update(account, contact, (cur) =>
    cur?.subscription === "both" ? undefined : { jid: contact, name: null, groups: [], subscription: "both", ask: false, approved: false },
  ),
);
await storage.close();
console.log(JSON.stringify({ accounts: names.length, rosterItems: items.length }));

// parley audit verify | checkpoint | search | conversation | export | purge | hold
// The CLI opens the audit database itself; a running server may write at the
// same time (WAL; the CLI's writes read the chain head inside BEGIN IMMEDIATE,
// and the server re-chains a group after it when its own append collides).

import { type Command, Option } from "commander";
import { auditSettings } from "../audit/config.js";
import { EXPORT_FORMATS, type ExportFormat, exportRecords } from "../audit/export.js";
import { type AuditFilter, AuditQueryError, KINDS, conversationLine, formatTime, iterateRecords, mentioned, parseTime } from "../audit/query.js";
import type { RecordKind } from "../audit/record.js";
import { addHold, listHolds, purgeExpired, recordAdmin, removeHold } from "../audit/retention.js";
import { adminActor } from "../audit/sink.js";
import { openAuditDb } from "../audit/store.js";
import { readCheckpoint, verifyChain, verifyWithCheckpoint, writeCheckpoint } from "../audit/verify.js";
import type { Config } from "../config/types.js";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { Jid } from "../xmpp/jid.js";
import { fail, loadFor } from "./common.js";

async function withAudit<T>(config: Config, fn: (db: SqliteDb) => Promise<T>): Promise<T> {
  const db = await openAuditDb(auditSettings(config).file);
  try {
    return await fn(db);
  } catch (err) {
    if (err instanceof AuditQueryError) fail(err.message);
    throw err;
  } finally {
    await db.close();
  }
}

/** Records an administrative action (accounts.ts uses it too); a failure fails the command. */
export async function recordAdminAction(config: Config, action: string, detail: Record<string, unknown>, subject: string | null): Promise<void> {
  if (!auditSettings(config).enabled) return;
  try {
    await withAudit(config, (db) => recordAdmin(db, action, detail, subject));
  } catch (err) {
    fail(`the audit trail could not record "${action}": ${(err as Error).message}`);
  }
}

function bareJid(text: string): string {
  const jid = Jid.tryParse(text);
  if (!jid || !jid.local || jid.resource) fail(`"${text}" is not an account address like alice@example.com`);
  return jid.toString();
}

/** A participant must appear in the trail (deleted accounts do: the trail outlives them). */
async function knownAccount(db: SqliteDb, text: string): Promise<string> {
  const bare = bareJid(text);
  if (!(await mentioned(db, bare))) fail(`${bare}: unknown account (no record in the audit trail mentions it)`);
  return bare;
}

interface FilterOpts {
  participant?: string;
  since?: string;
  until?: string;
  kind?: string;
  text?: string;
}

async function filterFrom(db: SqliteDb, o: FilterOpts): Promise<AuditFilter> {
  const f: AuditFilter = {};
  if (o.participant) f.participant = await knownAccount(db, o.participant);
  if (o.since) f.since = parseTime(o.since, "--since");
  if (o.until) f.until = parseTime(o.until, "--until");
  if (f.since !== undefined && f.until !== undefined && f.until <= f.since) fail("--until must be after --since");
  if (o.kind) {
    f.kinds = o.kind.split(",").map((k) => {
      if (!(KINDS as readonly string[]).includes(k)) fail(`--kind: "${k}" is not one of ${KINDS.join(", ")}`);
      return k as RecordKind;
    });
  }
  if (o.text) f.text = o.text;
  return f;
}

const filterOptions = (cmd: Command) =>
  cmd
    .option("--participant <jid>", "records of this account, and stanzas from or to it")
    .option("--since <date>", "from this time on (ISO 8601, UTC unless an offset is given)")
    .option("--until <date>", "before this time")
    .option("--kind <kinds>", `comma-separated: ${KINDS.join(", ")}`)
    .option("--text <words>", "message bodies containing this phrase (full-text)");

export function register(program: Command): void {
  const audit = program.command("audit").description("the compliance audit trail");

  audit
    .command("verify")
    .description("recompute the hash chain; names the first record altered, inserted or deleted")
    .option("--checkpoint <file>", "also check against a checkpoint (detects a cut at the tail)")
    .action(async (opts: { checkpoint?: string }, cmd: Command) => {
      const config = await loadFor(cmd);
      const cp = opts.checkpoint ? await readCheckpoint(opts.checkpoint).catch((e: Error) => fail(e.message)) : undefined;
      const r = await withAudit(config, (db) => (cp ? verifyWithCheckpoint(db, cp) : verifyChain(db)));
      for (const w of r.warnings) console.error(`warning: ${w}`);
      if (!r.ok) fail(`verification FAILED at record ${r.badSeq}: ${r.problem}`);
      console.log(`ok: ${r.checked} records${r.first ? ` (${r.first}-${r.head?.seq})` : ""}, head ${r.head ? `${r.head.seq} ${r.head.hash}` : "none"}`);
    });

  audit
    .command("checkpoint")
    .description("print the chain head (seq and hash), or write it to a file, to keep elsewhere")
    .option("-o, --output <file>", "write the checkpoint to this file")
    .action(async (opts: { output?: string }, cmd: Command) => {
      const config = await loadFor(cmd);
      const cp = await withAudit(config, (db) => writeCheckpoint(db, opts.output ?? null));
      if (!cp) fail("the audit trail is empty");
      console.log(JSON.stringify(cp));
    });

  filterOptions(audit.command("search").description("find records (one line each, or --json)"))
    .option("--limit <n>", "at most this many records", "1000")
    .option("--json", "one JSON object per line")
    .action(async (opts: FilterOpts & { limit: string; json?: boolean }, cmd: Command) => {
      const config = await loadFor(cmd);
      const limit = Number.parseInt(opts.limit, 10);
      if (!(limit > 0)) fail(`--limit: "${opts.limit}" is not a positive number`);
      await withAudit(config, async (db) => {
        const filter = await filterFrom(db, opts);
        await recordAdmin(db, "search", { actor: adminActor(), filter: JSON.stringify(filter), limit }, filter.participant ?? null);
        for await (const r of iterateRecords(db, filter, limit)) {
          if (opts.json) console.log(JSON.stringify(r));
          else console.log(`${r.seq}\t${formatTime(r.ts)}\t${r.direction}\t${r.kind}/${r.type ?? ""}\t${r.from ?? r.account ?? ""} -> ${r.to ?? ""}\t${r.xml ?? r.detail ?? "(purged)"}`);
        }
      });
    });

  audit
    .command("conversation <a> <b>")
    .description("print the messages exchanged between two accounts")
    .option("--since <date>", "from this time on")
    .option("--until <date>", "before this time")
    .action(async (a: string, b: string, opts: FilterOpts, cmd: Command) => {
      const config = await loadFor(cmd);
      await withAudit(config, async (db) => {
        const pair: [string, string] = [await knownAccount(db, a), await knownAccount(db, b)];
        const filter: AuditFilter = { ...(await filterFrom(db, opts)), between: pair, kinds: ["message"], directions: ["in"] };
        await recordAdmin(db, "conversation", { actor: adminActor(), filter: JSON.stringify(filter) }, pair[0]);
        let n = 0;
        for await (const r of iterateRecords(db, filter)) {
          const line = conversationLine(r);
          if (line === null) continue;
          console.log(line);
          n++;
        }
        if (n === 0) console.error(`no messages between ${pair[0]} and ${pair[1]} in that period`);
      });
    });

  filterOptions(audit.command("export").description("stream records to a file (jsonl, csv) or a directory (eml), with a manifest"))
    .addOption(new Option("--format <format>", "output format").choices(EXPORT_FORMATS).makeOptionMandatory())
    .requiredOption("-o, --output <path>", "file (jsonl, csv) or directory (eml)")
    .action(async (opts: FilterOpts & { format: ExportFormat; output: string }, cmd: Command) => {
      const config = await loadFor(cmd);
      await withAudit(config, async (db) => {
        const filter = await filterFrom(db, opts);
        const meta = { actor: adminActor(), at: new Date().toISOString(), filter };
        // Recorded first: the export is accountable even if it is interrupted.
        await recordAdmin(db, "export", { ...meta, filter: JSON.stringify(filter), format: opts.format, output: opts.output }, filter.participant ?? null);
        const r = await exportRecords(db, filter, opts.format, opts.output, meta);
        console.log(`exported ${r.records} records${opts.format === "eml" ? ` in ${r.files} files` : ""}; manifest ${r.manifest}`);
      });
    });

  audit
    .command("purge")
    .description("remove what audit.retention says has expired (never records under legal hold)")
    .option("--dry-run", "only count what would be removed")
    .action(async (opts: { dryRun?: boolean }, cmd: Command) => {
      const config = await loadFor(cmd);
      const settings = auditSettings(config);
      const r = await withAudit(config, (db) => purgeExpired(db, settings, Date.now(), opts.dryRun === true));
      const kinds = Object.keys(r.cutoffs);
      if (kinds.length === 0) console.log("nothing expires: every audit.retention class is 0 (keep forever)");
      const held = r.holds.length ? `; held: ${r.holds.join(", ")}` : "";
      console.log(`${opts.dryRun ? "would empty" : "emptied"} ${r.tombstoned} records, ${opts.dryRun ? "would drop" : "dropped"} ${r.dropped}; trail starts at ${r.firstSeq}${held}`);
    });

  const hold = audit.command("hold").description("legal holds: an account's records are never purged");
  hold
    .command("add <jid>")
    .option("--reason <text>", "why (case number)", "")
    .action(async (address: string, opts: { reason: string }, cmd: Command) => {
      const config = await loadFor(cmd);
      const bare = bareJid(address);
      const added = await withAudit(config, (db) => addHold(db, bare, opts.reason));
      console.log(added ? `hold placed on ${bare}` : `${bare} is already on hold`);
    });
  hold.command("remove <jid>").action(async (address: string, _opts: unknown, cmd: Command) => {
    const config = await loadFor(cmd);
    const bare = bareJid(address);
    if (!(await withAudit(config, (db) => removeHold(db, bare)))) fail(`${bare} is not on hold`);
    console.log(`hold on ${bare} removed`);
  });
  hold.command("list").action(async (_opts: unknown, cmd: Command) => {
    const config = await loadFor(cmd);
    for (const h of await withAudit(config, (db) => listHolds(db))) {
      console.log(`${h.account}\t${new Date(h.created_at).toISOString()}\t${h.created_by ?? ""}\t${h.reason ?? ""}`);
    }
  });
}

// The [audit] configuration section. Registered with extendSchema when this
// module is first imported (main.ts and the CLI import it before loading).

import { isAbsolute, join, resolve } from "node:path";
import { type Config, type Field, Problem, bool, extendSchema, int, section, str } from "../config/index.js";

/**
 * "" (the default) means <server.data_dir>/audit.db: the audit trail follows the
 * data directory unless it is put elsewhere on purpose (e.g. another disk).
 * Anything else is resolved against the working directory like every other path.
 */
const auditPath: Field<string> = {
  kind: "field",
  doc: 'Audit database file; "" means <server.data_dir>/audit.db.',
  default: "",
  parse(raw) {
    if (typeof raw !== "string") throw new Problem(`expected a file system path or "", got ${JSON.stringify(raw)}`);
    return raw === "" ? "" : resolve(process.cwd(), raw);
  },
};

const days = (doc: string) => int({ doc: `${doc} kept, in days; 0 keeps them forever.`, default: 0, min: 0 });

const readAudit = extendSchema(
  "audit",
  {
    enabled: bool({ doc: "Record every stanza and session event (off only for measurements).", default: true }),
    path: auditPath,
    commit_window_ms: int({
      doc: "How long a commit group stays open for more records, in ms; 0 commits as soon as the stanzas already read are handled.",
      default: 0,
      min: 0,
      max: 1000,
    }),
    max_batch: int({ doc: "Records per commit group at most; a full group commits at once.", default: 256, min: 1, max: 2000 }),
    notice: str({ doc: "Recording notice sent to each user after resource binding; empty sends none.", default: "" }),
    retention: section("Retention per record class (parley audit purge).", {
      messages: days("Message stanzas"),
      presence: days("Presence stanzas"),
      iq: days("IQ stanzas"),
      sessions: days("Session events (connection, TLS, authentication, binding, end)"),
      admin: days("Administrative actions"),
    }),
  },
  "The compliance audit trail.",
);

export type AuditSettings = ReturnType<typeof readAudit> & { file: string };

export function auditSettings(config: Config): AuditSettings {
  const a = readAudit(config);
  const file = a.path === "" ? join(config.server.data_dir, "audit.db") : a.path;
  return { ...a, file: isAbsolute(file) ? file : resolve(file) };
}

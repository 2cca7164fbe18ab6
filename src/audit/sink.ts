// The audit tap: the one place where stanzas, session events and admin actions
// become audit records. The c2s stream calls it for every stanza in and out;
// each call resolves only once the record is committed (write-ahead).

import { hostname, userInfo } from "node:os";
import type { Logger } from "../core/log.js";
import type { SqliteDb } from "../storage/sqlite/db.js";
import { type Element, serialize } from "../xml/index.js";
import type { AuditSettings } from "./config.js";
import type { NewRecord, RecordKind } from "./record.js";
import { needsRedaction, redacted } from "./redact.js";
import { openAuditDb } from "./store.js";
import { Checkpointer } from "./checkpointer.js";
import { AuditWriter } from "./writer.js";

/** Who a record is about: the stream, its account (bare JID) and resource, the peer address. */
export interface AuditParty {
  session: string | null;
  account: string | null;
  resource: string | null;
  remote: string | null;
}

export type SessionEvent = "connect" | "tls" | "auth-success" | "auth-failure" | "bind" | "end";
export type Detail = Record<string, string | number | boolean | null | undefined | string[]>;

export interface AuditSink {
  readonly enabled: boolean;
  /** Records a stanza as routed ('from' stamped). `text` is its serialisation when the caller has one. */
  stanza(direction: "in" | "out", party: AuditParty, el: Element, text?: string): Promise<void>;
  event(party: AuditParty, type: SessionEvent, detail: Detail): Promise<void>;
  /** An administrative action; `subject` is the account it concerns, if any. */
  admin(action: string, detail: Detail, subject?: string | null): Promise<void>;
  close(): Promise<void>;
}

const STANZA_KINDS = new Set<string>(["message", "presence", "iq"]);

/**
 * An inbound stanza keeps its record, so that a delivery of the same element can
 * refer to it: a property, not a WeakMap (ephemeron tables cost the garbage
 * collector more than the records themselves at thousands of stanzas a second).
 */
const INBOUND_RECORD = Symbol("audit record");
type RecordedElement = Element & { [INBOUND_RECORD]?: NewRecord };

export class SqliteAuditSink implements AuditSink {
  readonly enabled = true;

  private constructor(
    readonly db: SqliteDb,
    private readonly writer: AuditWriter,
    private readonly checkpointer: Checkpointer,
  ) {}

  static async open(settings: AuditSettings, log: Logger): Promise<SqliteAuditSink> {
    const db = await openAuditDb(settings.file);
    try {
      const checkpointer = await Checkpointer.start(settings.file, db, log);
      const writer = new AuditWriter(db, { commitWindowMs: settings.commit_window_ms, maxBatch: settings.max_batch }, log);
      return new SqliteAuditSink(db, writer, checkpointer);
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  stanza(direction: "in" | "out", party: AuditParty, el: Element, text?: string): Promise<void> {
    try {
      return this.writer.append(this.stanzaRecord(direction, party, el as RecordedElement, text));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private stanzaRecord(direction: "in" | "out", party: AuditParty, el: RecordedElement, text?: string): NewRecord {
    const xml = needsRedaction(el) ? serialize(redacted(el)) : (text ?? serialize(el));
    const kind = (STANZA_KINDS.has(el.name) ? el.name : "iq") as RecordKind;
    // A message delivered exactly as it was sent is recorded as a reference to the
    // inbound record: the XML is stored and indexed once per message, not twice.
    const source = direction === "out" ? el[INBOUND_RECORD] : undefined;
    const record: NewRecord = {
      ts: Date.now(),
      direction,
      ...party,
      kind,
      type: el.attrs.type ?? null,
      stanzaId: el.attrs.id ?? null,
      from: el.attrs.from ?? null,
      to: el.attrs.to ?? null,
      xml,
      detail: null,
      body: null,
      sameAs: source?.xml === xml ? source : undefined,
    };
    // A reference is not indexed again: its source holds the body.
    if (kind === "message" && !record.sameAs) record.body = el.getChildText("body");
    if (direction === "in") el[INBOUND_RECORD] = record;
    return record;
  }

  async event(party: AuditParty, type: SessionEvent, detail: Detail): Promise<void> {
    await this.writer.append(eventRecord(party, "session", "event", type, detail));
  }

  async admin(action: string, detail: Detail, subject: string | null = null): Promise<void> {
    await this.writer.append(adminRecord(action, detail, subject));
  }

  async close(): Promise<void> {
    await this.writer.close();
    await this.checkpointer.stop();
    await this.db.close();
  }
}

function eventRecord(party: AuditParty, kind: RecordKind, direction: "event" | "admin", type: string, detail: Detail): NewRecord {
  return {
    ts: Date.now(),
    direction,
    ...party,
    kind,
    type,
    stanzaId: null,
    from: null,
    to: null,
    xml: null,
    detail: JSON.stringify(detail),
    body: null,
  };
}

/** Who ran an admin command: the operating-system user and host, and the process. */
export function adminActor(): string {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return `${user}@${hostname()}`;
}

export function adminRecord(action: string, detail: Detail, subject: string | null): NewRecord {
  const party = { session: `pid:${process.pid}`, account: subject, resource: null, remote: adminActor() };
  return eventRecord(party, "admin", "admin", action, detail);
}

/** audit.enabled = false: nothing is recorded (for measuring the cost only). */
export const disabledAuditSink: AuditSink = {
  enabled: false,
  stanza: async () => undefined,
  event: async () => undefined,
  admin: async () => undefined,
  close: async () => undefined,
};

export async function openAuditSink(settings: AuditSettings, log: Logger): Promise<AuditSink> {
  return settings.enabled ? SqliteAuditSink.open(settings, log) : disabledAuditSink;
}

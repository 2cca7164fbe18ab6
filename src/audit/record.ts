// One audit record, its canonical encoding and its place in the hash chain.
// Pure code: the writer, verify and the tests share it.

import { hash } from "node:crypto";

export type Direction = "in" | "out" | "event" | "admin";
/** Stanza kinds, then the record classes that are not stanzas. */
export type RecordKind = "message" | "presence" | "iq" | "session" | "admin" | "purge";

/** What the sink hands to the writer; seq and the hashes are assigned in commit order. */
export interface NewRecord {
  ts: number;
  direction: Direction;
  session: string | null;
  account: string | null;
  resource: string | null;
  remote: string | null;
  kind: RecordKind;
  /** Stanza type, or the event / admin action name. */
  type: string | null;
  stanzaId: string | null;
  from: string | null;
  to: string | null;
  /** The stanza as routed (credentials redacted); null for events. */
  xml: string | null;
  /** Event or admin details as JSON; null for stanzas. */
  detail: string | null;
  /** Message body for full-text search (an index, not part of the chain). */
  body: string | null;
  /**
   * An outbound record whose XML is exactly that of the inbound record it was
   * routed from (a message delivered as sent). The writer then stores a
   * reference to that record's seq instead of the XML a second time.
   */
  sameAs?: NewRecord;
  /**
   * Set by the writer: the record's seq once its group is committed (a field, not
   * a WeakMap: at thousands of records a second the ephemeron tables were a
   * visible part of the garbage collector's work).
   */
  seq?: number;
}

/** The fields of a record that its digest covers. */
export type RecordFields = Omit<NewRecord, "body" | "sameAs" | "seq"> & {
  /** The seq of the record whose XML this one repeats (xml is then null). */
  ref: number | null;
};

export interface StoredRecord extends RecordFields {
  seq: number;
  prev: string;
  hash: string;
  /** Set when retention removed the content: the digest stands in for the fields. */
  digest: string;
  purgedBy: number | null;
}

export const GENESIS = "0".repeat(64);

/**
 * The canonical encoding: a JSON array of every field in a fixed order. JSON.stringify
 * of an array of strings, numbers and nulls is deterministic, and escapes what needs it.
 * `ref` is appended only when set, so records written before it existed keep their digests.
 */
export function canonical(seq: number, r: RecordFields): string {
  return canonicalOf(seq, r, r.xml, r.ref);
}

/** The same, with xml and ref given apart: the writer encodes a NewRecord without copying it. */
export function canonicalOf(seq: number, r: Omit<RecordFields, "xml" | "ref">, xml: string | null, ref: number | null): string {
  const fields = [
    seq, r.ts, r.direction, r.session, r.account, r.resource, r.remote,
    r.kind, r.type, r.stanzaId, r.from, r.to, xml, r.detail,
  ];
  if (ref !== null) fields.push(ref);
  return JSON.stringify(fields);
}

/** One-shot crypto.hash: a third of createHash's cost at four hashes per message. */
export const sha256 = (s: string): string => hash("sha256", s, "hex");

/**
 * Two steps, so that retention can drop a record's content and keep its digest:
 *   digest = SHA-256(canonical fields), hash = SHA-256(prev || digest).
 * The chain links hashes; a purged record keeps prev, hash and digest, so the
 * records after it still verify.
 */
export function contentDigest(seq: number, r: RecordFields): string {
  return sha256(canonical(seq, r));
}

export function chainHash(prev: string, digest: string): string {
  return sha256(prev + digest);
}

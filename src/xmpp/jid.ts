// XMPP addresses, RFC 7622, with the PRECIS profiles of RFC 8264/8265.
//
//   localpart    UsernameCaseMapped (RFC 8265 3.3) + RFC 7622 3.3.1's exclusions
//   domainpart   RFC 7622 3.2: lower case, NFC, A-labels to U-labels, IP literals
//   resourcepart OpaqueString (RFC 8265 4.2)
//
// Pure ASCII input (almost every stanza's to/from) takes a fast path with no
// normalisation, no regular expressions over properties and no allocation
// beyond the lowercased copy. The Unicode rules for the rest are in precis.ts.
// The part rules stay in this file with the Jid class: moved to a module of
// their own, they made Jid.parse about 4% slower in a micro-benchmark.

import { domainToASCII, domainToUnicode } from "node:url";
import { isIPv4, isIPv6 } from "node:net";
import { firstDisallowed, violatesBidiRule, widthMap } from "./precis.js";

/** Any address or part that cannot be prepared: RFC 6120's jid-malformed. */
export class JidError extends Error {
  readonly condition = "jid-malformed";
  constructor(message: string) {
    super(message);
    this.name = "JidError";
  }
}

const MAX_PART_BYTES = 1023;

function byteLength(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Throws a JidError naming the first code point the PRECIS class rejects. */
function enforceClass(s: string, freeform: boolean, what: string): void {
  const cp = firstDisallowed(s, freeform);
  if (cp === undefined) return;
  throw new JidError(
    `${what} contains disallowed character U+${cp.toString(16).toUpperCase().padStart(4, "0")}`,
  );
}

function checkBidi(s: string, what: string): void {
  if (violatesBidiRule(s)) throw new JidError(`${what} violates the Bidi Rule (RFC 5893)`);
}

function checkLength(s: string, what: string): void {
  if (s.length === 0) throw new JidError(`${what} is empty`);
  if (s.length > MAX_PART_BYTES / 3 && byteLength(s) > MAX_PART_BYTES)
    throw new JidError(`${what} is longer than ${MAX_PART_BYTES} bytes`);
}

// ---------------------------------------------------------------------------
// Localpart

// RFC 7622 3.3.1: " & ' / : < > @ are not allowed in a localpart.
function isExcludedLocal(c: number): boolean {
  return (
    c === 0x22 ||
    c === 0x26 ||
    c === 0x27 ||
    c === 0x2f ||
    c === 0x3a ||
    c === 0x3c ||
    c === 0x3e ||
    c === 0x40
  );
}

export function prepLocal(s: string): string {
  let out: string;
  if (isAscii(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x21 || c > 0x7e)
        throw new JidError("localpart contains a space or control character");
    }
    out = s.toLowerCase();
  } else {
    out = widthMap(s).toLowerCase().normalize("NFC");
    enforceClass(out, false, "localpart");
    checkBidi(out, "localpart");
  }
  for (let i = 0; i < out.length; i++) {
    if (isExcludedLocal(out.charCodeAt(i))) throw new JidError(`localpart contains "${out[i]}"`);
  }
  checkLength(out, "localpart");
  return out;
}

// ---------------------------------------------------------------------------
// Domainpart

/** The ASCII a label may hold once lower-cased: letters, digits, "-" and "_". */
function isLabelChar(c: number): boolean {
  // COMPAT: "_" appears in internal host names; IDNA2003 without STD3 allowed it too
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
}

function checkAsciiLabel(label: string): void {
  if (label.length === 0) throw new JidError("domainpart has an empty label");
  if (label.length > 63) throw new JidError("domainpart label is longer than 63 bytes");
  for (let i = 0; i < label.length; i++) {
    if (!isLabelChar(label.charCodeAt(i))) throw new JidError(`domainpart contains "${label[i]}"`);
  }
}

/** A non-ASCII label must be a U-label in the form node's UTS 46 code gives back unchanged. */
function checkULabel(label: string): void {
  const alabel = domainToASCII(label);
  if (alabel === "" || alabel.includes(".") || domainToUnicode(alabel) !== label)
    throw new JidError("domainpart label is not a valid IDN label");
  if (alabel.length > 63) throw new JidError("domainpart label is longer than 63 bytes");
  for (let i = 0; i < label.length; i++) {
    const c = label.charCodeAt(i);
    if (c < 0x80 && !isLabelChar(c)) throw new JidError(`domainpart contains "${label[i]}"`);
  }
}

/** An A-label ("xn--...") becomes its U-label; anything that does not round-trip is rejected. */
function aLabelToU(label: string): string {
  const u = domainToUnicode(label);
  if (u === "" || u.includes(".") || domainToASCII(u) !== label)
    throw new JidError("domainpart contains an invalid A-label");
  if (isAscii(u)) checkAsciiLabel(u);
  else checkULabel(u);
  return u;
}

export function prepDomain(s: string): string {
  if (s.length === 0) throw new JidError("domainpart is empty");
  let d = isAscii(s)
    ? s.toLowerCase()
    : widthMap(s)
        .toLowerCase()
        .normalize("NFC")
        .replace(/[\u3002\uff0e\uff61]/g, ".");
  if (d.charCodeAt(0) === 0x5b /* [ */) {
    if (d.charCodeAt(d.length - 1) !== 0x5d || d.includes("%") || !isIPv6(d.slice(1, -1)))
      throw new JidError("domainpart is not a valid IPv6 literal");
    return d;
  }
  if (d.endsWith(".")) d = d.slice(0, -1);
  if (d.length === 0) throw new JidError("domainpart is empty");
  if (isIPv4(d)) return d;
  const labels = d.split(".");
  let changed = false;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (isAscii(label)) {
      if (label.startsWith("xn--")) {
        labels[i] = aLabelToU(label);
        changed = true;
      } else checkAsciiLabel(label);
    } else checkULabel(label);
  }
  if (changed) d = labels.join(".");
  checkLength(d, "domainpart");
  return d;
}

// ---------------------------------------------------------------------------
// Resourcepart

const RE_NON_ASCII_SPACE = /\p{Zs}/gu;

export function prepResource(s: string): string {
  let out = s;
  if (isAscii(s)) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x7f) throw new JidError("resourcepart contains a control character");
    }
  } else {
    out = s.replace(RE_NON_ASCII_SPACE, " ").normalize("NFC");
    enforceClass(out, true, "resourcepart");
  }
  checkLength(out, "resourcepart");
  return out;
}

// ---------------------------------------------------------------------------

export class Jid {
  readonly local: string;
  readonly domain: string;
  readonly resource: string;
  #full: string | undefined;
  #bare: string | undefined;

  private constructor(local: string, domain: string, resource: string) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
  }

  /** RFC 7622 3.1/3.2: split at the first "/", then at the first "@" before it. */
  static parse(s: string): Jid {
    const slash = s.indexOf("/");
    const head = slash < 0 ? s : s.slice(0, slash);
    if (slash >= 0 && slash === s.length - 1) throw new JidError("resourcepart is empty");
    const at = head.indexOf("@");
    if (at === 0) throw new JidError("localpart is empty");
    const local = at < 0 ? "" : prepLocal(head.slice(0, at));
    const domain = prepDomain(at < 0 ? head : head.slice(at + 1));
    const resource = slash < 0 ? "" : prepResource(s.slice(slash + 1));
    return new Jid(local, domain, resource);
  }

  static tryParse(s: string): Jid | null {
    try {
      return Jid.parse(s);
    } catch (e) {
      if (e instanceof JidError) return null;
      throw e;
    }
  }

  /** Empty local or resource means absent. */
  static of(local: string, domain: string, resource = ""): Jid {
    return new Jid(
      local === "" ? "" : prepLocal(local),
      prepDomain(domain),
      resource === "" ? "" : prepResource(resource),
    );
  }

  bare(): Jid {
    return this.resource === "" ? this : new Jid(this.local, this.domain, "");
  }

  isBare(): boolean {
    return this.resource === "";
  }

  /** Prepares the resource; an empty one throws (use bare() for that). */
  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, prepResource(resource));
  }

  bareString(): string {
    return (this.#bare ??= this.local === "" ? this.domain : `${this.local}@${this.domain}`);
  }

  toString(): string {
    return (this.#full ??=
      this.resource === "" ? this.bareString() : `${this.bareString()}/${this.resource}`);
  }

  equals(other: Jid): boolean {
    return (
      this === other ||
      (this.local === other.local &&
        this.domain === other.domain &&
        this.resource === other.resource)
    );
  }
}

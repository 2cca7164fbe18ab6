// A resumable XML tokenizer for one XMPP stream: a state machine over the decoded text that
// stops at the first thing RFC 6120 forbids. Every decision depends only on the characters seen,
// never on where the input was split, so any chunking gives the same events.
//
// Size accounting: the input is cut into "units" (the stream header, each run of whitespace
// between stanzas, each first-level element from its '<' to its final '>'), and a unit may not
// pass maxBytes input bytes; the check is made per character, so nothing unbounded is buffered.

import { isUtf8 } from "node:buffer";
import {
  ASCII,
  C_NAME,
  checkXmlDecl,
  decodeReference,
  firstInvalidUtf8,
  incompleteTail,
  isNameCharNonAscii,
  isNameStartAt,
  isWs,
  MAX_REF_LENGTH,
  REF_MALFORMED,
  REF_RESTRICTED,
  utf8Extra,
} from "./chars.js";

export type XmlErrorCondition =
  "not-well-formed" | "restricted-xml" | "policy-violation" | "unsupported-encoding" | "bad-format";

/** Prolog, stream level and epilog: only whitespace between tags, and none of it is kept. */
export const MODE_WS = 0;
/** Inside a first-level element: character data is collected. */
export const MODE_CONTENT = 1;

// States.
const TEXT = 0;
const LT = 1; // after '<'
const STAG_NAME = 2;
const TAG_WS = 3; // inside a start tag, before an attribute, '/' or '>'
const ATTR_NAME = 4;
const ATTR_NAME_AFTER = 5; // whitespace between an attribute name and '='
const ATTR_EQ = 6; // after '=', before the quote
const ATTR_VALUE = 7;
const ATTR_VALUE_AFTER = 8; // after the closing quote
const EMPTY = 9; // after '/' in a start tag
const ETAG_NAME = 10;
const ETAG_AFTER = 11;
const REF = 12; // after '&'
const BANG = 13; // after '<!'
const MATCH = 14; // matching a literal after '<!'
const CDATA = 15;
const DECL = 16; // after '<?' at the very start of the stream

// What a '<!' literal leads to.
const K_COMMENT = 0;
const K_CDATA = 1;
const K_DOCTYPE = 2;

// Tag completions.
const E_START = 1;
const E_EMPTY = 2;
const E_END = 3;

const MAX_DECL_LENGTH = 256;

function show(name: string): string {
  return name.length > 40 ? name.slice(0, 40) + "..." : name;
}

export abstract class XmlTokenizer {
  protected readonly maxBytes: number;
  /** MODE_WS or MODE_CONTENT, kept by the tree builder. */
  protected mode = MODE_WS;
  /** Set once an error was reported; input is then ignored until reset(). */
  protected failed = false;

  private state = TEXT;
  private ret = TEXT; // state a reference returns to
  private budget: number; // bytes the current unit may still use, from the next input byte on
  private atStart = 2; // 2: nothing consumed since reset, 1: only a byte order mark, 0: more
  private acc = ""; // partial name or attribute value
  private text = ""; // pending character data
  private ref = ""; // partial reference body
  private tagName = "";
  private attrName = "";
  private attrs: string[] = []; // [name, value, name, value, ...] of the current start tag
  private quote = 0;
  private brackets = 0; // consecutive ']' just before, in text and CDATA
  private held = 0; // trailing ']' of a CDATA section not yet added to `text`
  private crPending = false; // the previous string ended with CR
  private declQ = false; // the previous declaration character was '?'
  private lit = "";
  private litIdx = 0;
  private litKind = 0;
  private pendingBytes: Buffer | null = null; // incomplete UTF-8 sequence at the end of a chunk
  private pendingHigh = ""; // high surrogate at the end of a string chunk
  private inWrite = false;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
    this.budget = maxBytes;
  }

  protected abstract onStartTag(name: string, attrs: readonly string[], selfClosing: boolean): void;
  protected abstract onEndTag(name: string): void;
  protected abstract onText(text: string): void;
  protected abstract onError(condition: XmlErrorCondition, text: string): void;
  protected abstract limitMessage(inWhitespace: boolean): string;

  /** Feeds bytes (or text) of the stream, split anywhere. */
  write(chunk: Buffer | string): void {
    if (this.failed) return;
    if (this.inWrite) throw new Error("StreamParser.write() called from one of its handlers");
    this.inWrite = true;
    try {
      if (typeof chunk === "string") this.writeString(chunk);
      else this.writeBytes(chunk);
    } catch (err) {
      this.failed = true;
      throw err;
    } finally {
      this.inWrite = false;
    }
  }

  /**
   * Starts a new stream (after STARTTLS or SASL). Called from a handler during write(), the rest of
   * that chunk is parsed as the new stream; otherwise bytes written before are dropped.
   */
  reset(): void {
    this.mode = MODE_WS;
    this.failed = false;
    this.state = TEXT;
    this.budget = this.maxBytes;
    this.atStart = 2;
    this.acc = this.text = this.ref = "";
    this.attrs = [];
    this.brackets = this.held = 0;
    this.crPending = this.declQ = false;
    if (!this.inWrite) {
      this.pendingBytes = null;
      this.pendingHigh = "";
    }
  }

  protected fail(condition: XmlErrorCondition, text: string): void {
    this.failed = true;
    this.onError(condition, text);
  }

  private writeString(chunk: string): void {
    let s = chunk;
    if (this.pendingHigh !== "") {
      s = this.pendingHigh + s;
      this.pendingHigh = "";
    }
    const last = s.charCodeAt(s.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      this.pendingHigh = s.slice(-1);
      s = s.slice(0, -1);
    }
    if (s !== "") this.feed(s);
  }

  private writeBytes(chunk: Buffer): void {
    let buf = chunk;
    if (this.pendingBytes !== null) {
      buf = Buffer.concat([this.pendingBytes, chunk]);
      this.pendingBytes = null;
    }
    const cut = incompleteTail(buf);
    if (isUtf8(buf.subarray(0, cut))) {
      if (cut < buf.length) this.pendingBytes = Buffer.from(buf.subarray(cut));
      if (cut > 0) this.feed(buf.toString("utf8", 0, cut));
      return;
    }
    // Slow path, only on bad input: feed what precedes the bad sequence, then fail.
    const bad = firstInvalidUtf8(buf);
    if (bad > 0) this.feed(buf.toString("utf8", 0, bad));
    if (!this.failed) this.fail("unsupported-encoding", "invalid UTF-8 byte sequence");
  }

  private feed(s: string): void {
    const n = s.length;
    const max = this.maxBytes;
    let i = 0;
    let extra = 0; // UTF-8 bytes beyond one per code unit, so far in s
    // A code unit at index i is over the unit's limit when i + extra (extra counting it) >= lim.
    let lim = this.budget;
    let end = lim < n ? lim : n;
    let c = 0;
    let d = 0;
    let emit = 0;

    outer: while (i < n) {
      if (i >= end && (this.state !== TEXT || this.mode !== MODE_WS)) {
        this.fail("policy-violation", this.limitMessage(false));
        return;
      }
      switch (this.state) {
        case TEXT: {
          if (this.mode === MODE_WS) {
            const st = i;
            for (; i < n; i++) {
              c = s.charCodeAt(i);
              if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
              if (i >= end) {
                this.fail("policy-violation", this.limitMessage(true));
                return;
              }
            }
            if (i > st) this.atStart = 0;
            if (i >= n) continue outer;
            if (c === 0x3c) {
              // A new unit starts at this '<'.
              lim = i + extra + max;
              end = lim - extra;
              if (end > n) end = n;
              i++;
              this.state = LT;
              continue outer;
            }
            if (c === 0xfeff && this.atStart === 2) {
              extra += 2;
              end = lim - extra;
              if (end > n) end = n;
              if (i >= end) {
                this.fail("policy-violation", this.limitMessage(true));
                return;
              }
              i++;
              this.atStart = 1;
              continue outer;
            }
            this.fail("not-well-formed", "character data is not allowed at stream level");
            return;
          }
          let st = i;
          let br = this.brackets;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c < 0x80) {
              if (c >= 0x3f) {
                br = c === 0x5d ? br + 1 : 0;
                continue;
              }
              if (c >= 0x20) {
                if (c === 0x3c || c === 0x26) break;
                if (c === 0x3e && br >= 2) {
                  this.fail("not-well-formed", "']]>' is not allowed in character data");
                  return;
                }
                br = 0;
                continue;
              }
              br = 0;
              if (c === 0x0a) {
                if (i === 0 ? this.crPending : s.charCodeAt(i - 1) === 0x0d) {
                  this.text += s.slice(st, i);
                  st = i + 1;
                }
                continue;
              }
              if (c === 0x09) continue;
              if (c === 0x0d) {
                this.text += s.slice(st, i) + "\n";
                st = i + 1;
                continue;
              }
              this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
              return;
            }
            br = 0;
            d = utf8Extra(s, i, c);
            if (d < 0) {
              this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
              return;
            }
            extra += d;
            end = lim - extra;
            if (end > n) end = n;
            if (i >= end) break;
          }
          this.brackets = br;
          if (st < i) this.text += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          this.brackets = 0;
          if (c === 0x3c) {
            this.state = LT;
          } else {
            this.ret = TEXT;
            this.ref = "";
            this.state = REF;
          }
          continue outer;
        }

        case LT: {
          c = s.charCodeAt(i);
          const start = this.atStart;
          this.atStart = 0;
          if (c === 0x2f) {
            i++;
            this.acc = "";
            this.state = ETAG_NAME;
          } else if (c === 0x21) {
            i++;
            this.state = BANG;
          } else if (c === 0x3f) {
            if (start === 0) {
              this.fail("restricted-xml", "processing instructions are not allowed");
              return;
            }
            i++;
            this.acc = "";
            this.declQ = false;
            this.state = DECL;
          } else {
            this.acc = "";
            this.attrs.length = 0;
            this.state = STAG_NAME;
          }
          continue outer;
        }

        case STAG_NAME:
        case ATTR_NAME:
        case ETAG_NAME: {
          if (this.acc === "" && !isNameStartAt(s, i)) {
            this.fail("not-well-formed", "invalid name start character");
            return;
          }
          const st = i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c < 0x80) {
              if ((ASCII[c] & C_NAME) !== 0) continue;
              break;
            }
            if (!isNameCharNonAscii(c) || (d = utf8Extra(s, i, c)) < 0) break;
            extra += d;
            end = lim - extra;
            if (end > n) end = n;
            if (i >= end) break;
          }
          if (st < i) this.acc += s.slice(st, i);
          if (i >= end) continue outer;
          const state = this.state;
          if (state === STAG_NAME) {
            this.tagName = this.acc;
            if (c === 0x3e) {
              i++;
              emit = E_START;
              break;
            }
            if (c === 0x2f) this.state = EMPTY;
            else if (isWs(c)) this.state = TAG_WS;
            else return this.fail("not-well-formed", "malformed start tag");
          } else if (state === ATTR_NAME) {
            this.attrName = this.acc;
            if (c === 0x3d) this.state = ATTR_EQ;
            else if (isWs(c)) this.state = ATTR_NAME_AFTER;
            else return this.fail("not-well-formed", `malformed attribute ${show(this.acc)}`);
          } else {
            if (c === 0x3e) {
              i++;
              emit = E_END;
              break;
            }
            if (isWs(c)) this.state = ETAG_AFTER;
            else return this.fail("not-well-formed", "malformed end tag");
          }
          i++;
          continue outer;
        }

        case TAG_WS:
        case ATTR_NAME_AFTER:
        case ATTR_EQ:
        case ETAG_AFTER: {
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (!isWs(c)) break;
          }
          if (i >= end) continue outer;
          const state = this.state;
          if (state === TAG_WS) {
            if (c === 0x3e) {
              i++;
              emit = E_START;
              break;
            }
            if (c === 0x2f) {
              i++;
              this.state = EMPTY;
            } else if (isNameStartAt(s, i)) {
              this.acc = "";
              this.state = ATTR_NAME;
            } else return this.fail("not-well-formed", "malformed start tag");
          } else if (state === ATTR_NAME_AFTER) {
            if (c !== 0x3d) {
              return this.fail("not-well-formed", `attribute ${show(this.attrName)} has no value`);
            }
            i++;
            this.state = ATTR_EQ;
          } else if (state === ATTR_EQ) {
            if (c !== 0x22 && c !== 0x27) {
              return this.fail("not-well-formed", `attribute ${show(this.attrName)} is not quoted`);
            }
            i++;
            this.quote = c;
            this.acc = "";
            this.state = ATTR_VALUE;
          } else {
            if (c !== 0x3e) return this.fail("not-well-formed", "malformed end tag");
            i++;
            emit = E_END;
            break;
          }
          continue outer;
        }

        case ATTR_VALUE: {
          let st = i;
          const q = this.quote;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c < 0x80) {
              if (c >= 0x3d) continue;
              if (c >= 0x20) {
                if (c === q || c === 0x3c || c === 0x26) break;
                continue;
              }
              // Line-end and attribute-value normalisation (XML 1.0 2.11, 3.3.3).
              if (c === 0x0a && (i === 0 ? this.crPending : s.charCodeAt(i - 1) === 0x0d)) {
                this.acc += s.slice(st, i);
              } else if (c === 0x0a || c === 0x0d || c === 0x09) {
                this.acc += s.slice(st, i) + " ";
              } else {
                return this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
              }
              st = i + 1;
              continue;
            }
            d = utf8Extra(s, i, c);
            if (d < 0) {
              return this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
            }
            extra += d;
            end = lim - extra;
            if (end > n) end = n;
            if (i >= end) break;
          }
          if (st < i) this.acc += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          if (c === q) {
            this.attrs.push(this.attrName, this.acc);
            this.state = ATTR_VALUE_AFTER;
          } else if (c === 0x26) {
            this.ret = ATTR_VALUE;
            this.ref = "";
            this.state = REF;
          } else {
            return this.fail("not-well-formed", "'<' is not allowed in an attribute value");
          }
          continue outer;
        }

        case ATTR_VALUE_AFTER:
        case EMPTY: {
          c = s.charCodeAt(i);
          i++;
          if (c === 0x3e) {
            emit = this.state === EMPTY ? E_EMPTY : E_START;
            break;
          }
          if (this.state === ATTR_VALUE_AFTER) {
            if (isWs(c)) this.state = TAG_WS;
            else if (c === 0x2f) this.state = EMPTY;
            else return this.fail("not-well-formed", "attributes must be separated by whitespace");
            continue outer;
          }
          return this.fail("not-well-formed", "'/' must be followed by '>'");
        }

        case REF: {
          const st = i;
          const room = MAX_REF_LENGTH - this.ref.length + i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c === 0x3b) break;
            if (c >= 0x80 || (c !== 0x23 && (ASCII[c] & C_NAME) === 0) || i >= room) {
              return this.fail("not-well-formed", "malformed entity or character reference");
            }
          }
          this.ref += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          const v = decodeReference(this.ref);
          if (v === REF_RESTRICTED) {
            return this.fail(
              "restricted-xml",
              `entity reference &${show(this.ref)}; is not allowed`,
            );
          }
          if (v === REF_MALFORMED) {
            return this.fail("not-well-formed", `malformed reference &${show(this.ref)};`);
          }
          if (this.ret === TEXT) this.text += v as string;
          else this.acc += v as string;
          this.state = this.ret;
          continue outer;
        }

        case BANG: {
          c = s.charCodeAt(i);
          i++;
          if (c === 0x2d) {
            this.lit = "-";
            this.litKind = K_COMMENT;
          } else if (c === 0x5b) {
            this.lit = "CDATA[";
            this.litKind = K_CDATA;
          } else if (c === 0x44) {
            this.lit = "OCTYPE";
            this.litKind = K_DOCTYPE;
          } else {
            return this.fail("not-well-formed", "malformed markup after '<!'");
          }
          this.litIdx = 0;
          this.state = MATCH;
          continue outer;
        }

        case MATCH: {
          const lit = this.lit;
          for (; i < end && this.litIdx < lit.length; i++, this.litIdx++) {
            if (s.charCodeAt(i) !== lit.charCodeAt(this.litIdx)) {
              return this.fail("not-well-formed", "malformed markup after '<!'");
            }
          }
          if (this.litIdx < lit.length) continue outer;
          if (this.litKind === K_COMMENT) {
            return this.fail("restricted-xml", "comments are not allowed");
          }
          if (this.litKind === K_DOCTYPE) {
            return this.fail("restricted-xml", "document type declarations are not allowed");
          }
          if (this.mode === MODE_WS) {
            return this.fail("not-well-formed", "character data is not allowed at stream level");
          }
          this.brackets = this.held = 0;
          this.state = CDATA;
          continue outer;
        }

        case CDATA: {
          let st = i;
          let br = this.brackets;
          let held = this.held;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c === 0x5d) {
              br++;
              continue;
            }
            if (c === 0x3e && br >= 2) break;
            br = 0;
            if (c < 0x20) {
              if (c === 0x09) continue;
              if (c === 0x0a || c === 0x0d) {
                const skip =
                  c === 0x0a && (i === 0 ? this.crPending : s.charCodeAt(i - 1) === 0x0d);
                this.text +=
                  (held > 0 ? "]]".slice(0, held) : "") + s.slice(st, i) + (skip ? "" : "\n");
                held = 0;
                st = i + 1;
                continue;
              }
              return this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
            }
            if (c < 0x80) continue;
            d = utf8Extra(s, i, c);
            if (d < 0) {
              return this.fail("not-well-formed", `character U+${hex(c)} is not allowed in XML`);
            }
            extra += d;
            end = lim - extra;
            if (end > n) end = n;
            if (i >= end) break;
          }
          // Pending content: `held` ']' from before, then s[st, i); its last min(br, 2) ']' may
          // still turn out to be the "]]" of "]]>", so they are held back.
          const keep = i < end ? 2 : Math.min(br, 2);
          const total = held + (i - st);
          if (total > keep) {
            const pending = (held > 0 ? "]]".slice(0, held) : "") + s.slice(st, i);
            this.text += pending.slice(0, total - keep);
          }
          this.held = Math.min(total, keep);
          this.brackets = br;
          if (i >= end) continue outer;
          i++;
          this.held = this.brackets = 0;
          this.state = TEXT;
          continue outer;
        }

        case DECL: {
          const st = i;
          let q = this.declQ;
          const room = MAX_DECL_LENGTH - this.acc.length + i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c === 0x3e && q) break;
            q = c === 0x3f;
            if (c >= 0x80 || (c < 0x20 && !isWs(c)) || i >= room) {
              return this.fail("not-well-formed", "malformed XML declaration");
            }
          }
          this.declQ = q;
          this.acc += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          const problem = checkXmlDecl(this.acc.slice(0, -1));
          if (problem !== null) return this.fail(problem.condition, problem.text);
          this.acc = "";
          this.state = TEXT;
          continue outer;
        }
      }

      // A tag is complete and its '>' consumed: hand it over.
      this.state = TEXT;
      if (this.text !== "") {
        const t = this.text;
        this.text = "";
        this.onText(t);
      }
      if (emit === E_END) this.onEndTag(this.acc);
      else this.onStartTag(this.tagName, this.attrs, emit === E_EMPTY);
      if (this.failed) return;
      if (this.mode === MODE_WS) {
        // Back at stream level (or restarted by a handler): a new unit starts after the '>'.
        lim = i + extra + max;
        end = lim - extra;
        if (end > n) end = n;
      }
    }
    this.budget = lim - n - extra;
    this.crPending = s.charCodeAt(n - 1) === 0x0d;
  }
}

function hex(c: number): string {
  return c.toString(16).toUpperCase().padStart(4, "0");
}

// The rarer markup of an XMPP stream, for the stream tokenizer (tokenizer.ts): what follows "<!"
// (a CDATA section; a comment or a document type declaration, which RFC 6120 11.1 refuses) and
// the XML declaration "<?xml ...?>" at the very start of the stream. Resumable like the tokenizer:
// scan() goes on where the previous string left off.

import { charNotAllowed, checkXmlDecl, isWs, utf8Extra } from "./chars.js";
import type { XmlErrorCondition } from "./tokenizer.js";

// States.
const BANG = 0; // after '<!'
const MATCH = 1; // matching a literal after '<!'
const CDATA = 2;
const DECL = 3; // after '<?'

// What a '<!' literal leads to.
const K_COMMENT = 0;
const K_CDATA = 1;
const K_DOCTYPE = 2;

const MAX_DECL_LENGTH = 256;

export class MarkupScanner {
  /** Set by scan(): the markup ended (its '>' was consumed). */
  done = false;
  /** Set by scan(): character data of a CDATA section, for the caller to take. */
  text = "";
  /** Set by scan(): the `stop` it was given, lowered as it met non-ASCII characters. */
  stop = 0;
  /** Set when scan() returns -1. */
  condition: XmlErrorCondition = "not-well-formed";
  error = "";

  private state = BANG;
  private atStreamLevel = false; // where the '<!' was: no character data there
  private lit = "";
  private litIdx = 0;
  private litKind = 0;
  private brackets = 0; // consecutive ']' just before, in a CDATA section
  private held = 0; // trailing ']' not yet added to `text`
  private decl = ""; // the XML declaration so far
  private declQ = false; // its last character was '?'

  /** After '<!'. */
  bang(atStreamLevel: boolean): void {
    this.atStreamLevel = atStreamLevel;
    this.state = BANG;
  }

  /** After '<?' at the very start of the stream. */
  xmlDecl(): void {
    this.decl = "";
    this.declQ = false;
    this.state = DECL;
  }

  reset(): void {
    this.text = this.decl = "";
    this.brackets = this.held = 0;
    this.declQ = false;
  }

  /**
   * Scans s from i, up to the markup's end, the end of s or index `stop`, where the current
   * unit's size budget runs out (each non-ASCII code unit lowers it by the UTF-8 bytes it takes
   * beyond one). Returns the index after what was consumed, or -1 if the markup is refused.
   * `crPending`: the string before s ended with CR.
   */
  scan(s: string, i: number, stop: number, crPending: boolean): number {
    const n = s.length;
    let end = stop < n ? stop : n;
    let c = 0;
    let d = 0;
    this.done = false;

    outer: while (i < end) {
      switch (this.state) {
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
          if (this.atStreamLevel) {
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
                const skip = c === 0x0a && (i === 0 ? crPending : s.charCodeAt(i - 1) === 0x0d);
                this.text +=
                  (held > 0 ? "]]".slice(0, held) : "") + s.slice(st, i) + (skip ? "" : "\n");
                held = 0;
                st = i + 1;
                continue;
              }
              return this.fail("not-well-formed", charNotAllowed(c));
            }
            if (c < 0x80) continue;
            d = utf8Extra(s, i, c);
            if (d < 0) return this.fail("not-well-formed", charNotAllowed(c));
            stop -= d;
            end = stop < n ? stop : n;
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
          this.done = true;
          break outer;
        }

        case DECL: {
          const st = i;
          let q = this.declQ;
          const room = MAX_DECL_LENGTH - this.decl.length + i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c === 0x3e && q) break;
            q = c === 0x3f;
            if (c >= 0x80 || (c < 0x20 && !isWs(c)) || i >= room) {
              return this.fail("not-well-formed", "malformed XML declaration");
            }
          }
          this.declQ = q;
          this.decl += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          const problem = checkXmlDecl(this.decl.slice(0, -1));
          if (problem !== null) return this.fail(problem.condition, problem.text);
          this.decl = "";
          this.done = true;
          break outer;
        }
      }
    }
    this.stop = stop;
    return i;
  }

  private fail(condition: XmlErrorCondition, text: string): number {
    this.condition = condition;
    this.error = text;
    return -1;
  }
}

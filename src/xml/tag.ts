// The inside of a tag, for the stream tokenizer (tokenizer.ts): from the first character of the
// name to the closing '>', a start tag's name and attributes or an end tag's name. Resumable like
// the tokenizer: scan() goes on where the previous string left off. A reference in an attribute
// value is handed back to the tokenizer, which reads references in text too.

import {
  ASCII,
  C_NAME,
  charNotAllowed,
  isNameCharNonAscii,
  isNameStartAt,
  isWs,
  show,
  utf8Extra,
} from "./chars.js";

// States.
const STAG_NAME = 0;
const TAG_WS = 1; // inside a start tag, before an attribute, '/' or '>'
const ATTR_NAME = 2;
const ATTR_NAME_AFTER = 3; // whitespace between an attribute name and '='
const ATTR_EQ = 4; // after '=', before the quote
const ATTR_VALUE = 5;
const ATTR_VALUE_AFTER = 6; // after the closing quote
const EMPTY = 7; // after '/' in a start tag
const ETAG_NAME = 8;
const ETAG_AFTER = 9;

// What stopped scan(), in `found`.
/** The string or the size budget ran out first. */
export const TAG_INCOMPLETE = 0;
export const TAG_START = 1;
export const TAG_EMPTY = 2;
export const TAG_END = 3;
/** '&' in an attribute value: the caller reads the reference, adds its text, then scans on. */
export const TAG_REF = 4;

export class TagScanner {
  /** The tag's name, once scan() found its end. */
  name = "";
  /** [name, value, name, value, ...] of a start tag, reused from one tag to the next. */
  attrs: string[] = [];
  /** Set by scan(): TAG_INCOMPLETE or what it found. */
  found = TAG_INCOMPLETE;
  /** Set by scan(): the `stop` it was given, lowered as it met non-ASCII characters. */
  stop = 0;
  /** Set when scan() returns -1: why the tag is not well-formed. */
  error = "";

  private state = STAG_NAME;
  private acc = ""; // partial name or attribute value
  private attrName = "";
  private quote = 0;

  /** After '<': a start tag's name comes next. */
  startTag(): void {
    this.acc = "";
    this.attrs.length = 0;
    this.state = STAG_NAME;
  }

  /** After '</'. */
  endTag(): void {
    this.acc = "";
    this.state = ETAG_NAME;
  }

  /** The text of a reference met in the attribute value (TAG_REF). */
  addToValue(text: string): void {
    this.acc += text;
  }

  reset(): void {
    this.acc = "";
    this.attrs = [];
  }

  /**
   * Scans s from i, up to the tag's end, the end of s or index `stop`, where the current unit's
   * size budget runs out (each non-ASCII code unit lowers it by the UTF-8 bytes it takes beyond
   * one). Returns the index after what was consumed, or -1 if the tag is not well-formed.
   * `crPending`: the string before s ended with CR.
   */
  scan(s: string, i: number, stop: number, crPending: boolean): number {
    const n = s.length;
    let end = stop < n ? stop : n;
    let c = 0;
    let d = 0;
    this.found = TAG_INCOMPLETE;

    outer: while (i < end) {
      switch (this.state) {
        case STAG_NAME:
        case ATTR_NAME:
        case ETAG_NAME: {
          if (this.acc === "" && !isNameStartAt(s, i)) {
            return this.fail("invalid name start character");
          }
          const st = i;
          for (; i < end; i++) {
            c = s.charCodeAt(i);
            if (c < 0x80) {
              if ((ASCII[c] & C_NAME) !== 0) continue;
              break;
            }
            if (!isNameCharNonAscii(c) || (d = utf8Extra(s, i, c)) < 0) break;
            stop -= d;
            end = stop < n ? stop : n;
            if (i >= end) break;
          }
          if (st < i) this.acc += s.slice(st, i);
          if (i >= end) continue outer;
          const state = this.state;
          if (state === STAG_NAME) {
            this.name = this.acc;
            if (c === 0x3e) {
              i++;
              this.found = TAG_START;
              break outer;
            }
            if (c === 0x2f) this.state = EMPTY;
            else if (isWs(c)) this.state = TAG_WS;
            else return this.fail("malformed start tag");
          } else if (state === ATTR_NAME) {
            this.attrName = this.acc;
            if (c === 0x3d) this.state = ATTR_EQ;
            else if (isWs(c)) this.state = ATTR_NAME_AFTER;
            else return this.fail(`malformed attribute ${show(this.acc)}`);
          } else {
            this.name = this.acc;
            if (c === 0x3e) {
              i++;
              this.found = TAG_END;
              break outer;
            }
            if (isWs(c)) this.state = ETAG_AFTER;
            else return this.fail("malformed end tag");
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
              this.found = TAG_START;
              break outer;
            }
            if (c === 0x2f) {
              i++;
              this.state = EMPTY;
            } else if (isNameStartAt(s, i)) {
              this.acc = "";
              this.state = ATTR_NAME;
            } else return this.fail("malformed start tag");
          } else if (state === ATTR_NAME_AFTER) {
            if (c !== 0x3d) return this.fail(`attribute ${show(this.attrName)} has no value`);
            i++;
            this.state = ATTR_EQ;
          } else if (state === ATTR_EQ) {
            if (c !== 0x22 && c !== 0x27) {
              return this.fail(`attribute ${show(this.attrName)} is not quoted`);
            }
            i++;
            this.quote = c;
            this.acc = "";
            this.state = ATTR_VALUE;
          } else {
            if (c !== 0x3e) return this.fail("malformed end tag");
            i++;
            this.found = TAG_END;
            break outer;
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
              if (c === 0x0a && (i === 0 ? crPending : s.charCodeAt(i - 1) === 0x0d)) {
                this.acc += s.slice(st, i);
              } else if (c === 0x0a || c === 0x0d || c === 0x09) {
                this.acc += s.slice(st, i) + " ";
              } else {
                return this.fail(charNotAllowed(c));
              }
              st = i + 1;
              continue;
            }
            d = utf8Extra(s, i, c);
            if (d < 0) return this.fail(charNotAllowed(c));
            stop -= d;
            end = stop < n ? stop : n;
            if (i >= end) break;
          }
          if (st < i) this.acc += s.slice(st, i);
          if (i >= end) continue outer;
          i++;
          if (c === q) {
            this.attrs.push(this.attrName, this.acc);
            this.state = ATTR_VALUE_AFTER;
          } else if (c === 0x26) {
            this.found = TAG_REF; // the state stays ATTR_VALUE
            break outer;
          } else {
            return this.fail("'<' is not allowed in an attribute value");
          }
          continue outer;
        }

        case ATTR_VALUE_AFTER:
        case EMPTY: {
          c = s.charCodeAt(i);
          i++;
          if (c === 0x3e) {
            this.found = this.state === EMPTY ? TAG_EMPTY : TAG_START;
            break outer;
          }
          if (this.state === ATTR_VALUE_AFTER) {
            if (isWs(c)) this.state = TAG_WS;
            else if (c === 0x2f) this.state = EMPTY;
            else return this.fail("attributes must be separated by whitespace");
            continue outer;
          }
          return this.fail("'/' must be followed by '>'");
        }
      }
    }
    this.stop = stop;
    return i;
  }

  private fail(text: string): number {
    this.error = text;
    return -1;
  }
}

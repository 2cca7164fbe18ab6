// XML for Parley: the stream parser and the element type. The only module that imports ltx.

import { Element } from "ltx";

export { Element } from "ltx";
export { StreamParser } from "./parser.js";
export type {
  StreamParserLimits,
  StreamParserHandlers,
  StreamHeader,
  XmlErrorCondition,
} from "./parser.js";

type Child = Element | string | null | undefined | false;

function append(el: Element, child: Child | boolean | Child[]): void {
  if (Array.isArray(child)) {
    for (const c of child) append(el, c);
  } else if (typeof child === "string") {
    if (child !== "") el.children.push(child);
  } else if (child instanceof Element) {
    el.children.push(child);
    child.parent = el;
  }
}

/**
 * Builds an element, as @xmpp/xml's xml() (ltx createElement) does: undefined and null
 * attributes are left out, empty strings, null, undefined and booleans among the children are
 * skipped, arrays of children are flattened. The caller's attrs object is not modified.
 *
 * Not a re-export of @xmpp/xml: that package builds ltx's CommonJS Element class, which is not
 * the ESM `Element` exported here, so `instanceof Element` would fail on its results.
 */
export function xml(
  name: string,
  attrs?: Record<string, string | undefined> | null,
  ...children: (Element | string | null | undefined | false)[]
): Element {
  const el = new Element(name);
  if (attrs) {
    for (const key of Object.keys(attrs)) {
      const v = attrs[key];
      if (v != null) el.attrs[key] = String(v);
    }
  }
  for (const child of children) append(el, child);
  return el;
}

/**
 * A deep copy (attributes and children; the copy has no parent). Not in the original API
 * brief: src/core/iq.ts and src/xmpp/errors.ts use it to echo a payload in error replies.
 */
export function cloneElement(el: Element): Element {
  const copy = new Element(el.name);
  copy.attrs = { ...el.attrs };
  for (const child of el.children) {
    if (typeof child === "string") {
      copy.children.push(child);
    } else {
      const c = cloneElement(child);
      c.parent = copy;
      copy.children.push(c);
    }
  }
  return copy;
}

const ATTR_SPECIAL = /[&<>"'\t\n\r]/;
const ATTR_ALL = /[&<>"'\t\n\r]/g;
const TEXT_SPECIAL = /[&<>\r]/;
const TEXT_ALL = /[&<>\r]/g;
const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};
const replace = (ch: string): string => ENTITIES[ch];

/**
 * Escapes an attribute value for either quote. Tab, LF and CR become character references, as
 * a parser would otherwise turn them into spaces (XML 1.0 3.3.3).
 */
export function escapeXml(s: string): string {
  return ATTR_SPECIAL.test(s) ? s.replace(ATTR_ALL, replace) : s;
}

/** Escapes a text node: & < > and CR (which a parser would turn into LF). */
export function escapeXmlText(s: string): string {
  return TEXT_SPECIAL.test(s) ? s.replace(TEXT_ALL, replace) : s;
}

/**
 * An element as XML text: what ltx's toString() writes, except that CR in text and tab, LF
 * and CR in attribute values are written as character references. ltx writes them as they
 * are, and the next parser turns them into LF and spaces (XML 1.0 2.11 and 3.3.3): a body
 * received with &#13; was delivered, stored offline and recorded in the audit trail altered.
 * Every stanza Parley writes or stores goes through here.
 */
export function serialize(el: Element): string {
  let s = "<" + el.name;
  const attrs = el.attrs;
  for (const k in attrs) {
    const v = attrs[k];
    if (v != null) s += " " + k + '="' + escapeXml(typeof v === "string" ? v : String(v)) + '"';
  }
  const children = el.children;
  if (children.length === 0) return s + "/>";
  s += ">";
  for (const child of children) {
    if (typeof child === "string") s += escapeXmlText(child);
    else if (child != null) s += serialize(child);
  }
  return s + "</" + el.name + ">";
}

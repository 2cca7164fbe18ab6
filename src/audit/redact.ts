// Credentials never enter the trail. SASL payloads never reach the sink (they
// are not stanzas); what can carry a password inside a stanza is in-band
// registration and password change (XEP-0077), as a <password/> element or a
// data form field, in either direction (an error reply echoes the request).

import { type Element, cloneElement } from "../xml/index.js";

const NS_REGISTER = "jabber:iq:register";
export const REDACTED = "[redacted]";

/** Cheap test on the hot path: only an iq whose payload is a registration query. */
export function needsRedaction(el: Element): boolean {
  if (el.name !== "iq") return false;
  return el.getChildElements().some((c) => c.attrs.xmlns === NS_REGISTER);
}

/** A redacted copy; the routed stanza itself is left untouched. */
export function redacted(el: Element): Element {
  const copy = cloneElement(el);
  scrub(copy);
  return copy;
}

function scrub(el: Element): void {
  for (const child of el.getChildElements()) {
    const isPassword = child.name === "password" || (child.name === "field" && /password/i.test(child.attrs.var ?? ""));
    if (isPassword) {
      if (child.name === "field") for (const value of child.getChildElements()) value.children = [REDACTED];
      else child.children = [REDACTED];
    } else scrub(child);
  }
}

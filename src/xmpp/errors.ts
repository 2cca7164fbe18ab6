// The one error catalogue: stanza errors (RFC 6120 8.3.3) and stream errors
// (RFC 6120 4.9.3) as string-literal unions, with their wire form.

import { type Element, cloneElement, xml } from "../xml/index.js";
import { NS } from "./ns.js";

export type StreamErrorCondition =
  | "bad-format"
  | "bad-namespace-prefix"
  | "conflict"
  | "connection-timeout"
  | "host-gone"
  | "host-unknown"
  | "improper-addressing"
  | "internal-server-error"
  | "invalid-from"
  | "invalid-namespace"
  | "invalid-xml"
  | "not-authorized"
  | "not-well-formed"
  | "policy-violation"
  | "remote-connection-failed"
  | "reset"
  | "resource-constraint"
  | "restricted-xml"
  | "see-other-host"
  | "system-shutdown"
  | "undefined-condition"
  | "unsupported-encoding"
  | "unsupported-feature"
  | "unsupported-stanza-type"
  | "unsupported-version";

export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

export type StanzaErrorCondition =
  | "bad-request"
  | "conflict"
  | "feature-not-implemented"
  | "forbidden"
  | "gone"
  | "internal-server-error"
  | "item-not-found"
  | "jid-malformed"
  | "not-acceptable"
  | "not-allowed"
  | "not-authorized"
  | "policy-violation"
  | "recipient-unavailable"
  | "redirect"
  | "registration-required"
  | "remote-server-not-found"
  | "remote-server-timeout"
  | "resource-constraint"
  | "service-unavailable"
  | "subscription-required"
  | "undefined-condition"
  | "unexpected-request";

/** The error type RFC 6120 8.3.3 gives each condition in its examples. */
const DEFAULT_TYPE: Record<StanzaErrorCondition, StanzaErrorType> = {
  "bad-request": "modify",
  conflict: "cancel",
  "feature-not-implemented": "cancel",
  forbidden: "auth",
  gone: "cancel",
  "internal-server-error": "cancel",
  "item-not-found": "cancel",
  "jid-malformed": "modify",
  "not-acceptable": "modify",
  "not-allowed": "cancel",
  "not-authorized": "auth",
  "policy-violation": "modify",
  "recipient-unavailable": "wait",
  redirect: "modify",
  "registration-required": "auth",
  "remote-server-not-found": "cancel",
  "remote-server-timeout": "wait",
  "resource-constraint": "wait",
  "service-unavailable": "cancel",
  "subscription-required": "auth",
  "undefined-condition": "cancel",
  "unexpected-request": "wait",
};

export class StanzaError extends Error {
  readonly type: StanzaErrorType;
  constructor(
    readonly condition: StanzaErrorCondition,
    readonly text?: string,
    type?: StanzaErrorType,
    /** Extra application-specific child (e.g. a XEP's own condition element). */
    readonly appCondition?: Element,
  ) {
    super(text ?? condition);
    this.type = type ?? DEFAULT_TYPE[condition];
  }

  toElement(by?: string): Element {
    return xml(
      "error",
      { type: this.type, by },
      xml(this.condition, { xmlns: NS.STANZAS_ERR }),
      this.text ? xml("text", { xmlns: NS.STANZAS_ERR, "xml:lang": "en" }, this.text) : null,
      this.appCondition ?? null,
    );
  }
}

/**
 * The error reply to a stanza (RFC 6120 8.3.1): same name and id, addresses
 * swapped, type="error", the original payload kept so the sender can match it.
 */
export function errorReply(stanza: Element, error: StanzaError): Element {
  const reply = xml(stanza.name, {
    type: "error",
    id: stanza.attrs.id,
    from: stanza.attrs.to,
    to: stanza.attrs.from,
  });
  if (stanza.name !== "iq") for (const child of stanza.children) reply.cnode(typeof child === "string" ? child : cloneElement(child));
  else {
    const payload = stanza.getChildElements()[0];
    if (payload) reply.cnode(cloneElement(payload));
  }
  reply.cnode(error.toElement());
  return reply;
}

export function streamError(condition: StreamErrorCondition, text?: string): Element {
  return xml(
    "stream:error",
    {},
    xml(condition, { xmlns: NS.STREAMS_ERR }),
    text ? xml("text", { xmlns: NS.STREAMS_ERR, "xml:lang": "en" }, text) : null,
  );
}

// The delivery rules of RFC 6121 section 8 in one place. Every stanza for a
// local address goes through deliver(); what a client sends enters through
// fromClient(). Modules change behaviour through core events, not here.

import type { Element } from "../xml/index.js";
import { StanzaError, errorReply } from "../xmpp/errors.js";
import { Jid } from "../xmpp/jid.js";
import type { EventBus } from "./events.js";
import type { IqDispatcher, IqTarget } from "./iq.js";
import type { Logger } from "./log.js";
import type { ClientSession } from "./session.js";
import type { SessionRegistry } from "./sessions.js";

export interface RouterDeps {
  hosts: ReadonlySet<string>;
  sessions: SessionRegistry;
  events: EventBus;
  iq: IqDispatcher;
  accountExists(bare: Jid): Promise<boolean>;
  log: Logger;
}

export class Router {
  constructor(private readonly deps: RouterDeps) {}

  isLocal(jid: Jid): boolean {
    return this.deps.hosts.has(jid.domain);
  }

  /** A stanza from a bound client: 'from' is already stamped with the session's full JID. */
  async fromClient(session: ClientSession, el: Element): Promise<void> {
    let to: Jid | null = null;
    if (el.attrs.to !== undefined) {
      to = Jid.tryParse(el.attrs.to);
      if (!to) return this.bounce(el, new StanzaError("jid-malformed", "the 'to' address is not a valid JID"), session);
      el.attrs.to = to.toString();
    }
    switch (el.name) {
      case "iq":
        return this.iqFromClient(session, el, to);
      case "message":
        if (await this.deps.events.emit("message/outbound", session, el)) return;
        // RFC 6121 8.1.1.1: no 'to' means the sender's own bare JID.
        return this.deliver(el, to ?? session.jid.bare(), session);
      case "presence":
        this.trackAvailability(session, el, to);
        if (await this.deps.events.emit("presence/outbound", session, el)) return;
        // Without a presence module, only directed presence is routed.
        if (to && (el.attrs.type === undefined || el.attrs.type === "unavailable")) return this.deliver(el, to, session);
        return;
    }
  }

  private trackAvailability(session: ClientSession, el: Element, to: Jid | null): void {
    if (to) return;
    if (el.attrs.type === undefined) {
      const priority = Number.parseInt(el.getChildText("priority") ?? "0", 10);
      session.priority = Number.isFinite(priority) ? Math.max(-128, Math.min(127, priority)) : 0;
      session.available = true;
      session.presence = el;
    } else if (el.attrs.type === "unavailable") {
      session.available = false;
      session.presence = null;
    }
  }

  private async iqFromClient(session: ClientSession, el: Element, to: Jid | null): Promise<void> {
    const own = session.jid.bare();
    // RFC 6120 10.3.3: no 'to' (or the own bare JID) is handled on the account's behalf.
    if (!to || to.equals(own)) return this.dispatchIq(el, "account", own, session);
    return this.deliver(el, to, session);
  }

  /** Any stanza for an address, from a local client (origin) or from the server itself. */
  async deliver(el: Element, to: Jid, origin: ClientSession | null = null): Promise<void> {
    if (!this.isLocal(to)) {
      return this.bounce(el, new StanzaError("remote-server-not-found", "server-to-server is not enabled"), origin);
    }
    if (!to.local) return this.deliverToServer(el, to, origin);
    if (to.resource) return this.deliverToFull(el, to, origin);
    return this.deliverToBare(el, to, origin);
  }

  private async deliverToServer(el: Element, to: Jid, origin: ClientSession | null): Promise<void> {
    if (el.name === "iq" && !to.resource) return this.dispatchIq(el, "server", to, origin);
    if (el.name === "iq") return this.bounce(el, new StanzaError("service-unavailable"), origin);
    // Messages and presence to the server itself: nothing handles them yet.
    this.deps.log.debug("dropped stanza addressed to the server", { name: el.name, to: to.toString() });
  }

  private async deliverToFull(el: Element, to: Jid, origin: ClientSession | null): Promise<void> {
    const from = Jid.tryParse(el.attrs.from ?? "");
    if (el.name === "presence") {
      if (from && (await this.deps.events.emit("presence/inbound", el, to, from))) return;
      await this.deps.sessions.get(to)?.send(el);
      return;
    }
    const session = this.deps.sessions.get(to);
    if (session) {
      await session.send(el);
      if (el.name === "message") await this.deps.events.emit("message/delivered", el, to, [session]);
      return;
    }
    if (el.name === "iq") {
      if (el.attrs.type === "get" || el.attrs.type === "set") return this.bounce(el, new StanzaError("service-unavailable"), origin);
      return;
    }
    // RFC 6121 8.5.3.2.1: a message to an unavailable resource is treated as sent to the bare JID
    // (normal, chat, headline); groupchat gets service-unavailable; error is dropped.
    const type = messageType(el);
    if (type === "groupchat") return this.bounce(el, new StanzaError("service-unavailable"), origin);
    if (type === "error") return;
    return this.deliverToBare(el, to.bare(), origin);
  }

  private async deliverToBare(el: Element, to: Jid, origin: ClientSession | null): Promise<void> {
    const exists = this.deps.sessions.resources(to).length > 0 || (await this.deps.accountExists(to));
    if (el.name === "presence") {
      // RFC 6121 8.5.1: presence to an account that does not exist is silently ignored.
      const from = Jid.tryParse(el.attrs.from ?? "");
      if (exists && from) await this.deps.events.emit("presence/inbound", el, to, from);
      return;
    }
    if (el.name === "iq") {
      if (!exists) return this.bounce(el, new StanzaError("service-unavailable"), origin);
      return this.dispatchIq(el, "account", to, origin);
    }
    const type = messageType(el);
    if (!exists) {
      // RFC 6121 8.5.1: no such account.
      if (type === "headline" || type === "error") return;
      return this.bounce(el, new StanzaError("service-unavailable"), origin);
    }
    // RFC 6121 8.5.2.1.1 and 8.5.2.2.1: by message type.
    if (type === "error") return;
    if (type === "groupchat") return this.bounce(el, new StanzaError("service-unavailable"), origin);
    const targets =
      type === "headline"
        ? this.deps.sessions.available(to).filter((s) => s.priority >= 0)
        : this.deps.sessions.highestPriority(to);
    if (targets.length > 0) {
      await Promise.all(targets.map((s) => s.send(el)));
      await this.deps.events.emit("message/delivered", el, to, targets);
      return;
    }
    if (type === "headline") return;
    if (await this.deps.events.emit("message/offline", el, to)) return;
    return this.bounce(el, new StanzaError("service-unavailable", "the recipient is not available"), origin);
  }

  private async dispatchIq(el: Element, target: IqTarget, to: Jid, origin: ClientSession | null): Promise<void> {
    const type = el.attrs.type;
    if (type === "result" || type === "error") return; // responses to the server itself: handled by whoever awaited them
    const from = Jid.tryParse(el.attrs.from ?? "");
    const payload = el.getChildElements();
    if (!from) return;
    if ((type !== "get" && type !== "set") || payload.length !== 1 || el.attrs.id === undefined) {
      return this.bounce(el, new StanzaError("bad-request", "an iq get or set needs an id and exactly one child"), origin);
    }
    const reply = await this.deps.iq.dispatch(target, {
      el,
      type,
      payload: payload[0]!,
      from,
      to,
      session: origin,
      self: from.bare().equals(to),
    });
    // Requests to the account on the sender's own behalf carry no 'from' in the reply (RFC 6120 10.3.3).
    if (target === "account" && el.attrs.to === undefined) delete reply.attrs.from;
    return this.reply(reply, from, origin);
  }

  /** Sends a stanza error back to whoever sent el; never answers an error with an error. */
  async bounce(el: Element, error: StanzaError, origin: ClientSession | null): Promise<void> {
    if (el.attrs.type === "error") return;
    if (el.name === "iq" && el.attrs.type === "result") return;
    const from = Jid.tryParse(el.attrs.from ?? "");
    if (!from) return;
    return this.reply(errorReply(el, error), from, origin);
  }

  private async reply(reply: Element, to: Jid, origin: ClientSession | null): Promise<void> {
    if (origin && origin.jid.equals(to)) {
      await origin.send(reply);
      return;
    }
    if (this.isLocal(to)) return this.deliver(reply, to, null);
  }
}

/** RFC 6121 5.2.2: a missing or unknown type is "normal". */
export function messageType(el: Element): "chat" | "error" | "groupchat" | "headline" | "normal" {
  const t = el.attrs.type;
  return t === "chat" || t === "error" || t === "groupchat" || t === "headline" ? t : "normal";
}

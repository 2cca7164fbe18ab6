// One client-to-server stream (RFC 6120): the XML stream, its negotiation
// (STARTTLS, SASL, bind) as a small state machine, and once bound, the
// in-order processing of stanzas. Transport-agnostic: see transport.ts. Its
// parts: negotiation.ts, write-ahead.ts (audit before any write), keepalive.ts.

import { randomBytes } from "node:crypto";
import type { AuditParty, AuditSink, Detail, SessionEvent } from "../audit/sink.js";
import type { Core } from "../core/modules.js";
import type { Logger } from "../core/log.js";
import type { ClientSession } from "../core/session.js";
import { type Element, StreamParser, type StreamHeader, escapeXml, serialize, xml } from "../xml/index.js";
import { type StreamErrorCondition, StanzaError, errorReply, streamError } from "../xmpp/errors.js";
import { Jid, prepDomain } from "../xmpp/jid.js";
import { NS } from "../xmpp/ns.js";
import { Keepalive } from "./keepalive.js";
import { Negotiation } from "./negotiation.js";
import type { AuthThrottle } from "./throttle.js";
import type { Transport } from "./transport.js";
import { WriteAhead } from "./write-ahead.js";

export interface C2sContext {
  core: Core;
  throttle: AuthThrottle;
  log: Logger;
  /** The audit tap: every stanza in and out, every session event (core, not a module). */
  audit: AuditSink;
}

type State = "header" | "negotiating" | "bound" | "closed";

/** Pending stanzas per session beyond which we stop reading its socket. */
const MAX_QUEUED = 64;
const CLOSE_GRACE_MS = 2000;

export class C2sStream implements ClientSession {
  readonly id = randomBytes(9).toString("base64url");
  readonly data = new Map<string, unknown>();
  priority = 0;
  available = false;
  presence: Element | null = null;
  interested = false;

  private state: State = "header";
  private headerSent = false;
  private readonly parser: StreamParser;
  private queue: Promise<void> = Promise.resolve();
  /** Counts stream restarts: an element queued on a stream that has since restarted is dropped. */
  private generation = 0;
  private queued = 0;
  private paused = false;
  private negotiation: Negotiation;
  private boundJid: Jid | null = null;
  /** The hosted domain the client asked for in its stream header. */
  domain = "";
  readonly log: Logger;
  private readonly keepalive: Keepalive;
  private readonly connectedAt = Date.now();
  private closeReason = "closed";
  private readonly writeAhead: WriteAhead;

  constructor(
    readonly ctx: C2sContext,
    readonly transport: Transport,
  ) {
    this.log = ctx.log.child(this.id);
    this.parser = this.createParser();
    this.negotiation = new Negotiation(this);
    this.writeAhead = new WriteAhead(this);
    this.keepalive = new Keepalive(this);
    transport.onData((chunk) => this.onData(chunk));
    transport.onClose((reason) => void this.onTransportClosed(reason));
    this.keepalive.schedule(ctx.core.config.limits.auth_timeout_seconds * 1000);
    this.log.debug("connected", { address: transport.remoteAddress, tls: transport.secure });
    // First in the queue: nothing this connection sends is handled before its connect record.
    this.noteEvent("connect", { tls: transport.secure });
  }

  get jid(): Jid {
    if (!this.boundJid) throw new Error("session is not bound");
    return this.boundJid;
  }

  get remoteAddress(): string {
    return this.transport.remoteAddress;
  }

  get secure(): boolean {
    return this.transport.secure;
  }

  get isBound(): boolean {
    return this.state === "bound";
  }

  get isClosed(): boolean {
    return this.state === "closed";
  }

  /** Who audit records of this stream are about; `account` before binding (authentication). */
  auditParty(account?: string | null): AuditParty {
    return {
      session: this.id,
      account: this.boundJid ? this.boundJid.bare().toString() : (account ?? null),
      resource: this.boundJid?.resource ?? null,
      remote: this.remoteAddress,
    };
  }

  /** Records a session event; resolves once committed (a failure closes the stream via the queue). */
  auditEvent(type: SessionEvent, detail: Detail, account?: string | null): Promise<void> {
    return this.ctx.audit.event(this.auditParty(account), type, detail);
  }

  /**
   * Records a session event without waiting for its commit: the writer commits in
   * order, so the next stanza written to this client (whose own record is waited
   * for) proves the event is durable too. Saves a commit round trip per
   * negotiation step; a failure still closes the stream (fail closed).
   */
  noteEvent(type: SessionEvent, detail: Detail, account?: string | null): void {
    this.auditEvent(type, detail, account).catch((err: unknown) => this.auditFailed(err));
  }

  private createParser(): StreamParser {
    const { max_stanza_bytes, max_xml_depth } = this.ctx.core.config.limits;
    return new StreamParser(
      { maxStanzaBytes: max_stanza_bytes, maxDepth: max_xml_depth },
      {
        streamStart: (header) => this.onStreamStart(header),
        element: (el, ns) => this.onElement(el, ns),
        streamEnd: () => this.onStreamEnd(),
        error: (condition, text) => void this.close(condition, text),
      },
    );
  }

  /** Stream restart after STARTTLS or SASL success (RFC 6120 5.4.3.3, 6.4.6). */
  restart(): void {
    // reset(), not a new parser: the rest of the current chunk belongs to the new stream.
    this.parser.reset();
    this.generation++;
    this.state = "header";
    this.headerSent = false;
  }

  /**
   * Drops the rest of the input read so far, without an error, until restart(). STARTTLS calls
   * it before the handshake: bytes after <starttls/> in the same read came in plaintext and
   * must not be taken as the start of the encrypted stream (RFC 6120 5.4.3.3).
   */
  discardInput(): void {
    this.parser.discardInput();
  }

  /** Shutdown: input is no longer read, so nothing new is accepted (see drain()). */
  private draining = false;

  /**
   * Shutdown, before close(): stops reading, then waits until every stanza
   * already accepted has been handled and every write queued has gone out, so
   * nothing accepted is lost between this stream and the ones it delivers to.
   */
  async drain(): Promise<void> {
    this.draining = true;
    this.transport.pause();
    await this.queue;
    await this.writeAhead.flushed;
  }

  private onData(chunk: Buffer): void {
    if (this.state === "closed" || this.draining) return;
    this.keepalive.input();
    // A throw here would escape the socket's data handler and end the whole process: a bug in
    // the parser or a handler it calls must cost only this stream (RFC 6120 4.9.3.11).
    try {
      this.parser.write(chunk);
    } catch (err) {
      this.internalError("input processing failed", err);
    }
  }

  /** A bug met while serving this stream: logged with its stack, and only this stream closes. */
  private internalError(what: string, err: unknown): void {
    this.log.error(what, { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    void this.close("internal-server-error");
  }

  private onStreamStart(header: StreamHeader): void {
    if (this.state !== "header") return void this.close("not-well-formed", "unexpected stream header");
    const to = header.attrs.to;
    let domain: string | null = null;
    try {
      domain = to === undefined ? null : prepDomain(to);
    } catch {
      domain = null;
    }
    if (this.domain && domain !== this.domain) domain = null; // a restart must not switch domains
    this.domain = domain && this.ctx.core.hosts.has(domain) ? domain : "";
    // RFC 6120 4.9.1.2: an error before our header is sent goes after one.
    this.sendHeader(header.attrs.from);
    if (header.localName !== "stream" || header.ns !== NS.STREAM) {
      return void this.close("invalid-namespace", "the stream element must be http://etherx.jabber.org/streams stream");
    }
    if (header.defaultNs !== NS.CLIENT) {
      return void this.close("invalid-namespace", "the content namespace must be jabber:client");
    }
    // RFC 6120 4.7.5: no version means pre-XMPP 1.0, which we do not speak; a higher
    // version is answered with ours (1.0), and the client decides whether to go on.
    const major = Number.parseInt((header.attrs.version ?? "0.9").split(".")[0] ?? "", 10);
    if (!(major >= 1)) return void this.close("unsupported-version", "XMPP version 1.0 is required");
    if (!this.domain) {
      return void this.close("host-unknown", to === undefined ? "the stream header has no 'to'" : `${to} is not served here`);
    }
    this.state = "negotiating";
    this.sendRaw(serialize(this.negotiation.features()));
  }

  private sendHeader(clientFrom?: string): void {
    if (this.headerSent) return;
    this.headerSent = true;
    const from = this.domain || this.ctx.core.config.server.domains[0] || "localhost";
    const to = clientFrom && Jid.tryParse(clientFrom) ? ` to='${escapeXml(clientFrom)}'` : "";
    this.sendRaw(
      `<?xml version='1.0'?><stream:stream xmlns='${NS.CLIENT}' xmlns:stream='${NS.STREAM}' id='${this.id}' from='${escapeXml(from)}'${to} version='1.0' xml:lang='en'>`,
    );
  }

  private onElement(el: Element, ns: string | undefined): void {
    if (this.state === "closed") return;
    if (this.state === "header") return void this.close("not-well-formed", "stanza before the stream header");
    if (this.state === "negotiating") {
      // Negotiation may need to stop reading (STARTTLS) before the next element is parsed.
      if (!this.negotiation.accepts(el, ns)) return;
    }
    // RFC 6120 6.4.6: after SASL success the old stream is gone. An element the client sent
    // after <auth/> without waiting for <success/> is parsed before the restart, so it must not
    // be handled after it (e.g. a bind never sent on the new stream).
    const generation = this.generation;
    this.enqueue(() => {
      if (generation !== this.generation) return;
      return this.state === "bound" ? this.onStanza(el, ns) : this.negotiation.handle(el, ns);
    });
  }

  /** One queue per session (RFC 6120 10.1): a slow handler never lets a later stanza overtake. */
  private enqueue(task: () => Promise<void> | undefined): void {
    this.queued++;
    if (this.queued > MAX_QUEUED && !this.paused) {
      this.paused = true;
      this.transport.pause();
    }
    this.queue = this.queue
      .then(task)
      .catch((err: unknown) => this.internalError("stanza processing failed", err))
      .finally(() => {
        this.queued--;
        if (this.paused && this.queued <= MAX_QUEUED / 2) {
          this.paused = false;
          this.transport.resume();
        }
      });
  }

  private async onStanza(el: Element, ns: string | undefined): Promise<void> {
    if (this.state !== "bound") return;
    if (ns !== NS.CLIENT) {
      const handler = ns ? this.ctx.core.nonzas.get(ns) : undefined;
      if (handler) return handler(this, el);
      return void this.close("unsupported-stanza-type", `<${el.name}/> in ${ns ?? "no namespace"} is not handled`);
    }
    if (el.name !== "message" && el.name !== "presence" && el.name !== "iq") {
      return void this.close("unsupported-stanza-type", `<${el.name}/> is not a stanza`);
    }
    // RFC 6120 8.1.2.1: the server stamps 'from'; a client may only name itself.
    const from = el.attrs.from;
    if (from !== undefined) {
      const claimed = Jid.tryParse(from);
      if (!claimed || !(claimed.equals(this.jid) || claimed.equals(this.jid.bare()))) {
        return void this.close("invalid-from", "the 'from' address does not match this session");
      }
    }
    el.attrs.from = this.jid.toString();
    // Write-ahead: nothing derived from this stanza is written to any socket before
    // this record is committed (send() waits for it); a failure closes this stream.
    const committed = this.writeAhead.recordIn(el);
    await this.route(el);
    if (this.writeAhead.windowFull) await committed;
  }

  /** Fail closed: a stanza whose record cannot be committed is never delivered, and the stream ends. */
  auditFailed(err: unknown): void {
    if (this.state === "closed") return;
    this.log.error("audit record not committed: stanza not delivered, closing the stream", { error: (err as Error).message });
    void this.close("internal-server-error", "the audit trail cannot be written");
  }

  private async route(el: Element): Promise<void> {
    if (el.name === "iq" && el.attrs.type === "set" && this.isSessionRequest(el)) {
      // RFC 3921 3: the obsolete session establishment, answered for older clients.
      await this.send(xml("iq", { type: "result", id: el.attrs.id }));
      return;
    }
    if (el.name === "iq" && el.attrs.id === undefined) {
      return this.send(errorReply(el, new StanzaError("bad-request", "an iq needs an id"))).then(() => undefined);
    }
    await this.ctx.core.router.fromClient(this, el);
  }

  private isSessionRequest(el: Element): boolean {
    const child = el.getChildElements()[0];
    return child?.name === "session" && child.attrs.xmlns === NS.SESSION && (el.attrs.to === undefined || el.attrs.to === this.domain);
  }

  private onStreamEnd(): void {
    this.closeReason = "closing handshake";
    void this.close();
  }

  /** Called by negotiation once a resource is bound. */
  bind(jid: Jid): void {
    this.boundJid = jid;
    this.state = "bound";
    this.keepalive.schedule(this.ctx.core.config.limits.idle_timeout_seconds * 1000);
  }

  /** Writes raw XML; only negotiation, write-ahead and the stream itself use this. */
  sendRaw(data: string): void {
    if (this.state === "closed") return;
    if (this.ctx.core.log.enabled("trace")) this.log.trace("out", { xml: data });
    this.transport.write(data);
  }

  /**
   * Write-ahead (write-ahead.ts): the stanza reaches the socket only after its audit record (and
   * the record of the inbound stanza it came from) is committed; writes stay in
   * call order. Resolves once queued, so a sender never waits for a recipient's
   * fsync. A stanza whose record cannot be committed is not delivered: this
   * stream closes with internal-server-error (fail closed).
   */
  send(el: Element): Promise<void> {
    if (this.state !== "closed") this.writeAhead.write(el);
    return Promise.resolve();
  }

  close(condition?: StreamErrorCondition, text?: string): Promise<void> {
    if (this.state === "closed") return this.finish(this.closeReason);
    if (condition) {
      this.closeReason = condition;
      this.log.info("stream error", { condition, text, address: this.remoteAddress, jid: this.boundJid?.toString() });
      this.sendHeader();
      this.sendRaw(serialize(streamError(condition, text)));
    }
    this.sendRaw("</stream:stream>");
    this.state = "closed";
    this.transport.end(CLOSE_GRACE_MS);
    return this.finish(this.closeReason);
  }

  private async onTransportClosed(reason: string): Promise<void> {
    if (this.state !== "closed") {
      this.state = "closed";
      this.closeReason = `connection lost (${reason})`;
    }
    await this.finish(this.closeReason);
  }

  private finishing: Promise<void> | null = null;
  /** Runs once: leaves the registry and tells the modules (after queued stanzas are done). */
  private finish(reason: string): Promise<void> {
    this.finishing ??= this.doFinish(reason);
    return this.finishing;
  }

  private async doFinish(reason: string): Promise<void> {
    this.keepalive.stop();
    if (this.boundJid && this.ctx.core.sessions.unbind(this)) {
      this.log.info("session ended", { jid: this.boundJid.toString(), reason, seconds: Math.round((Date.now() - this.connectedAt) / 1000) });
      // Let stanzas already queued finish first, so presence goes out in order.
      await this.queue;
      await this.ctx.core.events.emit("session/closed", this, reason);
    }
    // Every connection's end is recorded, bound or not (failed logins end here too).
    await this.queue;
    await this.auditEvent("end", { reason, seconds: Math.round((Date.now() - this.connectedAt) / 1000) }).catch((err: unknown) => {
      this.log.error("audit record of the session end not committed", { error: (err as Error).message });
    });
  }
}

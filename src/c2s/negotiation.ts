// Stream negotiation (RFC 6120 5-7): the features each stage offers, and
// STARTTLS, SASL and resource binding. Nothing is routed before "bound".

import { randomBytes } from "node:crypto";
import { type Element, escapeXmlText, xml } from "../xml/index.js";
import { StanzaError, errorReply } from "../xmpp/errors.js";
import { Jid, JidError, prepLocal, prepResource } from "../xmpp/jid.js";
import { NS } from "../xmpp/ns.js";
import {
  type SaslFailureCondition,
  type SaslMechanism,
  type SaslStep,
  advertisedMechanisms,
  createMechanism,
} from "./sasl/index.js";
import type { Credentials } from "./sasl/credentials.js";
import type { C2sStream } from "./stream.js";

export class Negotiation {
  /** The prepared localpart once SASL succeeded. */
  private user: string | null = null;
  private mechanism: SaslMechanism | null = null;
  private mechanismName = "";
  private failures = 0;
  private offered: string[] = [];
  /** Localpart the SASL exchange looked up, prepared. */
  private attempted: string | null = null;

  constructor(private readonly stream: C2sStream) {}

  private get core() {
    return this.stream.ctx.core;
  }

  private get mustEncrypt(): boolean {
    return this.core.config.listen.require_encryption && !this.stream.transport.secure;
  }

  /** The <stream:features/> for the current stage. */
  features(): Element {
    const features = xml("stream:features");
    const transport = this.stream.transport;
    if (this.user === null) {
      if (!transport.secure && transport.canStartTls) {
        features.cnode(xml("starttls", { xmlns: NS.TLS }, this.mustEncrypt ? xml("required") : null));
      }
      if (!this.mustEncrypt) {
        const bindings = [...transport.channelBindings().keys()];
        this.offered = advertisedMechanisms(this.core.config.auth.mechanisms, transport.secure, bindings);
        if (this.offered.length > 0) {
          features.cnode(xml("mechanisms", { xmlns: NS.SASL }, ...this.offered.map((m) => xml("mechanism", {}, m))));
        }
        // XEP-0440: which channel-binding types the -PLUS mechanisms can use here. tls-unique
        // is accepted for old clients but not advertised on TLS 1.3 (RFC 9266 retires it there).
        const advertised = bindings.filter((type) => type !== "tls-unique" || transport.tlsInfo()?.protocol !== "TLSv1.3");
        if (advertised.length > 0) {
          features.cnode(xml("sasl-channel-binding", { xmlns: NS.SASL_CB }, ...advertised.map((type) => xml("channel-binding", { type }))));
        }
      }
    } else {
      features.cnode(xml("bind", { xmlns: NS.BIND }));
      // RFC 3921 session establishment, optional as in draft-cridland-xmpp-session.
      features.cnode(xml("session", { xmlns: NS.SESSION }, xml("optional")));
      for (const build of this.core.streamFeatures) {
        const feature = build({ secure: transport.secure });
        if (feature) features.cnode(feature);
      }
    }
    return features;
  }

  /**
   * Called synchronously as each element is parsed. Returns false when the
   * element was dealt with here and nothing after it may be processed yet
   * (STARTTLS: the rest of the plaintext must be discarded, RFC 6120 5.4.3.3).
   */
  accepts(el: Element, ns: string | undefined): boolean {
    if (ns === NS.TLS && el.name === "starttls") {
      void this.startTls();
      return false;
    }
    return true;
  }

  async handle(el: Element, ns: string | undefined): Promise<void> {
    if (ns === NS.SASL && this.user === null) return this.sasl(el);
    if (ns === NS.CLIENT && el.name === "iq" && this.user !== null) return this.iq(el);
    // RFC 6120 6.4.1 / 7.1: nothing else may be sent before authentication and binding.
    if (this.user === null && this.mustEncrypt) return void this.stream.close("policy-violation", "STARTTLS is required first");
    return void this.stream.close("not-authorized", "authenticate and bind a resource first");
  }

  private async startTls(): Promise<void> {
    const { stream } = this;
    if (stream.transport.secure || !stream.transport.canStartTls || this.user !== null) {
      stream.sendRaw(`<failure xmlns='${NS.TLS}'/>`);
      return void stream.close();
    }
    stream.transport.pause();
    stream.sendRaw(`<proceed xmlns='${NS.TLS}'/>`);
    // Not restart() here: called while the parser is still reading the chunk that held
    // <starttls/>, a reset would parse the plaintext after it as the new, encrypted stream
    // (a STARTTLS injection; a header there even threw from the channel-binding code). That
    // plaintext is dropped, and the new stream starts once TLS is up.
    stream.discardInput();
    try {
      await stream.transport.startTls(stream.domain);
      stream.restart();
      stream.log.debug("tls established", stream.transport.tlsInfo() ?? {});
      const info = stream.transport.tlsInfo();
      stream.noteEvent("tls", { protocol: info?.protocol ?? null, cipher: info?.cipher ?? null });
    } catch (err) {
      stream.log.info("tls handshake failed", { address: stream.remoteAddress, error: (err as Error).message });
      stream.transport.destroy();
      return;
    }
    stream.transport.resume();
  }

  private async sasl(el: Element): Promise<void> {
    let step: SaslStep;
    if (el.name === "auth") {
      if (this.mustEncrypt) return this.fail("encryption-required", "STARTTLS first");
      const name = el.attrs.mechanism ?? "";
      this.mechanismName = name;
      // Unknown users get made-up credentials of the same cost, so existence does not leak.
      const fake = { fakeIterations: this.core.config.auth.scram_iterations };
      const mechanism = this.offered.includes(name) ? createMechanism(name, this.saslContext(), fake) : null;
      if (!mechanism) return this.fail("invalid-mechanism");
      this.mechanism = mechanism;
      const data = decodeSasl(el.text());
      if (data === "invalid") return this.fail("incorrect-encoding");
      step = await mechanism.step(data);
    } else if (el.name === "response" && this.mechanism) {
      const data = decodeSasl(el.text());
      if (data === "invalid") return this.fail("incorrect-encoding");
      step = await this.mechanism.step(data ?? Buffer.alloc(0));
    } else if (el.name === "abort") {
      return this.fail("aborted", undefined, false);
    } else {
      return this.fail("malformed-request", `unexpected <${el.name}/>`);
    }
    if (step.kind === "challenge") return this.stream.sendRaw(`<challenge xmlns='${NS.SASL}'>${step.data.toString("base64")}</challenge>`);
    if (step.kind === "failure") return this.fail(step.condition, step.text);
    return this.succeed(step);
  }

  private saslContext() {
    const { stream } = this;
    return {
      channelBindings: stream.transport.channelBindings(),
      advertised: this.offered,
      lookup: async (username: string): Promise<Credentials | null> => {
        let local: string;
        try {
          local = prepLocal(username);
        } catch {
          return null;
        }
        this.attempted = local;
        const account = await this.core.storage.accounts.get(stream.domain, local);
        return account?.credentials ?? null;
      },
    };
  }

  private async succeed(step: Extract<SaslStep, { kind: "success" }>): Promise<void> {
    const { stream } = this;
    let local: string;
    try {
      local = prepLocal(step.username);
    } catch {
      return this.fail("not-authorized");
    }
    if (step.authzid !== null && step.authzid !== "") {
      const authz = Jid.tryParse(step.authzid);
      if (!authz || !authz.equals(Jid.of(local, stream.domain))) return this.fail("invalid-authzid");
    }
    this.user = local;
    this.mechanism = null;
    stream.transport.releaseChannelBindings();
    stream.ctx.throttle.succeed(stream.remoteAddress);
    stream.log.info("authenticated", { jid: `${local}@${stream.domain}`, mechanism: this.mechanismName, address: stream.remoteAddress });
    // The SASL payloads themselves are never recorded.
    stream.noteEvent("auth-success", { mechanism: this.mechanismName, address: stream.remoteAddress }, `${local}@${stream.domain}`);
    stream.restart();
    const data = step.data ? step.data.toString("base64") : "";
    stream.sendRaw(`<success xmlns='${NS.SASL}'>${data}</success>`);
  }

  private async fail(condition: SaslFailureCondition, text?: string, counts = true): Promise<void> {
    const { stream } = this;
    this.mechanism = null;
    if (counts) {
      this.failures++;
      stream.log.info("authentication failed", {
        condition,
        mechanism: this.mechanismName,
        user: this.attempted ?? undefined,
        address: stream.remoteAddress,
      });
      stream.noteEvent(
        "auth-failure",
        { mechanism: this.mechanismName, condition, address: stream.remoteAddress },
        this.attempted === null ? null : `${this.attempted}@${stream.domain}`,
      );
      const delay = stream.ctx.throttle.fail(stream.remoteAddress);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    }
    this.attempted = null;
    const textEl = text ? `<text xml:lang='en'>${escapeXmlText(text)}</text>` : "";
    stream.sendRaw(`<failure xmlns='${NS.SASL}'><${condition}/>${textEl}</failure>`);
    if (this.failures >= this.core.config.auth.max_failures_per_stream) {
      // RFC 6120 6.4.5: past the retry limit the stream is closed.
      void stream.close("policy-violation", "too many failed authentication attempts");
    }
  }

  private async iq(el: Element): Promise<void> {
    const { stream } = this;
    await stream.ctx.audit.stanza("in", stream.auditParty(`${this.user}@${stream.domain}`), el);
    const payload = el.getChildElements()[0];
    if (el.attrs.type !== "set" || payload?.name !== "bind" || payload.attrs.xmlns !== NS.BIND) {
      return void stream.close("not-authorized", "bind a resource first");
    }
    // RFC 6120 8.1.3 and 8.2.3: an iq has an id and exactly one payload; 7.7.2.1: one resource at most.
    if (!el.attrs.id || el.getChildElements().length !== 1 || payload.getChildren("resource").length > 1) {
      return stream.send(errorReply(el, new StanzaError("bad-request", "one bind element with at most one resource, in an iq with an id")));
    }
    const reply = (child: Element | null) => stream.send(xml("iq", { type: "result", id: el.attrs.id }, child));
    let resource = payload.getChildText("resource");
    try {
      resource = resource ? prepResource(resource) : `parley-${randomBytes(6).toString("hex")}`;
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      // RFC 6120 7.7.2.1: a resource that cannot be prepared is bad-request.
      return stream.send(errorReply(el, new StanzaError("bad-request", "the resource is not valid")));
    }
    const jid = Jid.of(this.user!, stream.domain, resource);
    // RFC 6120 7.7.2.2: the new session replaces the old one, which gets <conflict/>.
    const previous = this.core.sessions.get(jid);
    if (previous) await previous.close("conflict", "replaced by a new session with the same resource");
    stream.noteEvent("bind", { jid: jid.toString(), replaced: Boolean(previous) }, jid.bare().toString());
    stream.bind(jid);
    this.core.sessions.bind(stream);
    stream.log.info("bound", { jid: jid.toString(), address: stream.remoteAddress });
    await reply(xml("bind", { xmlns: NS.BIND }, xml("jid", {}, jid.toString())));
    await this.core.events.emit("session/bound", stream);
  }
}

/** SASL data is base64; "=" is an empty response, nothing at all is no initial response (RFC 6120 6.4.2). */
function decodeSasl(text: string): Buffer | null | "invalid" {
  const t = text.trim();
  if (t === "") return null;
  if (t === "=") return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t) || t.length % 4 !== 0) return "invalid";
  return Buffer.from(t, "base64");
}

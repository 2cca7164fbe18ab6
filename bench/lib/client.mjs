// A minimal XMPP client for load generation: raw net/tls sockets, STARTTLS,
// SCRAM-SHA-1, bind, roster get, presence. No XML parser: it looks for the
// few markers it needs with indexOf on the received text, so that the
// generator stays much cheaper than the servers it drives.

import net from "node:net";
import tls from "node:tls";
import { ScramSha1 } from "./scram.mjs";

const NS_STREAM = "http://etherx.jabber.org/streams";
const NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls";
const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";
const NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session";

const header = (domain) =>
  `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' to='${domain}' version='1.0'>`;

export const now = () => performance.timeOrigin + performance.now();

/** Text between <tag ...> and </tag>, or "" for <tag/>; null if not complete yet. */
function elementText(buf, start, tag) {
  const gt = buf.indexOf(">", start);
  if (gt < 0) return null;
  if (buf[gt - 1] === "/") return { text: "", end: gt + 1 };
  const close = buf.indexOf(`</${tag}>`, gt);
  if (close < 0) return null;
  return { text: buf.slice(gt + 1, close), end: close + tag.length + 3 };
}

export class Client {
  /**
   * opts: host, port, domain, user, password, resource, localAddress, timeoutMs
   */
  constructor(opts) {
    this.opts = opts;
    this.buf = "";
    this.socket = null;
    this.waiter = null;
    this.closed = false;
    this.error = null;
    this.onText = null; // after login: called with each received chunk
    this.tlsProtocol = null;
  }

  /** A new client with the same options (for a retry). */
  fresh() {
    return new Client(this.opts);
  }

  get jidBare() {
    return `${this.opts.user}@${this.opts.domain}`;
  }

  _attach(socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      if (this.onText) return this.onText(d);
      this.buf += d;
      this._check();
    });
    socket.on("error", (e) => {
      this.error ??= e;
    });
    socket.on("close", () => {
      this.closed = true;
      this._check();
    });
  }

  _check() {
    const w = this.waiter;
    if (!w) return;
    let r;
    try {
      r = w.test(this.buf);
    } catch (e) {
      this.waiter = null;
      clearTimeout(w.timer);
      return w.reject(e);
    }
    if (r !== undefined && r !== null) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.resolve(r);
    } else if (this.closed) {
      this.waiter = null;
      clearTimeout(w.timer);
      w.reject(new Error(`${w.what}: connection closed (${this.error?.message ?? "eof"}); got ${this.buf.slice(-300)}`));
    }
  }

  /** Waits until test(buf) returns a value (not undefined/null). */
  _wait(what, test) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${what}: timed out; got ${this.buf.slice(-300)}`));
      }, this.opts.timeoutMs ?? 60000);
      this.waiter = { what, test, resolve, reject, timer };
      this._check();
    });
  }

  /** The text of the next SASL <challenge/> or <success/>; a <failure/> throws. */
  _saslStep(name) {
    return this._wait(name, (b) => {
      if (b.includes("<failure")) throw new Error(`auth failed: ${b}`);
      const i = b.indexOf(`<${name}`);
      if (i < 0) return null;
      const r = elementText(b, i, name);
      if (!r) return null;
      this.buf = b.slice(r.end);
      return r.text;
    });
  }

  _waitFor(what, marker) {
    return this._wait(what, (b) => {
      if (b.includes("<failure") || b.includes("</stream:stream>") || b.includes("<stream:error")) throw new Error(`${what}: ${b.slice(-400)}`);
      const i = b.indexOf(marker);
      if (i < 0) return null;
      this.buf = b.slice(i + marker.length);
      return b.slice(0, i + marker.length);
    });
  }

  /** The iq with this id: its full text once complete. */
  _waitIq(id) {
    return this._wait(`iq ${id}`, (b) => {
      let p = b.indexOf(`id='${id}'`);
      if (p < 0) p = b.indexOf(`id="${id}"`);
      if (p < 0) {
        if (b.includes("</stream:stream>")) throw new Error(`iq ${id}: stream closed: ${b.slice(-300)}`);
        return null;
      }
      const start = b.lastIndexOf("<iq", p);
      const r = elementText(b, start, "iq");
      if (!r) return null;
      const text = b.slice(start, r.end);
      this.buf = b.slice(r.end);
      if (!/type=['"]result['"]/.test(text.slice(0, text.indexOf(">") + 1))) throw new Error(`iq ${id} failed: ${text}`);
      return text;
    });
  }

  send(s) {
    this.socket.write(s);
  }

  _connectTcp() {
    const { host, port, localAddress } = this.opts;
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress });
      s.setNoDelay(true);
      s.once("connect", () => {
        s.removeListener("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
  }

  _startTls() {
    const plain = this.socket;
    plain.removeAllListeners("data");
    plain.removeAllListeners("close");
    plain.removeAllListeners("error");
    this.buf = "";
    return new Promise((resolve, reject) => {
      const s = tls.connect({ socket: plain, servername: this.opts.domain, rejectUnauthorized: false });
      s.once("secureConnect", () => {
        s.removeListener("error", reject);
        this.tlsProtocol = s.getProtocol();
        this._attach(s);
        resolve();
      });
      s.once("error", reject);
    });
  }

  /**
   * A full login: TCP, STARTTLS, SCRAM-SHA-1, bind, (roster get), initial
   * presence. Resolves when the server has echoed the initial presence back
   * (RFC 6121 4.2.2), unless waitPresence is false.
   */
  async login({ roster = false, presence = true, waitPresence = true } = {}) {
    const { domain, user, password } = this.opts;
    this._attach(await this._connectTcp());
    this.send(header(domain));
    let features = await this._waitFor("features", "</stream:features>");
    if (!features.includes(NS_TLS)) throw new Error("server offers no STARTTLS");
    this.send(`<starttls xmlns='${NS_TLS}'/>`);
    await this._waitFor("starttls", "<proceed");
    await this._startTls();

    this.send(header(domain));
    features = await this._waitFor("features after TLS", "</stream:features>");
    if (!features.includes(">SCRAM-SHA-1<")) throw new Error(`server offers no SCRAM-SHA-1: ${features}`);
    const scram = new ScramSha1(user, password);
    this.send(`<auth xmlns='${NS_SASL}' mechanism='SCRAM-SHA-1'>${Buffer.from(scram.first()).toString("base64")}</auth>`);
    const challenge = await this._saslStep("challenge");
    const final = scram.final(Buffer.from(challenge, "base64").toString());
    this.send(`<response xmlns='${NS_SASL}'>${Buffer.from(final).toString("base64")}</response>`);
    const success = await this._saslStep("success");
    if (success && !scram.verify(Buffer.from(success, "base64").toString())) throw new Error("SCRAM: bad server signature");

    this.send(header(domain));
    features = await this._waitFor("features after SASL", "</stream:features>");
    this.send(`<iq type='set' id='b1'><bind xmlns='${NS_BIND}'><resource>${this.opts.resource ?? "bench"}</resource></bind></iq>`);
    const bound = await this._waitIq("b1");
    const j = bound.indexOf("<jid>");
    this.fullJid = j >= 0 ? bound.slice(j + 5, bound.indexOf("</jid>", j)) : `${this.jidBare}/${this.opts.resource}`;
    // RFC 3921 session establishment, only where the server still requires it.
    const si = features.indexOf(NS_SESSION);
    if (si >= 0 && !features.slice(si, features.indexOf("</session>", si) + 1 || si + 200).includes("optional")) {
      this.send(`<iq type='set' id='s1'><session xmlns='${NS_SESSION}'/></iq>`);
      await this._waitIq("s1");
    }
    if (roster) {
      this.send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`);
      await this._waitIq("r1");
    }
    if (presence) {
      this.send("<presence/>");
      if (waitPresence) await this._waitFor("presence echo", "<presence");
    }
  }

  /** Hands every further chunk (and what is already buffered) to fn. */
  stream(fn) {
    this.onText = fn;
    const rest = this.buf;
    this.buf = "";
    if (rest) fn(rest);
  }

  close() {
    if (this.closed || !this.socket) return;
    this.socket.end("</stream:stream>");
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy() {
    this.socket?.destroy();
  }
}

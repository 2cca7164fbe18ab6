import { expect } from "chai";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { createRequire } from "node:module";
import {
  advertisedMechanisms,
  createMechanism,
  deriveCredentials,
  deriveScramCredential,
  saslprep,
  SaslprepError,
  verifyPassword,
  type ChannelBindingType,
  type Credentials,
  type MechanismOptions,
  type SaslContext,
  type SaslMechanism,
  type SaslStep,
} from "../../src/c2s/sasl/index.js";

// xmpp.js's own client mechanisms (CommonJS, untyped), as @xmpp/sasl drives them.
interface ClientMech {
  name: string;
  response(cred: {
    username: string;
    password: string;
    authzid?: string;
  }): string | Promise<string>;
  challenge(chal: string): unknown;
  _serverSignature?: Uint8Array;
}
interface Factory {
  use(mech: unknown): Factory;
  create(names: string[]): ClientMech | null;
}
const require = createRequire(import.meta.url);
const SaslFactory = require("saslmechanisms") as new () => Factory;
const ClientScramSha1 = require("sasl-scram-sha-1") as unknown;
const ClientPlain = require("sasl-plain") as unknown;
const xmppjsFactory = new SaslFactory().use(ClientScramSha1).use(ClientPlain);

const ITER = 4096;
type HashName = "SCRAM-SHA-1" | "SCRAM-SHA-256";

async function credsWithSalt(
  password: string,
  salt1: string,
  salt256: string,
  iterations = ITER,
): Promise<Credentials> {
  return {
    "SCRAM-SHA-1": await deriveScramCredential(
      "SCRAM-SHA-1",
      password,
      Buffer.from(salt1, "base64"),
      iterations,
    ),
    "SCRAM-SHA-256": await deriveScramCredential(
      "SCRAM-SHA-256",
      password,
      Buffer.from(salt256, "base64"),
      iterations,
    ),
  };
}

function context(
  users: Record<string, Credentials>,
  extra: Partial<SaslContext> = {},
): SaslContext & { looked: string[] } {
  const looked: string[] = [];
  return {
    looked,
    lookup: (u) => {
      looked.push(u);
      return Promise.resolve(users[u] ?? null);
    },
    channelBindings: new Map(),
    advertised: ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"],
    ...extra,
  };
}

function mech(name: string, ctx: SaslContext, opts?: MechanismOptions): SaslMechanism {
  const m = createMechanism(name, ctx, opts);
  if (m === null) throw new Error(`no mechanism ${name}`);
  return m;
}

async function send(m: SaslMechanism, s: string | null): Promise<SaslStep> {
  return m.step(s === null ? null : Buffer.from(s, "utf8"));
}

function text(step: SaslStep): string {
  if (step.kind === "failure")
    throw new Error(`unexpected failure ${step.condition} ${step.text ?? ""}`);
  return step.data === null ? "" : step.data.toString("utf8");
}

function expectFailure(step: SaslStep, condition: string): void {
  expect(step.kind, JSON.stringify(step)).to.equal("failure");
  if (step.kind === "failure") expect(step.condition).to.equal(condition);
}

/** An independent client-side SCRAM computation (RFC 5802 3), for cases xmpp.js cannot produce. */
function clientFinal(
  hashName: HashName,
  password: string,
  clientFirstBare: string,
  serverFirst: string,
  cbind: Buffer,
): string {
  const digest = hashName === "SCRAM-SHA-1" ? "sha1" : "sha256";
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  const salted = pbkdf2Sync(
    password,
    Buffer.from(attrs.s!, "base64"),
    Number(attrs.i),
    digest === "sha1" ? 20 : 32,
    digest,
  );
  const clientKey = createHmac(digest, salted).update("Client Key").digest();
  const storedKey = createHash(digest).update(clientKey).digest();
  const withoutProof = `c=${cbind.toString("base64")},r=${attrs.r}`;
  const sig = createHmac(digest, storedKey)
    .update(`${clientFirstBare},${serverFirst},${withoutProof}`)
    .digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!));
  return `${withoutProof},p=${proof.toString("base64")}`;
}

describe("SASL", function () {
  let user: Credentials; // "user" / "pencil" with the RFC salts
  before(async function () {
    user = await credsWithSalt("pencil", "QSXCR+Q6sek8bf92", "W22ZaJ0SNY7soEsUEjb6gQ==");
  });

  describe("SCRAM", function () {
    it("RFC 5802 5: SCRAM-SHA-1 example exchange byte for byte", async function () {
      const m = mech("SCRAM-SHA-1", context({ user }), { serverNonce: "3rfcNHYJY1ZVvWVs7j" });
      const first = await send(m, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
      expect(first.kind).to.equal("challenge");
      expect(text(first)).to.equal(
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
      );
      const last = await send(
        m,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      );
      expect(last.kind).to.equal("success");
      expect(text(last)).to.equal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
      if (last.kind === "success") {
        expect(last.username).to.equal("user");
        expect(last.authzid).to.equal(null);
      }
    });

    it("RFC 7677 3: SCRAM-SHA-256 example exchange byte for byte", async function () {
      const m = mech("SCRAM-SHA-256", context({ user }), {
        serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
      });
      const first = await send(m, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
      expect(text(first)).to.equal(
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      );
      const last = await send(
        m,
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
      );
      expect(last.kind).to.equal("success");
      expect(text(last)).to.equal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    });

    it("RFC 5802 5: a changed client proof fails with not-authorized", async function () {
      const m = mech("SCRAM-SHA-1", context({ user }), { serverNonce: "3rfcNHYJY1ZVvWVs7j" });
      await send(m, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
      const last = await send(
        m,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=w0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      );
      expectFailure(last, "not-authorized");
    });

    async function xmppjsExchange(username: string, password: string, ctx: SaslContext) {
      const client = xmppjsFactory.create(["SCRAM-SHA-1"])!;
      const server = mech("SCRAM-SHA-1", ctx);
      const cred = { username, password };
      const first = await server.step(Buffer.from(await client.response(cred)));
      expect(first.kind).to.equal("challenge");
      await client.challenge(text(first));
      return {
        client,
        server,
        result: await server.step(Buffer.from(await client.response(cred))),
      };
    }

    it("RFC 5802 3: xmpp.js's SCRAM-SHA-1 client logs in and verifies the server signature", async function () {
      const creds = await deriveCredentials("s3cret pass", ITER);
      const { client, result } = await xmppjsExchange(
        "romeo",
        "s3cret pass",
        context({ romeo: creds }),
      );
      expect(result.kind).to.equal("success");
      expect(text(result)).to.equal(
        `v=${Buffer.from(client._serverSignature!).toString("base64")}`,
      );
    });

    it("RFC 5802 5.1: a wrong password ends in not-authorized (invalid-proof)", async function () {
      const creds = await deriveCredentials("right", ITER);
      const { result } = await xmppjsExchange("romeo", "wrong", context({ romeo: creds }));
      expectFailure(result, "not-authorized");
      if (result.kind === "failure") expect(result.text).to.equal("invalid-proof");
    });

    it("unknown user: full exchange with a fake salt stable per username, then the same failure as a wrong password", async function () {
      const ctx = context({});
      const opts = { fakeIterations: 4321 };
      const challengeFor = async (name: string) =>
        text(await send(mech("SCRAM-SHA-256", ctx, opts), `n,,n=${name},r=abc`));
      const a1 = await challengeFor("ghost");
      const a2 = await challengeFor("ghost");
      const b = await challengeFor("phantom");
      const salt = (s: string) => s.split(",")[1];
      expect(salt(a1)).to.match(/^s=[A-Za-z0-9+/]{22}==$/);
      expect(salt(a1)).to.equal(salt(a2));
      expect(salt(a1)).to.not.equal(salt(b));
      expect(a1.endsWith(",i=4321")).to.equal(true);
      expect(ctx.looked).to.deep.equal(["ghost", "ghost", "phantom"]);

      const { result } = await xmppjsExchange("ghost", "anything", ctx);
      expectFailure(result, "not-authorized");
      if (result.kind === "failure") expect(result.text).to.equal("invalid-proof");
    });

    it("RFC 5802 5.1: a client-final nonce differing from the combined nonce fails", async function () {
      const m = mech("SCRAM-SHA-1", context({ user }), { serverNonce: "3rfcNHYJY1ZVvWVs7j" });
      await send(m, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
      const last = await send(
        m,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7J,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      );
      expectFailure(last, "not-authorized");
    });

    it("RFC 5802 6: gs2 flag 'y' while a -PLUS mechanism was advertised is a downgrade and fails", async function () {
      const ctx = context({ user }, { advertised: ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"] });
      expectFailure(await send(mech("SCRAM-SHA-1", ctx), "y,,n=user,r=abc"), "not-authorized");
    });

    it("RFC 5802 6: gs2 flag 'y' without any -PLUS advertised succeeds, binding c= to 'y,,'", async function () {
      const ctx = context({ user }, { advertised: ["SCRAM-SHA-1"] });
      const m = mech("SCRAM-SHA-1", ctx);
      const first = text(await send(m, "y,,n=user,r=abc"));
      const final = clientFinal("SCRAM-SHA-1", "pencil", "n=user,r=abc", first, Buffer.from("y,,"));
      expect(final.startsWith("c=eSws,")).to.equal(true);
      expect((await send(m, final)).kind).to.equal("success");
    });

    const exporter = Buffer.from("0123456789abcdef0123456789abcdef");
    for (const [mechName, hashName, cbType] of [
      ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "tls-exporter"],
      ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "tls-server-end-point"],
    ] as const) {
      const cbContext = () =>
        context(
          { user },
          {
            channelBindings: new Map<ChannelBindingType, Buffer>([[cbType, exporter]]),
            advertised: [mechName],
          },
        );
      const gs2 = `p=${cbType},,`;

      it(`RFC 5802 6 / ${cbType === "tls-exporter" ? "RFC 9266" : "RFC 5929"}: ${mechName} with correct ${cbType} data succeeds`, async function () {
        const m = mech(mechName, cbContext());
        const first = text(await send(m, `${gs2}n=user,r=cnonce`));
        const final = clientFinal(
          hashName,
          "pencil",
          "n=user,r=cnonce",
          first,
          Buffer.concat([Buffer.from(gs2), exporter]),
        );
        const last = await send(m, final);
        expect(last.kind).to.equal("success");
      });

      it(`RFC 5802 6: ${mechName} with wrong ${cbType} data fails even with the right password`, async function () {
        const m = mech(mechName, cbContext());
        const first = text(await send(m, `${gs2}n=user,r=cnonce`));
        const wrong = Buffer.from(exporter);
        wrong[0]! ^= 1;
        const final = clientFinal(
          hashName,
          "pencil",
          "n=user,r=cnonce",
          first,
          Buffer.concat([Buffer.from(gs2), wrong]),
        );
        expectFailure(await send(m, final), "not-authorized");
      });
    }

    it("RFC 5802 6: -PLUS fails for a binding type the connection cannot provide, for flag 'n', and 'p=' on a non-PLUS mechanism", async function () {
      const bindings = new Map<ChannelBindingType, Buffer>([["tls-exporter", Buffer.alloc(32)]]);
      const ctx = context(
        { user },
        { channelBindings: bindings, advertised: ["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"] },
      );
      expectFailure(
        await send(mech("SCRAM-SHA-1-PLUS", ctx), "p=tls-unique,,n=user,r=abc"),
        "not-authorized",
      );
      expectFailure(
        await send(mech("SCRAM-SHA-1-PLUS", ctx), "p=tls-server-end-point,,n=user,r=abc"),
        "not-authorized",
      );
      expectFailure(await send(mech("SCRAM-SHA-1-PLUS", ctx), "n,,n=user,r=abc"), "not-authorized");
      expectFailure(
        await send(mech("SCRAM-SHA-1", ctx), "p=tls-exporter,,n=user,r=abc"),
        "not-authorized",
      );
    });

    it("RFC 5802 5.1: the reserved m= extension fails the exchange", async function () {
      const ctx = context({ user });
      expectFailure(
        await send(mech("SCRAM-SHA-1", ctx), "n,,m=ext,n=user,r=abc"),
        "malformed-request",
      );
      expect(ctx.looked).to.deep.equal([]);
    });

    it("RFC 5802 7: malformed client-first messages are malformed-request", async function () {
      const bad = [
        "n,n=user,r=abc", // gs2 header missing its second comma
        "x,,n=user,r=abc", // unknown cbind flag
        "n,b=x,n=user,r=abc", // authzid without a=
        "n,,n=us=2Xer,r=abc", // bad escape in saslname
        "n,,n=user=,r=abc", // lone "="
        "n,,n=,r=abc", // empty username
        "n,,r=abc,n=user", // attributes out of order
        "n,,n=user", // no nonce
        "n,,n=user,r=", // empty nonce
        "n,,n=user,r=a\u00e9", // nonce not printable ASCII
        "n,,n=user,r=abc,1=x", // extension name not ALPHA
      ];
      for (const msg of bad)
        expectFailure(await send(mech("SCRAM-SHA-1", context({ user })), msg), "malformed-request");
      expectFailure(
        await mech("SCRAM-SHA-1", context({ user })).step(Buffer.from([0x6e, 0x2c, 0x2c, 0xff])),
        "malformed-request",
      );
    });

    it("RFC 5802 7: malformed client-final messages are malformed-request", async function () {
      for (const final of [
        "c=biws,r=abcXYZ",
        "c=biws,r=abcXYZ,p=!!",
        "r=abcXYZ,c=biws,p=AAAA",
        "c=bi,r=abcXYZ,p=AAAA",
        "c=biws,p=AAAA",
        "c=biws,r=abcXYZ,p=AAB=",
      ]) {
        const m = mech("SCRAM-SHA-1", context({ user }), { serverNonce: "XYZ" });
        expect((await send(m, "n,,n=user,r=abc")).kind).to.equal("challenge");
        expectFailure(await send(m, final), "malformed-request");
      }
    });

    it("RFC 5802 5.1: saslname escapes =2C and =3D are undone before lookup, and a= is returned as authzid", async function () {
      const ctx = context({ "a,b=c": user });
      const m = mech("SCRAM-SHA-1", ctx);
      const first = text(await send(m, "n,a=x=2Cy,n=a=2Cb=3Dc,r=abc"));
      expect(ctx.looked).to.deep.equal(["a,b=c"]);
      const last = await send(
        m,
        clientFinal("SCRAM-SHA-1", "pencil", "n=a=2Cb=3Dc,r=abc", first, Buffer.from("n,a=x=2Cy,")),
      );
      expect(last.kind).to.equal("success");
      if (last.kind === "success") {
        expect(last.username).to.equal("a,b=c");
        expect(last.authzid).to.equal("x,y");
      }
    });

    it("RFC 6120 6.4.2: without an initial response the server sends one empty challenge", async function () {
      const m = mech("SCRAM-SHA-1", context({ user }), { serverNonce: "3rfcNHYJY1ZVvWVs7j" });
      const empty = await m.step(null);
      expect(empty.kind).to.equal("challenge");
      if (empty.kind === "challenge") expect(empty.data.length).to.equal(0);
      expect((await send(m, "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")).kind).to.equal("challenge");
      const last = await send(
        m,
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
      );
      expect(last.kind).to.equal("success");
      expectFailure(await send(m, "c=biws"), "malformed-request");
    });

    it("RFC 6120 6.5.13: a failing credential store gives temporary-auth-failure", async function () {
      const ctx = context({}, { lookup: () => Promise.reject(new Error("db down")) });
      expectFailure(
        await send(mech("SCRAM-SHA-1", ctx), "n,,n=user,r=abc"),
        "temporary-auth-failure",
      );
    });
  });

  describe("PLAIN", function () {
    let juliet: Credentials;
    before(async function () {
      juliet = await deriveCredentials("r0meo!", ITER);
    });

    it("RFC 4616 2: xmpp.js's PLAIN client logs in", async function () {
      const client = xmppjsFactory.create(["PLAIN"])!;
      const m = mech("PLAIN", context({ juliet }));
      const step = await m.step(
        Buffer.from(await client.response({ username: "juliet", password: "r0meo!" })),
      );
      expect(step).to.deep.equal({
        kind: "success",
        data: null,
        username: "juliet",
        authzid: null,
      });
    });

    it("RFC 4616 2: a non-empty authzid is handed back for the caller to authorize", async function () {
      const step = await send(
        mech("PLAIN", context({ juliet })),
        "admin@example.com\0juliet\0r0meo!",
      );
      expect(step).to.deep.equal({
        kind: "success",
        data: null,
        username: "juliet",
        authzid: "admin@example.com",
      });
    });

    it("RFC 4616 2: wrong password and unknown user are both not-authorized", async function () {
      expectFailure(
        await send(mech("PLAIN", context({ juliet })), "\0juliet\0romeo"),
        "not-authorized",
      );
      expectFailure(
        await send(mech("PLAIN", context({ juliet })), "\0nobody\0r0meo!"),
        "not-authorized",
      );
    });

    it("RFC 4616 2: SASLprep is applied to authcid and password", async function () {
      const ctx = context({ juliet });
      const step = await send(mech("PLAIN", ctx), "\0jul\u00ADiet\0r0\u00ADmeo!");
      expect(step.kind).to.equal("success");
      expect(ctx.looked).to.deep.equal(["juliet"]);
    });

    it("RFC 4616 2: malformed messages are malformed-request", async function () {
      for (const msg of [
        "juliet\0r0meo!",
        "\0juliet\0r0meo!\0",
        "\0\0r0meo!",
        "\0juliet\0",
        `\0${"j".repeat(256)}\0x`,
      ])
        expectFailure(await send(mech("PLAIN", context({ juliet })), msg), "malformed-request");
      expectFailure(
        await mech("PLAIN", context({ juliet })).step(Buffer.from([0, 0x6a, 0, 0xc3])),
        "malformed-request",
      );
    });

    it("RFC 6120 6.4.2: PLAIN without an initial response gets an empty challenge first", async function () {
      const m = mech("PLAIN", context({ juliet }));
      const first = await m.step(null);
      expect(first.kind).to.equal("challenge");
      expect((await send(m, "\0juliet\0r0meo!")).kind).to.equal("success");
    });

    it("RFC 6120 6.4.2 / RFC 4616 2: PLAIN with an empty initial response (\"=\") is malformed-request, not a challenge", async function () {
      expectFailure(await mech("PLAIN", context({ juliet })).step(Buffer.alloc(0)), "malformed-request");
    });
  });

  describe("credentials", function () {
    it("deriveCredentials + verifyPassword round trip, with fresh 16-byte salts per hash and per call", async function () {
      const a = await deriveCredentials("correct horse", 1000);
      const b = await deriveCredentials("correct horse", 1000);
      expect(Buffer.from(a["SCRAM-SHA-1"].salt, "base64").length).to.equal(16);
      expect(Buffer.from(a["SCRAM-SHA-256"].storedKey, "base64").length).to.equal(32);
      expect(Buffer.from(a["SCRAM-SHA-1"].storedKey, "base64").length).to.equal(20);
      expect(a["SCRAM-SHA-1"].salt).to.not.equal(a["SCRAM-SHA-256"].salt);
      expect(a["SCRAM-SHA-256"].salt).to.not.equal(b["SCRAM-SHA-256"].salt);
      expect(a["SCRAM-SHA-256"].iterations).to.equal(1000);
      expect(await verifyPassword(a, "correct horse")).to.equal(true);
      expect(await verifyPassword(a, "correct horsE")).to.equal(false);
      expect(await verifyPassword(a, "\u0007")).to.equal(false);
      expect(JSON.stringify(a)).to.not.include("correct horse");
    });

    it("RFC 5802 3: deriveScramCredential gives the StoredKey/ServerKey a client computes from the same salt", async function () {
      const salt = Buffer.from("QSXCR+Q6sek8bf92", "base64");
      const salted = pbkdf2Sync("pencil", salt, 4096, 20, "sha1");
      const clientKey = createHmac("sha1", salted).update("Client Key").digest();
      expect(user["SCRAM-SHA-1"].storedKey).to.equal(
        createHash("sha1").update(clientKey).digest("base64"),
      );
      expect(user["SCRAM-SHA-1"].serverKey).to.equal(
        createHmac("sha1", salted).update("Server Key").digest("base64"),
      );
    });

    it("RFC 4013: a password is SASLprepped before hashing, so equivalent forms verify", async function () {
      const c = await deriveCredentials("I\u00ADX", 1000);
      expect(await verifyPassword(c, "IX")).to.equal(true);
      expect(await verifyPassword(c, "\u2168")).to.equal(true); // ROMAN NUMERAL NINE, NFKC "IX"
      expect(await verifyPassword(c, "ix")).to.equal(false);
    });

    it("deriveCredentials rejects passwords SASLprep prohibits or maps to nothing", async function () {
      for (const bad of ["", "\u00AD", "a\u0007b", "\u0627a"]) {
        let err: unknown;
        try {
          await deriveCredentials(bad, 1000);
        } catch (e) {
          err = e;
        }
        expect(err, JSON.stringify(bad)).to.be.instanceOf(SaslprepError);
      }
    });

    it("deriveCredentials runs PBKDF2 off the event loop", async function () {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      try {
        await deriveCredentials("pw", 200_000);
      } finally {
        clearInterval(timer);
      }
      expect(ticks).to.be.greaterThan(0);
    });

    it("RFC 4013 3: SASLprep examples", function () {
      expect(saslprep("I\u00ADX")).to.equal("IX");
      expect(saslprep("user")).to.equal("user");
      expect(saslprep("USER")).to.equal("USER");
      expect(saslprep("\u00AA")).to.equal("a");
      expect(saslprep("\u2168")).to.equal("IX");
      expect(saslprep("a\u00A0b")).to.equal("a b");
      expect(() => saslprep("\u0007")).to.throw(SaslprepError);
      expect(() => saslprep("\u0627\u0031")).to.throw(SaslprepError);
      expect(() => saslprep("")).to.throw(SaslprepError);
    });
  });

  describe("mechanism selection", function () {
    const all = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"];

    it("advertises PLAIN only on a secure stream and -PLUS only with a channel binding, in configured order", function () {
      expect(advertisedMechanisms(all, false, [])).to.deep.equal(["SCRAM-SHA-256", "SCRAM-SHA-1"]);
      expect(advertisedMechanisms(all, true, [])).to.deep.equal([
        "SCRAM-SHA-256",
        "SCRAM-SHA-1",
        "PLAIN",
      ]);
      expect(advertisedMechanisms(all, true, ["tls-exporter"])).to.deep.equal(all);
      expect(advertisedMechanisms(["PLAIN", "X-UNKNOWN", "SCRAM-SHA-1"], true, [])).to.deep.equal([
        "PLAIN",
        "SCRAM-SHA-1",
      ]);
    });

    it("RFC 6120 6.4.4: an unknown mechanism gives null (invalid-mechanism)", function () {
      expect(createMechanism("DIGEST-MD5", context({}))).to.equal(null);
      expect(createMechanism("scram-sha-1", context({}))).to.equal(null);
      expect(createMechanism("SCRAM-SHA-1", context({}))?.name).to.equal("SCRAM-SHA-1");
    });
  });
});

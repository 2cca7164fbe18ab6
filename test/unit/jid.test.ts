import { expect } from "chai";
import { Jid, JidError, prepDomain, prepLocal, prepResource } from "../../src/xmpp/jid.js";

function rejects(fn: () => unknown, label?: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, label).to.be.instanceOf(JidError);
  expect((err as JidError).condition).to.equal("jid-malformed");
}

describe("Jid", function () {
  describe("RFC 7622 3.5: examples", function () {
    const valid: [string, string][] = [
      ["juliet@example.com", "juliet@example.com"],
      ["juliet@example.com/foo", "juliet@example.com/foo"],
      ["juliet@example.com/foo bar", "juliet@example.com/foo bar"],
      ["juliet@example.com/foo@bar", "juliet@example.com/foo@bar"],
      ["foo\\20bar@example.com", "foo\\20bar@example.com"],
      ["fussball@example.com", "fussball@example.com"],
      ["fu\u00DFball@example.com", "fu\u00DFball@example.com"],
      ["\u03C0@example.com", "\u03C0@example.com"],
      ["\u03A3@example.com/foo", "\u03C3@example.com/foo"],
      ["\u03C3@example.com/foo", "\u03C3@example.com/foo"],
      ["\u03C2@example.com/foo", "\u03C2@example.com/foo"],
      ["king@example.com/\u265A", "king@example.com/\u265A"],
      ["example.com", "example.com"],
      ["example.com/foobar", "example.com/foobar"],
      ["a.example.com/b@example.net", "a.example.com/b@example.net"],
    ];
    for (const [input, out] of valid) {
      it(`valid: ${JSON.stringify(input)}`, function () {
        expect(Jid.parse(input).toString()).to.equal(out);
      });
    }

    const invalid: [string, string][] = [
      ['"juliet"@example.com', "quotation marks in a localpart"],
      ["foo bar@example.com", "space in a localpart"],
      ["henry\u2163@example.com", "ROMAN NUMERAL FOUR has a compatibility equivalent"],
      ["\u265A@example.com", "a symbol in a localpart"],
      ["juliet@", "empty domainpart"],
      ["/foobar", "empty domainpart with resource"],
      ["@example.com", "empty localpart"],
      ["juliet@example.com/", "empty resourcepart"],
      ["", "empty string"],
    ];
    for (const [input, why] of invalid) {
      it(`invalid: ${JSON.stringify(input)} (${why})`, function () {
        rejects(() => Jid.parse(input));
        expect(Jid.tryParse(input)).to.equal(null);
      });
    }
  });

  describe("RFC 7622 3.2: splitting", function () {
    it("splits at the first '/', so '@' and '/' may appear in the resource", function () {
      const j = Jid.parse("a@b.example/c@d/e");
      expect([j.local, j.domain, j.resource]).to.deep.equal(["a", "b.example", "c@d/e"]);
      const k = Jid.parse("b.example/x@y");
      expect([k.local, k.domain, k.resource]).to.deep.equal(["", "b.example", "x@y"]);
    });

    it("two '@' before the '/' cannot give a valid address", function () {
      rejects(() => Jid.parse("a@b@example.com"));
      rejects(() => Jid.parse("a@b@example.com/r"));
    });
  });

  describe("RFC 8265 3.3 / RFC 7622 3.3: localpart (UsernameCaseMapped)", function () {
    it("case-folds ASCII and Unicode upper case", function () {
      expect(prepLocal("ALICE")).to.equal("alice");
      expect(prepLocal("J\u00DCRGEN")).to.equal("j\u00FCrgen");
      expect(Jid.parse("ALICE@example.com").equals(Jid.parse("alice@example.com"))).to.equal(true);
    });

    it("maps fullwidth forms to their narrow equivalents before case mapping", function () {
      expect(prepLocal("\uFF41\uFF4C\uFF49\uFF43\uFF45")).to.equal("alice");
      expect(prepLocal("\uFF21\uFF2C\uFF29\uFF23\uFF25")).to.equal("alice");
      expect(prepLocal("\uFF76")).to.equal("\u30AB"); // halfwidth katakana KA
    });

    it("applies NFC: a decomposed letter equals the precomposed one", function () {
      expect(prepLocal("e\u0301")).to.equal("\u00E9");
      expect(Jid.parse("Jose\u0301@example.com").local).to.equal("jos\u00E9");
    });

    it("rejects characters with compatibility equivalents instead of mapping them", function () {
      for (const s of ["\uFB01x", "\u210C", "x\u00B2", "\u2168", "\u00AA"])
        rejects(() => prepLocal(s), JSON.stringify(s));
    });

    it("RFC 7622 3.3.1: rejects \" & ' / : < > @", function () {
      for (const c of ['"', "&", "'", "/", ":", "<", ">", "@"])
        rejects(() => prepLocal(`a${c}b`), c);
      expect(prepLocal("a+b.c_d-e!#$%*=?^`{|}~[]\\")).to.equal("a+b.c_d-e!#$%*=?^`{|}~[]\\");
    });

    it("rejects spaces, controls, default-ignorables, symbols and unassigned code points", function () {
      for (const s of [
        "a b",
        "a\u00A0b",
        "a\u0007",
        "a\u0085",
        "a\u00ADb",
        "a\u200Bb",
        "\u2603",
        "a\u0378",
        "a\uFFFF",
      ])
        rejects(() => prepLocal(s), JSON.stringify(s));
    });

    it("RFC 5892 A.1-A.3: contextual rules for ZWJ and MIDDLE DOT", function () {
      expect(prepLocal("\u0915\u094D\u200D\u0937")).to.equal("\u0915\u094D\u200D\u0937"); // ZWJ after a virama
      rejects(() => prepLocal("a\u200Db"));
      expect(prepLocal("l\u00B7l")).to.equal("l\u00B7l");
      rejects(() => prepLocal("a\u00B7b"));
    });

    it("RFC 5892 A.1: ZWNJ between dual- and right-joining Arabic letters is allowed (Persian), not after a right-joining one", () => {
      // mim yeh ZWNJ kheh: yeh (D) before, kheh (D) after.
      expect(prepLocal("\u0645\u06CC\u200C\u062E")).to.equal("\u0645\u06CC\u200C\u062E");
      // beh, fatha (transparent), ZWNJ, alef (R): allowed.
      expect(prepLocal("\u0628\u064E\u200C\u0627")).to.equal("\u0628\u064E\u200C\u0627");
      // alef (R) before ZWNJ cannot join to the left: refused.
      expect(() => prepLocal("\u0627\u200C\u0628")).to.throw(JidError);
      // Latin letters do not join: refused.
      expect(() => prepLocal("a\u200Cb")).to.throw(JidError);
    });

    it("RFC 5893: right-to-left localparts must satisfy the Bidi Rule", function () {
      expect(prepLocal("\u05E9\u05DC\u05D5\u05DD")).to.equal("\u05E9\u05DC\u05D5\u05DD");
      expect(prepLocal("\u05D0\u05D1" + "1")).to.equal("\u05D0\u05D11");
      rejects(() => prepLocal("\u05D0a")); // mixes right-to-left and left-to-right letters
      rejects(() => prepLocal("1\u05D0")); // starts with a digit
      rejects(() => prepLocal("\u0627\u0661" + "1")); // Arabic-Indic and European digits
    });

    it("RFC 7622 3.3.1: 1 to 1023 bytes after preparation", function () {
      expect(prepLocal("a".repeat(1023))).to.have.length(1023);
      rejects(() => prepLocal("a".repeat(1024)));
      expect(prepLocal("\u00E9".repeat(511) + "a")).to.have.length(512); // 1023 bytes
      rejects(() => prepLocal("\u00E9".repeat(512))); // 1024 bytes
      rejects(() => prepLocal(""));
    });
  });

  describe("RFC 7622 3.2: domainpart", function () {
    it("lower-cases and removes one trailing dot", function () {
      expect(prepDomain("Example.COM")).to.equal("example.com");
      expect(prepDomain("example.com.")).to.equal("example.com");
      expect(Jid.parse("juliet@Example.com./r").toString()).to.equal("juliet@example.com/r");
      rejects(() => prepDomain("."));
    });

    it("turns A-labels into U-labels, and prepares U-labels the same way", function () {
      expect(prepDomain("xn--mnchen-3ya.de")).to.equal("m\u00FCnchen.de");
      expect(prepDomain("XN--MNCHEN-3YA.de")).to.equal("m\u00FCnchen.de");
      expect(prepDomain("M\u00DCNCHEN.de")).to.equal("m\u00FCnchen.de");
      expect(prepDomain("\uFF45\uFF58\uFF41\uFF4D\uFF50\uFF4C\uFF45\uFF0Ecom")).to.equal(
        "example.com",
      );
      expect(prepDomain("b\u00FCcher\u3002de")).to.equal("b\u00FCcher.de");
      expect(
        Jid.parse("user@xn--mnchen-3ya.de").equals(Jid.parse("user@m\u00FCnchen.de")),
      ).to.equal(true);
    });

    it("rejects invalid A-labels and labels that are not in U-label form", function () {
      rejects(() => prepDomain("xn--a.com"));
      rejects(() => prepDomain("xn--invalid--.com"));
      rejects(() => prepDomain("\u210C.com"));
    });

    it("accepts IPv4 and bracketed IPv6 literals", function () {
      expect(prepDomain("127.0.0.1")).to.equal("127.0.0.1");
      expect(prepDomain("[::1]")).to.equal("[::1]");
      expect(prepDomain("[2001:DB8::1]")).to.equal("[2001:db8::1]");
      expect(Jid.parse("user@[::1]/res").toString()).to.equal("user@[::1]/res");
      expect(Jid.parse("user@127.0.0.1/res").domain).to.equal("127.0.0.1");
      for (const s of ["[::1", "::1", "[127.0.0.1]", "[fe80::1%eth0]", "[::g]"])
        rejects(() => prepDomain(s), s);
    });

    it("rejects empty labels, spaces and characters like @ / : !", function () {
      for (const s of ["", "a..b", ".a", "a b.com", "a@b", "a/b", "a:5222", "a!b.com", "a\u0000b"])
        rejects(() => prepDomain(s), JSON.stringify(s));
    });

    it("labels are 1..63 bytes and the whole domainpart at most 1023 bytes", function () {
      expect(prepDomain(`${"a".repeat(63)}.com`)).to.have.length(67);
      rejects(() => prepDomain(`${"a".repeat(64)}.com`));
      const long = Array.from({ length: 16 }, () => "a".repeat(63)).join("."); // 1023 bytes
      expect(prepDomain(long)).to.have.length(1023);
      rejects(() => prepDomain(`${long}a`));
    });
  });

  describe("RFC 8265 4.2 / RFC 7622 3.4: resourcepart (OpaqueString)", function () {
    it("keeps case, width and symbols; allows '@', '/' and spaces", function () {
      for (const s of [
        "Foo",
        "\uFF52\uFF45\uFF53",
        "\u265A",
        "foo@bar/baz",
        " ",
        "a b",
        "\u2163",
        "\uFB01",
      ])
        expect(prepResource(s)).to.equal(s);
    });

    it("maps non-ASCII spaces to U+0020 and applies NFC", function () {
      expect(prepResource("a\u00A0b\u3000c")).to.equal("a b c");
      expect(prepResource("e\u0301")).to.equal("\u00E9");
    });

    it("rejects controls, default-ignorables, noncharacters and unassigned code points", function () {
      for (const s of ["a\u0007", "a\u007F", "\n", "a\u200Bb", "a\u00ADb", "a\uFDD0", "a\u0378"])
        rejects(() => prepResource(s), JSON.stringify(s));
    });

    it("1 to 1023 bytes", function () {
      expect(prepResource("r".repeat(1023))).to.have.length(1023);
      rejects(() => prepResource("r".repeat(1024)));
      rejects(() => prepResource("\u265A".repeat(342))); // 1026 bytes
      rejects(() => prepResource(""));
    });
  });

  describe("the Jid object", function () {
    it("of() prepares each part; empty local and resource mean absent", function () {
      const j = Jid.of("Juliet", "Example.com", "Balcony");
      expect(j.toString()).to.equal("juliet@example.com/Balcony");
      expect(Jid.of("", "example.com").toString()).to.equal("example.com");
      rejects(() => Jid.of("a b", "example.com"));
      rejects(() => Jid.of("a", ""));
    });

    it("bare(), isBare(), withResource(), bareString(), equals()", function () {
      const full = Jid.parse("Juliet@example.com/balcony");
      const bare = full.bare();
      expect(full.isBare()).to.equal(false);
      expect(bare.isBare()).to.equal(true);
      expect(bare.bare()).to.equal(bare);
      expect(bare.toString()).to.equal("juliet@example.com");
      expect(full.bareString()).to.equal("juliet@example.com");
      expect(bare.withResource("balcony").equals(full)).to.equal(true);
      expect(full.equals(Jid.parse("juliet@example.com/Balcony"))).to.equal(false);
      expect(full.equals(bare)).to.equal(false);
      rejects(() => bare.withResource(""));
      expect(bare.withResource("\u00A0x").resource).to.equal(" x");
    });

    it("toString() is cached and stable", function () {
      const j = Jid.parse("a@b.example/c");
      expect(j.toString()).to.equal(j.toString());
      expect(`${j}`).to.equal("a@b.example/c");
    });

    it("tryParse returns null on bad input and a Jid on good input", function () {
      expect(Jid.tryParse("a b@example.com")).to.equal(null);
      expect(Jid.tryParse("a@example.com")?.local).to.equal("a");
    });
  });
});

import { expect } from "chai";
import {
  Element,
  StreamParser,
  cloneElement,
  escapeXml,
  escapeXmlText,
  xml,
} from "../../src/xml/index.js";
import type { StreamHeader, StreamParserLimits } from "../../src/xml/index.js";

const NS_STREAM = "http://etherx.jabber.org/streams";
const DECL = "<?xml version='1.0'?>";
const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" +
  " to='example.com' version='1.0' xml:lang='en'>";
const OPEN = DECL + HEADER;
/** A header that fits the 100-byte limit of the limit tests. */
const SHORT_OPEN =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
const LIMITS: StreamParserLimits = { maxStanzaBytes: 10_000, maxDepth: 16 };

interface Run {
  parser: StreamParser;
  events: string[];
  elements: { el: Element; ns: string | undefined }[];
  headers: StreamHeader[];
  errors: { condition: string; text: string }[];
}

function newRun(
  limits: StreamParserLimits = LIMITS,
  onElement?: (el: Element, run: Run) => void,
): Run {
  const run = { events: [], elements: [], headers: [], errors: [] } as unknown as Run;
  run.parser = new StreamParser(limits, {
    streamStart(h) {
      run.headers.push(h);
      run.events.push(
        `start ${h.name} ns=${h.ns} default=${h.defaultNs} ${JSON.stringify(h.attrs)}`,
      );
    },
    element(el, ns) {
      run.elements.push({ el, ns });
      run.events.push(`element ns=${ns} ${el.toString()}`);
      onElement?.(el, run);
    },
    streamEnd() {
      run.events.push("end");
    },
    error(condition, text) {
      run.errors.push({ condition, text });
      run.events.push(`error ${condition}: ${text}`);
    },
  });
  return run;
}

function parse(input: string | Buffer | (string | Buffer)[], limits?: StreamParserLimits): Run {
  const run = newRun(limits);
  const chunks = Array.isArray(input) ? input : [input];
  for (const c of chunks) run.parser.write(typeof c === "string" ? Buffer.from(c) : c);
  return run;
}

function onlyError(input: string | Buffer | (string | Buffer)[], limits?: StreamParserLimits) {
  const run = parse(input, limits);
  expect(run.errors, run.events.join("\n")).to.have.length(1);
  return run.errors[0];
}

/** Deterministic PRNG (mulberry32) so random splits are reproducible. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function splitAt(buf: Buffer, points: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, buf.length]) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  return out;
}

/** Every chunking we check: whole, byte by byte, every two-piece split, and random splits. */
function* chunkings(buf: Buffer): Generator<[string, Buffer[]]> {
  yield ["whole", [buf]];
  yield [
    "byte by byte",
    splitAt(
      buf,
      Array.from({ length: buf.length - 1 }, (_, k) => k + 1),
    ),
  ];
  for (let k = 1; k < buf.length; k++) yield [`split at ${k}`, splitAt(buf, [k])];
  const rnd = prng(buf.length);
  for (let r = 0; r < 30; r++) {
    const points = new Set<number>();
    const count = 1 + Math.floor(rnd() * 20);
    for (let k = 0; k < count; k++) points.add(1 + Math.floor(rnd() * (buf.length - 1)));
    yield [
      `random split ${r}`,
      splitAt(
        buf,
        [...points].sort((x, y) => x - y),
      ),
    ];
  }
}

describe("xml: StreamParser", () => {
  describe("stream header and XML declaration", () => {
    it("RFC 6120 4.7: the stream header is reported with its name, namespaces and attributes", () => {
      const run = parse(OPEN);
      expect(run.errors).to.deep.equal([]);
      expect(run.headers).to.have.length(1);
      const h = run.headers[0];
      expect(h.name).to.equal("stream:stream");
      expect(h.localName).to.equal("stream");
      expect(h.ns).to.equal(NS_STREAM);
      expect(h.defaultNs).to.equal("jabber:client");
      expect(h.attrs).to.deep.equal({
        xmlns: "jabber:client",
        "xmlns:stream": NS_STREAM,
        to: "example.com",
        version: "1.0",
        "xml:lang": "en",
      });
    });

    it("RFC 6120 11.5: an XML declaration with encoding UTF-8 (any case) and standalone is accepted", () => {
      for (const decl of [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<?xml version="1.0" encoding="utf-8" standalone="yes"?>',
        "<?xml version = '1.0'  ?>",
      ]) {
        const run = parse(decl + "\n" + HEADER);
        expect(run.errors, decl).to.deep.equal([]);
        expect(run.headers, decl).to.have.length(1);
      }
    });

    it("RFC 6120 11.5: a stream without an XML declaration is accepted", () => {
      const run = parse(HEADER);
      expect(run.errors).to.deep.equal([]);
      expect(run.headers).to.have.length(1);
    });

    it("RFC 6120 11.6: an XML declaration naming an encoding other than UTF-8 is unsupported-encoding", () => {
      const err = onlyError("<?xml version='1.0' encoding='ISO-8859-1'?>" + HEADER);
      expect(err.condition).to.equal("unsupported-encoding");
    });

    it("XML 1.0 2.8: a malformed XML declaration is not-well-formed", () => {
      expect(onlyError("<?xml version='2.0'?>" + HEADER).condition).to.equal("not-well-formed");
      expect(onlyError("<?xml encoding='UTF-8'?>" + HEADER).condition).to.equal("not-well-formed");
    });

    it("RFC 6120 11.6: a UTF-8 byte order mark before the declaration is skipped", () => {
      const run = parse(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(OPEN)]));
      expect(run.errors).to.deep.equal([]);
      expect(run.headers).to.have.length(1);
    });

    it("RFC 6120 4.8.1: a header with an unbound prefix is reported with ns undefined (negotiation decides)", () => {
      const run = parse("<stream:stream xmlns='jabber:client' to='example.com'>");
      expect(run.errors).to.deep.equal([]);
      expect(run.headers[0].ns).to.equal(undefined);
      expect(run.headers[0].defaultNs).to.equal("jabber:client");
    });

    it("RFC 6120 4.4: the closing stream tag calls streamEnd; whitespace after it is ignored", () => {
      const run = parse(OPEN + "<presence/></stream:stream>\n ");
      expect(run.events.slice(1)).to.deep.equal(["element ns=jabber:client <presence/>", "end"]);
    });

    it("XML 1.0 2.1: an element after the closing stream tag is not-well-formed", () => {
      const run = parse(OPEN + "</stream:stream><presence/>");
      expect(run.events.slice(1, 2)).to.deep.equal(["end"]);
      expect(run.errors.map((e) => e.condition)).to.deep.equal(["not-well-formed"]);
    });

    it("XML 1.0 3: a closing tag that does not match the stream header is not-well-formed", () => {
      expect(onlyError(OPEN + "</stream:foo>").condition).to.equal("not-well-formed");
    });
  });

  describe("stanzas and namespaces", () => {
    it("RFC 6120 4.8.3: a stanza inheriting the stream's default namespace gets ns and no added xmlns", () => {
      const run = parse(
        OPEN + "<message to='romeo@example.net' type='chat'><body>hi</body></message>",
      );
      expect(run.errors).to.deep.equal([]);
      const { el, ns } = run.elements[0];
      expect(ns).to.equal("jabber:client");
      expect(el.toString()).to.equal(
        '<message to="romeo@example.net" type="chat"><body>hi</body></message>',
      );
      expect(el.attrs).to.not.have.property("xmlns");
      expect(el.is("message", "jabber:client")).to.equal(true);
      expect(el.getChildText("body")).to.equal("hi");
    });

    it("Namespaces in XML 6.2: an explicit default namespace on a stanza is kept and used", () => {
      const run = parse(
        OPEN + "<iq xmlns='jabber:server' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
      );
      expect(run.elements[0].ns).to.equal("jabber:server");
      expect(run.elements[0].el.toString()).to.equal(
        '<iq xmlns="jabber:server" type="get" id="1"><ping xmlns="urn:xmpp:ping"/></iq>',
      );
    });

    it("Namespaces in XML 6.1: a prefix declared only on the stream header is copied onto the stanza", () => {
      const run = parse(
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'" +
          " xmlns:db='jabber:server:dialback'><db:result from='a.example' to='b.example'>key</db:result>",
      );
      expect(run.errors).to.deep.equal([]);
      expect(run.elements[0].ns).to.equal("jabber:server:dialback");
      expect(run.elements[0].el.toString()).to.equal(
        '<db:result from="a.example" to="b.example" xmlns:db="jabber:server:dialback">key</db:result>',
      );
    });

    it("Namespaces in XML 6.1: a header prefix used by a descendant or an attribute is copied onto the stanza", () => {
      const run = parse(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>" +
          "<message><x:a/></message><presence x:b='1'/><stream:error><x:c/></stream:error>",
      );
      expect(run.errors).to.deep.equal([]);
      expect(run.elements.map((e) => e.el.toString())).to.deep.equal([
        '<message xmlns:x="urn:x"><x:a/></message>',
        '<presence x:b="1" xmlns:x="urn:x"/>',
        `<stream:error xmlns:stream="${NS_STREAM}" xmlns:x="urn:x"><x:c/></stream:error>`,
      ]);
      expect(run.elements[2].ns).to.equal(NS_STREAM);
    });

    it("Namespaces in XML 6.1: a prefix declared inside the stanza is not copied from the header", () => {
      const run = parse(
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x'>" +
          "<message xmlns:x='urn:x'><x:a/></message><message><b xmlns:x='urn:other'><x:a/></b></message>",
      );
      expect(run.elements.map((e) => e.el.toString())).to.deep.equal([
        '<message xmlns:x="urn:x"><x:a/></message>',
        '<message><b xmlns:x="urn:other"><x:a/></b></message>',
      ]);
    });

    it("Namespaces in XML 3: the xml prefix is bound without a declaration and never copied", () => {
      const run = parse(OPEN + "<message xml:lang='fr'><body xml:lang='en'>x</body></message>");
      expect(run.errors).to.deep.equal([]);
      expect(run.elements[0].el.toString()).to.equal(
        '<message xml:lang="fr"><body xml:lang="en">x</body></message>',
      );
    });

    it("the emitted stanza resolves namespaces through getNS() like the ns argument", () => {
      const run = parse(OPEN + "<message><body/></message>");
      const { el } = run.elements[0];
      expect(el.getNS()).to.equal("jabber:client");
      expect((el.getChild("body") as Element).getNS()).to.equal("jabber:client");
    });

    it("Namespaces in XML 5: an unbound element prefix is not-well-formed", () => {
      expect(onlyError(OPEN + "<foo:message/>").condition).to.equal("not-well-formed");
      expect(onlyError(OPEN + "<message><foo:x/></message>").condition).to.equal("not-well-formed");
    });

    it("Namespaces in XML 5: an unbound attribute prefix is not-well-formed", () => {
      expect(onlyError(OPEN + "<message foo:x='1'/>").condition).to.equal("not-well-formed");
    });

    it("Namespaces in XML 6.3: two attributes with the same expanded name are not-well-formed", () => {
      const err = onlyError(OPEN + "<message xmlns:a='urn:n' xmlns:b='urn:n' a:x='1' b:x='2'/>");
      expect(err.condition).to.equal("not-well-formed");
    });

    it("Namespaces in XML 3: undeclaring a prefix or rebinding xmlns is not-well-formed", () => {
      expect(onlyError(OPEN + "<message xmlns:a=''/>").condition).to.equal("not-well-formed");
      expect(onlyError(OPEN + "<message xmlns:xmlns='urn:x'/>").condition).to.equal(
        "not-well-formed",
      );
    });

    it("Namespaces in XML 3: xmlns:xml bound to its own URI is accepted, on the header and on a stanza", () => {
      // Found by fuzzing: the declaration rebound 'xml' in the frozen root scope and write() threw.
      const XMLNS_XML = "xmlns:xml='http://www.w3.org/XML/1998/namespace'";
      const run = parse(
        DECL +
          `<stream:stream xmlns='jabber:client' ${XMLNS_XML}` +
          " xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>" +
          `<message ${XMLNS_XML} xml:lang='fr'><body ${XMLNS_XML}>salut</body></message>`,
      );
      expect(run.errors).to.deep.equal([]);
      expect(run.headers[0].ns).to.equal(NS_STREAM);
      const { el, ns } = run.elements[0];
      expect(ns).to.equal("jabber:client");
      expect(el.attrs["xml:lang"]).to.equal("fr");
      expect(el.getChildText("body")).to.equal("salut");
    });

    it("RFC 6120 8: nested children, text and self-closing elements are built as ltx Elements", () => {
      const run = parse(
        OPEN +
          "<iq type='result' id='r'><query xmlns='jabber:iq:roster'><item jid='a@b'/>" +
          "<item jid='c@d'><group>G</group></item></query></iq>",
      );
      const { el } = run.elements[0];
      expect(el).to.be.instanceOf(Element);
      const query = el.getChild("query", "jabber:iq:roster") as Element;
      expect(query.getChildren("item").map((i) => i.attrs.jid)).to.deep.equal(["a@b", "c@d"]);
      expect(query.getChildren("item")[1].getChildText("group")).to.equal("G");
      expect(query.parent).to.equal(el);
    });
  });

  describe("character data and references", () => {
    it("XML 1.0 4.6: the five predefined entities are decoded in text and attributes", () => {
      const run = parse(
        OPEN +
          "<message id='&lt;&gt;&amp;&quot;&apos;'><body>&lt;&gt;&amp;&quot;&apos;</body></message>",
      );
      const { el } = run.elements[0];
      expect(el.attrs.id).to.equal(`<>&"'`);
      expect(el.getChildText("body")).to.equal(`<>&"'`);
    });

    it("XML 1.0 4.1: decimal and hexadecimal character references are decoded, astral ones too", () => {
      const run = parse(
        OPEN + "<message a='&#65;&#x42;'><body>&#233;&#x1F600;&#x0000041;</body></message>",
      );
      expect(run.elements[0].el.attrs.a).to.equal("AB");
      expect(run.elements[0].el.getChildText("body")).to.equal("é😀A");
    });

    it("XML 1.0 2.2: multi-byte UTF-8 text is decoded", () => {
      const run = parse(OPEN + "<message><body>héllo 世界 😀</body></message>");
      expect(run.elements[0].el.getChildText("body")).to.equal("héllo 世界 😀");
    });

    it("XML 1.0 2.7: a CDATA section is allowed and becomes text", () => {
      const run = parse(OPEN + "<message><body>a<![CDATA[<b>&amp;]]]>c</body></message>");
      expect(run.errors).to.deep.equal([]);
      expect(run.elements[0].el.getChildText("body")).to.equal("a<b>&amp;]c");
    });

    it("XML 1.0 2.11 and 3.3.3: line ends are normalised; tabs and newlines in attributes become spaces", () => {
      const run = parse(OPEN + "<message a='x\ty\r\nz&#10;'><body>1\r\n2\r3\n4</body></message>");
      expect(run.elements[0].el.attrs.a).to.equal("x y z\n");
      expect(run.elements[0].el.getChildText("body")).to.equal("1\n2\n3\n4");
    });

    it("RFC 6120 11.1: a reference to an entity other than the predefined five is restricted-xml", () => {
      expect(onlyError(OPEN + "<message><body>&nbsp;</body></message>").condition).to.equal(
        "restricted-xml",
      );
      expect(onlyError(OPEN + "<message a='&foo;'/>").condition).to.equal("restricted-xml");
    });

    it("XML 1.0 4.1: a malformed reference is not-well-formed", () => {
      for (const ref of [
        "&amp <",
        "&;",
        "&#;",
        "&#x;",
        "&#xZZ;",
        "&#12a;",
        "&a#b;",
        "&#" + "0".repeat(40) + "65;",
      ]) {
        const err = onlyError(OPEN + `<message><body>${ref}</body></message>`);
        expect(err.condition, ref).to.equal("not-well-formed");
      }
    });

    it("XML 1.0 2.2 (WFC: Legal Character): a reference to a character outside Char is not-well-formed", () => {
      for (const ref of ["&#0;", "&#x1;", "&#xD800;", "&#xFFFE;", "&#x110000;"]) {
        expect(onlyError(OPEN + `<message><body>${ref}</body></message>`).condition, ref).to.equal(
          "not-well-formed",
        );
      }
    });

    it("XML 1.0 2.2: a character outside Char (NUL, C0 controls, U+FFFE) is not-well-formed", () => {
      for (const bad of ["\u0000", "\u0001", "\u001f", "\ufffe", "\uffff"]) {
        const code = bad.charCodeAt(0).toString(16);
        expect(
          onlyError(OPEN + `<message><body>a${bad}</body></message>`).condition,
          code,
        ).to.equal("not-well-formed");
        expect(onlyError(OPEN + `<message a='${bad}'/>`).condition, code).to.equal(
          "not-well-formed",
        );
      }
    });

    it("XML 1.0 2.2: a lone surrogate in string input is not-well-formed", () => {
      const run = newRun();
      run.parser.write(OPEN + "<message><body>\udc00</body></message>");
      expect(run.errors.map((e) => e.condition)).to.deep.equal(["not-well-formed"]);
    });

    it("XML 1.0 2.4: ']]>' in character data is not-well-formed", () => {
      expect(onlyError(OPEN + "<message><body>a]]>b</body></message>").condition).to.equal(
        "not-well-formed",
      );
    });
  });

  describe("well-formedness errors (RFC 6120 4.9.3.13 not-well-formed)", () => {
    const cases: [string, string][] = [
      ["a mismatched end tag", "<message><body></message>"],
      ["an element left open at the stream's end", "<message><body></body></stream:stream>"],
      ["an end tag without a start tag", "</message>"],
      ["a duplicate attribute", "<message to='a' to='b'/>"],
      ["an unquoted attribute", "<message to=a/>"],
      ["an attribute without a value", "<message to/>"],
      ["'<' inside an attribute value", "<message to='a<b'/>"],
      ["attributes not separated by whitespace", "<message a='1'b='2'/>"],
      ["an invalid name start character", "<1message/>"],
      ["a name with two colons", "<a:b:c xmlns:a='urn:a'/>"],
      ["'/' not followed by '>'", "<message/ >"],
      ["non-whitespace text at stream level", "hello<presence/>"],
      ["a CDATA section at stream level", "<![CDATA[ ]]>"],
      ["malformed markup after '<!'", "<!x>"],
      ["a space after '<'", "< message/>"],
    ];
    for (const [what, input] of cases) {
      it(`RFC 6120 4.9.3.13: ${what} is not-well-formed`, () => {
        const err = onlyError(OPEN + input);
        expect(err.condition).to.equal("not-well-formed");
      });
    }

    it("RFC 6120 4.9.3.13: text before the stream header is not-well-formed", () => {
      expect(onlyError("x" + HEADER).condition).to.equal("not-well-formed");
    });

    it("RFC 6120 4.9.3.13: stanzas before the error are still delivered, nothing after it", () => {
      const run = parse(OPEN + "<presence/><message to=a/><presence/>");
      expect(run.events.slice(1)).to.deep.equal([
        "element ns=jabber:client <presence/>",
        "error not-well-formed: attribute to is not quoted",
      ]);
    });

    it("RFC 6120 4.9.3.13: after an error all input is ignored until reset()", () => {
      const run = parse([OPEN + "<message to=a/>", "<presence/>", "</stream:stream>"]);
      expect(run.events).to.have.length(2);
      run.parser.reset();
      run.parser.write(Buffer.from(OPEN + "<presence/>"));
      expect(run.events.slice(2).map((e) => e.split(" ")[0])).to.deep.equal(["start", "element"]);
    });
  });

  describe("restricted XML (RFC 6120 11.1, 4.9.3.18)", () => {
    it("RFC 6120 11.1: a comment is restricted-xml, inside a stanza or at stream level", () => {
      expect(onlyError(OPEN + "<message><!-- hi --></message>").condition).to.equal(
        "restricted-xml",
      );
      expect(onlyError(OPEN + "<!-- hi -->").condition).to.equal("restricted-xml");
      expect(onlyError("<!-- hi -->" + HEADER).condition).to.equal("restricted-xml");
    });

    it("RFC 6120 11.1: a processing instruction is restricted-xml", () => {
      expect(onlyError(OPEN + "<message><?foo bar?></message>").condition).to.equal(
        "restricted-xml",
      );
      expect(onlyError("<?xml-stylesheet href='a'?>" + HEADER).condition).to.equal(
        "restricted-xml",
      );
    });

    it("RFC 6120 11.1: an XML declaration anywhere but the very start of the stream is restricted-xml", () => {
      expect(onlyError(OPEN + DECL).condition).to.equal("restricted-xml");
      expect(onlyError(" " + OPEN).condition).to.equal("restricted-xml");
    });

    it("RFC 6120 11.1: a document type declaration is restricted-xml", () => {
      expect(onlyError("<!DOCTYPE stream [<!ENTITY x 'y'>]>" + HEADER).condition).to.equal(
        "restricted-xml",
      );
    });
  });

  describe("encoding (RFC 6120 11.6, 4.9.3.22 unsupported-encoding)", () => {
    const bad: [string, number[]][] = [
      ["a byte that never occurs in UTF-8 (0xFF)", [0xff]],
      ["an overlong encoding (C0 AF)", [0xc0, 0xaf]],
      ["an encoded surrogate (ED A0 80)", [0xed, 0xa0, 0x80]],
      ["a truncated sequence (E2 82 followed by ASCII)", [0xe2, 0x82, 0x41]],
      ["a stray continuation byte", [0x80]],
      ["a code point above U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
    ];
    for (const [what, bytes] of bad) {
      it(`RFC 6120 11.6: ${what} is unsupported-encoding`, () => {
        const input = Buffer.concat([
          Buffer.from(OPEN + "<presence/><message><body>ok"),
          Buffer.from(bytes),
          Buffer.from("</body></message>"),
        ]);
        const run = parse(input);
        expect(run.events.slice(1)).to.deep.equal([
          "element ns=jabber:client <presence/>",
          "error unsupported-encoding: invalid UTF-8 byte sequence",
        ]);
      });
    }

    it("RFC 6120 11.6: a multi-byte character split across writes is decoded", () => {
      const bytes = Buffer.from(OPEN + "<message><body>😀é</body></message>");
      const at = bytes.indexOf(0xf0) + 2;
      const run = parse([bytes.subarray(0, at), bytes.subarray(at)]);
      expect(run.errors).to.deep.equal([]);
      expect(run.elements[0].el.getChildText("body")).to.equal("😀é");
    });
  });

  describe("limits (RFC 6120 4.9.3.13 policy-violation, 13.12)", () => {
    const small: StreamParserLimits = { maxStanzaBytes: 100, maxDepth: 4 };

    function stanzaOfBytes(bytes: number, filler = "a"): string {
      const base = "<message><body></body></message>";
      const need = bytes - Buffer.byteLength(base);
      const unit = Buffer.byteLength(filler);
      const text = filler.repeat(Math.floor(need / unit)) + "b".repeat(need % unit);
      const s = `<message><body>${text}</body></message>`;
      expect(Buffer.byteLength(s)).to.equal(bytes);
      return s;
    }

    it("RFC 6120 13.12: a stanza of exactly max_stanza_bytes is accepted, one byte more is policy-violation", () => {
      for (const filler of ["a", "é", "世", "😀"]) {
        const ok = parse([SHORT_OPEN, stanzaOfBytes(100, filler)], small);
        expect(ok.errors, filler).to.deep.equal([]);
        expect(ok.elements, filler).to.have.length(1);
        const over = parse([SHORT_OPEN, stanzaOfBytes(101, filler)], small);
        expect(
          over.errors.map((e) => e.condition),
          filler,
        ).to.deep.equal(["policy-violation"]);
        expect(over.elements, filler).to.have.length(0);
      }
    });

    it("RFC 6120 4.9.3.13: a stanza over max_stanza_bytes is policy-violation before it completes", () => {
      const run = parse([SHORT_OPEN, "<message><body>" + "x".repeat(200)], small);
      expect(run.errors).to.deep.equal([
        { condition: "policy-violation", text: "stanza exceeds max_stanza_bytes (100)" },
      ]);
    });

    it("RFC 6120 4.9.3.13: the size error fires on the first byte past the limit, counted from the stanza's '<'", () => {
      const run = newRun(small);
      run.parser.write(Buffer.from(SHORT_OPEN + "  \n"));
      const stanza = Buffer.from("<message><body>" + "é".repeat(100));
      let written = 0;
      for (const b of stanza) {
        run.parser.write(Buffer.from([b]));
        written++;
        if (run.errors.length > 0) break;
      }
      expect(run.errors.map((e) => e.condition)).to.deep.equal(["policy-violation"]);
      // Byte 101 of the stanza completes the character that crosses the limit of 100.
      expect(written).to.equal(101);
    });

    it("RFC 6120 13.12: a huge stanza fed in pieces stays bounded and later pieces are ignored", () => {
      const limits = { maxStanzaBytes: 64 * 1024, maxDepth: 8 };
      const run = newRun(limits);
      run.parser.write(Buffer.from(OPEN + "<message><body>"));
      const piece = Buffer.alloc(1024, "a");
      let written = 0;
      const started = process.hrtime.bigint();
      for (let k = 0; k < 10 * 1024; k++) {
        // 10 MB in total
        run.parser.write(piece);
        if (run.errors.length === 0) written++;
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      expect(run.errors.map((e) => e.condition)).to.deep.equal(["policy-violation"]);
      expect(written).to.be.lessThan(64);
      expect(ms).to.be.lessThan(1000);
    });

    it("RFC 6120 4.9.3.13: nesting deeper than max_depth is policy-violation", () => {
      const ok = parse([SHORT_OPEN, "<a><b><c><d/></c></b></a>"], small);
      expect(ok.errors).to.deep.equal([]);
      const deep = parse([SHORT_OPEN, "<a><b><c><d><e/></d></c></b></a>"], small);
      expect(deep.errors).to.deep.equal([
        { condition: "policy-violation", text: "element nesting exceeds max_depth (4)" },
      ]);
    });

    it("RFC 6120 4.9.3.13: a stream header over max_stanza_bytes is policy-violation", () => {
      const err = onlyError(`<stream:stream xmlns='jabber:client' to='${"x".repeat(200)}'>`, small);
      expect(err).to.deep.equal({
        condition: "policy-violation",
        text: "stream header exceeds max_stanza_bytes (100)",
      });
    });

    it("RFC 6120 4.9.3.13: whitespace between stanzas over max_stanza_bytes is policy-violation", () => {
      const ok = parse([SHORT_OPEN, " ".repeat(100), "<presence/>", " ".repeat(100)], small);
      expect(ok.errors).to.deep.equal([]);
      const err = onlyError([SHORT_OPEN, "<presence/>", " ".repeat(101)], small);
      expect(err).to.deep.equal({
        condition: "policy-violation",
        text: "whitespace between stanzas exceeds max_stanza_bytes (100)",
      });
    });

    it("RFC 6120 13.12: the size limit applies to each stanza separately", () => {
      const s = stanzaOfBytes(100);
      const run = parse([SHORT_OPEN, s + s + "\n" + s], small);
      expect(run.errors).to.deep.equal([]);
      expect(run.elements).to.have.length(3);
    });
  });

  describe("whitespace keepalives and stream restarts", () => {
    it("RFC 6120 4.6.1: whitespace between stanzas is ignored", () => {
      const run = parse([OPEN, " ", "\n", "<presence/>", " \t\r\n ", " ", "<presence/>", "\n"]);
      expect(run.events.slice(1)).to.deep.equal([
        "element ns=jabber:client <presence/>",
        "element ns=jabber:client <presence/>",
      ]);
    });

    it("RFC 6120 6.4.6: after reset() a new XML declaration and stream header are accepted", () => {
      const run = parse([
        OPEN,
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
      ]);
      run.parser.reset();
      run.parser.write(Buffer.from(OPEN + "<iq type='set' id='b'/>"));
      expect(run.errors).to.deep.equal([]);
      expect(run.events.map((e) => e.split(" ")[0])).to.deep.equal([
        "start",
        "element",
        "start",
        "element",
      ]);
    });

    it("RFC 6120 5.4.3.3: reset() from an element handler parses the rest of the chunk as the new stream", () => {
      const run = newRun(LIMITS, (el, r) => {
        if (el.name === "proceed") r.parser.reset();
      });
      run.parser.write(Buffer.from(OPEN + "<proceed/>" + OPEN + "<presence/>"));
      expect(run.errors).to.deep.equal([]);
      expect(run.events.map((e) => e.split(" ")[0])).to.deep.equal([
        "start",
        "element",
        "start",
        "element",
      ]);
    });

    it("RFC 6120 4.9.3.13: without reset() a second stream header is an ordinary first-level element", () => {
      const run = parse([OPEN, HEADER]);
      expect(run.headers).to.have.length(1);
      expect(run.elements).to.have.length(0);
    });
  });

  describe("chunking", () => {
    const corpus: [string, Buffer][] = [
      [
        "a full session",
        Buffer.from(
          "\ufeff<?xml version='1.0' encoding='UTF-8'?>\n" +
            "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:x' to='ex.com'>" +
            " \n<message to='juliet@ex.com' id=\"a&amp;b\" x:y='1'><body>h\u00e9llo \u4e16\u754c \ud83d\ude00 &lt;&#x1F600;&#233;</body>" +
            "<data><![CDATA[<x>]]]]><![CDATA[]]]]></data><t a='\t\r\n'>\r\n\r</t></message>\r\n" +
            "<presence/><iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq >\t</stream:stream >\n",
        ),
      ],
      ["a restricted comment", Buffer.from(OPEN + "<presence/><message><!-- x --></message>")],
      ["a bad reference", Buffer.from(OPEN + "<presence/><message>&#xD800;</message>")],
      ["an undefined entity", Buffer.from(OPEN + "<presence/><message>&bogus;</message>")],
      [
        "a stanza over the limit",
        Buffer.from(OPEN + "<presence/><message>" + "\u00e9\ud83d\ude00".repeat(40)),
      ],
      [
        "invalid UTF-8 mid-stream",
        Buffer.concat([
          Buffer.from(OPEN + "<presence/><message>\u00e9"),
          Buffer.from([0xe2, 0x28, 0xa1]),
        ]),
      ],
      ["a mismatched tag", Buffer.from(OPEN + "<presence/><message></messag>")],
      ["']]>' in text", Buffer.from(OPEN + "<presence/><message>]]]></message>")],
    ];
    const limits = { maxStanzaBytes: 200, maxDepth: 8 };

    for (const [what, bytes] of corpus) {
      it(`every split of the input gives identical results: ${what}`, () => {
        const reference = parse(bytes, limits).events;
        expect(reference.length).to.be.greaterThan(1);
        for (const [how, chunks] of chunkings(bytes)) {
          expect(parse(chunks, limits).events, how).to.deep.equal(reference);
        }
      });
    }

    it("the full session corpus parses as expected", () => {
      const run = parse(corpus[0][1], limits);
      expect(run.errors).to.deep.equal([]);
      expect(run.events.slice(1)).to.deep.equal([
        'element ns=jabber:client <message to="juliet@ex.com" id="a&amp;b" x:y="1" xmlns:x="urn:x">' +
          "<body>h\u00e9llo \u4e16\u754c \ud83d\ude00 &lt;\ud83d\ude00\u00e9</body>" +
          '<data>&lt;x&gt;]]]]</data><t a="  ">\n\n</t></message>',
        "element ns=jabber:client <presence/>",
        'element ns=jabber:client <iq type="get" id="1"><query xmlns="jabber:iq:roster"/></iq>',
        "end",
      ]);
    });

    it("random well-formed and broken streams give identical results however they are split", () => {
      const rnd = prng(6120);
      const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
      const good = [
        "</message> <message>",
        "</message><presence/>\n<message>",
        "<a x='1' b:y='2'>",
        "</a>",
        "<c/>",
        "text",
        "&lt;",
        " ",
        "\r\n",
        "\u00e9\ud83d\ude00",
        "<![CDATA[x]]]>",
        "<b:d xmlns:b='urn:z'>t</b:d>",
      ];
      const bad = [
        "<",
        ">",
        "/",
        "'",
        "=",
        "&",
        ";",
        "]]>",
        "<!--",
        "<?",
        "\u0000",
        "\ufffe",
        "&#0;",
        "<x",
        "</b>",
      ];
      const head = OPEN.replace("version='1.0' ", "version='1.0' xmlns:b='urn:b' ");
      const outcomes = new Set<string>();
      for (let iter = 0; iter < 300; iter++) {
        let s = head + "<message>";
        const parts = 1 + Math.floor(rnd() * 25);
        for (let k = 0; k < parts; k++) s += rnd() < 0.92 ? pick(good) : pick(bad);
        const bytes = Buffer.from(s);
        if (rnd() < 0.1) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
        const limits = {
          maxStanzaBytes: 200 + Math.floor(rnd() * 300),
          maxDepth: 2 + Math.floor(rnd() * 4),
        };
        const reference = parse(bytes, limits).events;
        const last = reference[reference.length - 1];
        outcomes.add(last.startsWith("error") ? last.split(":")[0] : "ok");
        for (let t = 0; t < 4; t++) {
          const points = new Set<number>();
          for (let q = 0; q < 1 + rnd() * 12; q++)
            points.add(1 + Math.floor(rnd() * (bytes.length - 1)));
          const chunks = splitAt(
            bytes,
            [...points].sort((x, y) => x - y),
          );
          expect(parse(chunks, limits).events, JSON.stringify(s)).to.deep.equal(reference);
        }
      }
      // The generator reaches the interesting outcomes, so the comparison above means something.
      expect([...outcomes].sort()).to.include.members([
        "ok",
        "error not-well-formed",
        "error policy-violation",
        "error restricted-xml",
      ]);
    });

    it("string input split anywhere, even inside a surrogate pair, equals byte input", () => {
      const text = corpus[0][1].toString("utf8");
      const reference = parse(corpus[0][1], limits).events;
      for (let k = 1; k < text.length; k++) {
        const run = newRun(limits);
        run.parser.write(text.slice(0, k));
        run.parser.write(text.slice(k));
        expect(run.events, `split at ${k}`).to.deep.equal(reference);
      }
    });
  });

  describe("performance", () => {
    it("parses 1 KB message stanzas in well under 50 microseconds each", () => {
      const body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(16);
      const stanza = Buffer.from(
        `<message to='juliet@capulet.example/balcony' from='romeo@montague.example/garden' type='chat' id='m${"1".repeat(8)}'>` +
          `<body>${body}</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`,
      );
      expect(stanza.length).to.be.within(900, 1200);
      let count = 0;
      const parser = new StreamParser(LIMITS, {
        streamStart() {},
        element() {
          count++;
        },
        streamEnd() {},
        error(c, t) {
          throw new Error(`${c}: ${t}`);
        },
      });
      parser.write(Buffer.from(OPEN));
      const n = 20_000;
      for (let k = 0; k < 2000; k++) parser.write(stanza); // warm-up
      const started = process.hrtime.bigint();
      for (let k = 0; k < n; k++) parser.write(stanza);
      const perStanzaUs = Number(process.hrtime.bigint() - started) / 1e3 / n;
      expect(count).to.equal(n + 2000);
      expect(perStanzaUs).to.be.lessThan(50);
    });

    it("a 200 KB text fed byte by byte is parsed in linear time", () => {
      const run = newRun({ maxStanzaBytes: 1 << 20, maxDepth: 8 });
      run.parser.write(Buffer.from(OPEN + "<message><body>"));
      const byte = Buffer.from("a");
      const started = process.hrtime.bigint();
      for (let k = 0; k < 200_000; k++) run.parser.write(byte);
      run.parser.write(Buffer.from("</body></message>"));
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      expect(run.elements[0].el.getChildText("body")).to.have.length(200_000);
      expect(ms).to.be.lessThan(2000);
    });
  });
});

describe("xml: xml(), escapeXml(), escapeXmlText()", () => {
  it("xml() builds ltx Elements, leaving out undefined attributes and empty children", () => {
    const el = xml(
      "message",
      { to: "a@b", id: undefined },
      xml("body", null, "hi & bye"),
      null,
      undefined,
      false,
      "",
    );
    expect(el).to.be.instanceOf(Element);
    expect(el.toString()).to.equal('<message to="a@b"><body>hi &amp; bye</body></message>');
    expect((el.getChild("body") as Element).parent).to.equal(el);
  });

  it("xml() output serialises and parses back to the same element", () => {
    const el = xml("message", { to: "a@b", type: "chat" }, xml("body", null, "<&>\"'"));
    const run = parse(OPEN + el.toString());
    expect(run.elements[0].el.toString()).to.equal(el.toString());
  });

  it("cloneElement makes a deep copy that shares nothing with the original", () => {
    const el = xml(
      "iq",
      { id: "1" },
      xml("query", { xmlns: "urn:q" }, xml("item", { a: "b" }), "text"),
    );
    const copy = cloneElement(el);
    expect(copy.toString()).to.equal(el.toString());
    expect(copy.parent).to.equal(null);
    (copy.getChild("query") as Element).attrs.xmlns = "urn:changed";
    copy.attrs.id = "2";
    expect(el.toString()).to.equal(
      '<iq id="1"><query xmlns="urn:q"><item a="b"/>text</query></iq>',
    );
    expect((copy.getChild("query") as Element).parent).to.equal(copy);
  });

  it("escapeXml escapes the five specials and the characters attribute normalisation would change", () => {
    expect(escapeXml(`a<b>&"'\t\n\r`)).to.equal("a&lt;b&gt;&amp;&quot;&apos;&#9;&#10;&#13;");
    expect(escapeXml("plain")).to.equal("plain");
  });

  it("escapeXmlText escapes & < > and CR only", () => {
    expect(escapeXmlText(`a<b>&"'\n\r`)).to.equal(`a&lt;b&gt;&amp;"'\n&#13;`);
  });

  it("escaped attribute values parse back to the original string", () => {
    const value = `x"y'z<&>\t\n\r end`;
    const run = parse(
      OPEN + `<message a="${escapeXml(value)}"><body>${escapeXmlText(value)}</body></message>`,
    );
    expect(run.elements[0].el.attrs.a).to.equal(value);
    expect(run.elements[0].el.getChildText("body")).to.equal(value);
  });
});

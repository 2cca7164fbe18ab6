#!/usr/bin/env node
// Grammar-aware mutation fuzzer for the XML stream parser (src/xml/). Not a benchmark: it lives
// here because it is a tool to run by hand, on the compiled parser (npm run build first).
//
//   node bench/fuzz-parser.mjs [iterations=20000] [seed=1]
//
// Each input is a real XMPP stream (header, STARTTLS, SASL, bind, messages with references,
// CDATA and namespaces, presence) put through a few mutations: dictionary inserts (entities,
// comments, PIs, DOCTYPE, xmlns tricks, control characters, lone surrogates), deletions,
// repeats, random code units, deep nesting, many and long attributes, sometimes corrupted bytes
// and small limits. Checked for each input:
//   - write() never throws, and the whole input takes under 50 ms;
//   - the events are the same whatever the chunking (random byte splits, mid UTF-8 included,
//     and random string splits);
//   - every element emitted serialises to XML that parses back to the same element and
//     namespace in a fresh stream (what the server routes to another session).
// Findings are printed and written to $TMPDIR/parley-fuzz-findings/ (kind, input, details);
// the exit code is 1 if there are any.

import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamParser } from "../dist/src/xml/parser.js";

const N = Number(process.argv[2] ?? 20000);
let seed = Number(process.argv[3] ?? 1);
function rnd() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const ri = (n) => Math.floor(rnd() * n);
const pick = (a) => a[ri(a.length)];

const HDR =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'" +
  " to='example.com' version='1.0' xml:lang='en'>";
const SEEDS = [
  "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
  "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTWRkV0ZXQUlETzY=</auth>",
  "<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony</resource></bind></iq>",
  "<message to='romeo@example.net' type='chat' xml:lang='en' id='m1'><body>Wherefore &amp; art &lt;thou&gt; &#x263A; &#9731;</body></message>",
  "<message to='a@b'><body><![CDATA[<not>a tag]]> & ]] ]]]></body></message>",
  "<presence><show>away</show><status xml:lang='fr'>parti</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
  "<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='nurse@example.com' name='Nurse'><group>Servants</group></item></query></iq>",
  "<message xmlns:x='urn:x' x:a='1'><x:y x:b='2'><z xmlns='urn:z'/></x:y></message>",
  "<stream:features/>",
  "<presence type='subscribe' to='juliet@example.com'/>",
];
const DICT = [
  "<",
  ">",
  "/>",
  "</",
  "&",
  ";",
  "&amp;",
  "&#0;",
  "&#xD800;",
  "&#x10FFFF;",
  "&#x110000;",
  "&#65534;",
  "&lol;",
  "&#;",
  "<!--c-->",
  "<?pi x?>",
  "<?xml version='1.0'?>",
  "<!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;'>]>",
  "<![CDATA[",
  "]]>",
  "]]",
  " xmlns='jabber:client'",
  " xmlns=''",
  " xmlns:stream='urn:evil'",
  " xmlns:xml='urn:x'",
  " xmlns:xml='http://www.w3.org/XML/1998/namespace'",
  " xmlns:xmlns='x'",
  " xmlns:p=''",
  " p:a='1'",
  " xml:lang=''",
  " a='1' a='2'",
  "\u0000",
  "\u0001",
  "\uFFFE",
  "\uD800",
  "\uDC00",
  "\uD83D\uDE00",
  "\u00e9",
  "\r\n",
  "\r",
  "\t",
  "</stream:stream>",
  "<a:b:c/>",
  "<__proto__ __proto__='1'/>",
  "xmlns:__proto__='u'",
  "'",
  '"',
  "=",
  "\ufeff",
  " xmlns:__proto__='u'",
];

function mutate(s) {
  const p = ri(s.length + 1);
  switch (ri(10)) {
    case 0:
    case 1:
      return s.slice(0, p) + pick(DICT) + s.slice(p);
    case 2:
      return s.slice(0, p) + s.slice(p + ri(20));
    case 3:
      return s.slice(0, p) + s.slice(p, p + ri(40)).repeat(1 + ri(5)) + s.slice(p);
    case 4:
      return s.slice(0, p) + String.fromCharCode(ri(0x10000)) + s.slice(p + ri(2));
    case 5:
      return s.slice(0, p) + pick(SEEDS) + s.slice(p);
    case 6: {
      const d = 1 + ri(40);
      return s.slice(0, p) + "<a>".repeat(d) + "</a>".repeat(d - ri(2)) + s.slice(p);
    }
    case 7: {
      let a = "";
      for (let i = 0, n = 1 + ri(30); i < n; i++) a += ` a${ri(5)}='${"v".repeat(ri(50))}'`;
      return s.replace(/<([a-z]+)/, (m) => m + a);
    }
    default: {
      const t = s.indexOf(" ", p);
      return t < 0 ? s : s.slice(0, t) + " " + "n".repeat(ri(300)) + "='x'" + s.slice(t);
    }
  }
}

function parse(chunks, limits) {
  const ev = [];
  ev.els = [];
  const p = new StreamParser(limits, {
    streamStart: (h) => ev.push(`S ${h.name} ${h.ns} ${h.defaultNs} ${JSON.stringify(h.attrs)}`),
    element: (el, ns) => {
      ev.push(`E ${ns} ${el.toString()}`);
      ev.els.push([el, ns]);
    },
    streamEnd: () => ev.push("END"),
    error: (c, t) => ev.push(`ERR ${c}: ${t}`),
  });
  for (const c of chunks) p.write(c);
  return ev;
}
function cuts(len) {
  return [...new Set(Array.from({ length: 1 + ri(15) }, () => ri(len + 1)))].sort((a, b) => a - b);
}
function split(x) {
  const out = [];
  let prev = 0;
  for (const q of [...cuts(x.length), x.length]) {
    out.push(x.slice(prev, q));
    prev = q;
  }
  return out;
}

let found = 0;
function report(kind, input, info) {
  found++;
  const dir = join(tmpdir(), "parley-fuzz-findings");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${kind}-${found}.json`), JSON.stringify({ kind, input, info }, null, 1));
  if (found <= 20)
    console.log(kind, JSON.stringify(input).slice(0, 300), "\n   ", String(info).slice(0, 400));
}

const BIG = { maxStanzaBytes: 1e6, maxDepth: 100 };
const CANON = parse([Buffer.from(HDR)], BIG)[0];
const t0 = Date.now();
const outcomes = {};
for (let it = 0; it < N; it++) {
  let s = HDR;
  for (let j = 0, m = 1 + ri(4); j < m; j++) s += pick(SEEDS);
  if (rnd() < 0.3) s += "</stream:stream>";
  for (let j = 0, m = ri(6); j < m; j++) s = mutate(s);
  const buf = Buffer.from(s);
  let bytes = buf;
  if (rnd() < 0.1) {
    bytes = Buffer.from(buf);
    for (let j = 0, m = 1 + ri(3); j < m; j++) bytes[ri(bytes.length)] = ri(256);
  }
  const limits =
    rnd() < 0.3
      ? { maxStanzaBytes: 50 + ri(400), maxDepth: 1 + ri(10) }
      : { maxStanzaBytes: 10000, maxDepth: 16 };
  const shown = bytes.toString("latin1");
  let whole;
  const start = process.hrtime.bigint();
  try {
    whole = parse([bytes], limits);
  } catch (e) {
    report("throw", shown, e.stack);
    continue;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (ms > 50) report("slow", shown, `${ms} ms`);
  const last = whole[whole.length - 1] ?? "";
  const outcome = last.startsWith("ERR") ? last.split(":")[0] : "ok";
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
  const expected = whole.join("\n");
  try {
    for (let r = 0; r < 2; r++) {
      const got = parse(split(bytes), limits).join("\n");
      if (got !== expected) {
        report("byte-split", shown, expected + "\n--- vs ---\n" + got);
        break;
      }
    }
    // Strings with lone surrogates differ from their UTF-8 bytes by design (U+FFFD).
    if (bytes === buf && buf.toString() === s) {
      const got = parse(split(s), limits).join("\n");
      if (got !== expected) report("string-split", s, expected + "\n--- vs ---\n" + got);
    }
  } catch (e) {
    report("throw-split", shown, e.stack);
  }
  if (whole[0] !== CANON) continue;
  for (const [el, ns] of whole.els) {
    const again = parse([Buffer.from(HDR + el.toString())], BIG);
    const e2 = again.els[0];
    if (!e2 || e2[0].toString() !== el.toString() || e2[1] !== ns)
      report("roundtrip", s, el.toString() + "\n" + again.join("\n"));
  }
}
console.log(
  `${N} inputs (seed ${process.argv[3] ?? 1}), ${found} findings, ${Date.now() - t0} ms; outcomes ${JSON.stringify(outcomes)}`,
);
process.exit(found > 0 ? 1 : 0);

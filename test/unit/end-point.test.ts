import { expect } from "chai";
import { createHash, X509Certificate } from "node:crypto";
import { endPointHashName, tlsServerEndPoint } from "../../src/net/end-point.js";
import { makeCert, type SignatureDigest } from "../harness/certs.js";

// Made once with openssl (req -x509): what node-forge cannot sign.
const ECDSA_P384_SHA384 = `-----BEGIN CERTIFICATE-----
MIIBujCCAUCgAwIBAgIUeKmap0O5NoHgC48iUUB4pow2ybowCgYIKoZIzj0EAwMw
FDESMBAGA1UEAwwJbG9jYWxob3N0MB4XDTI2MTIwMzA3NDk1MVoXDTM2MTEzMDA3
NDk1MVowFDESMBAGA1UEAwwJbG9jYWxob3N0MHYwEAYHKoZIzj0CAQYFK4EEACID
YgAEQilRU7eqC0d5q0AIUFALw2J5zKZEwVkjh+WXdo8UABMOgLM73l33PW+uwUt/
rIyb4Otmak6W04MfPmra96wLOKSusNr8LfRC8xjka6ctAT4XhjuQY4fndylD1pb3
xlXAo1MwUTAdBgNVHQ4EFgQU2DhxZHxjKr1mwQtFq06pfzjA8lowHwYDVR0jBBgw
FoAU2DhxZHxjKr1mwQtFq06pfzjA8lowDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO
PQQDAwNoADBlAjBvQqzGBdQWyMc84tl7/Jpg5j/p+2+YsnOJHL4VHJ5Qm6CImsRG
33DyRIyPOuFCMsUCMQD5O73mSsRni5db14j7DAQ1X4PR+xfeSp8Egq/EP/6HKzjY
Ydxw554B6rS9FLPCsF8=
-----END CERTIFICATE-----`;
const RSASSA_PSS_SHA384 = `-----BEGIN CERTIFICATE-----
MIIDcTCCAiWgAwIBAgIUQEJ/IVMH09rMwyeo++r1QZL7Z8wwQQYJKoZIhvcNAQEK
MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIF
AKIDAgEgMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDAeFw0yNjEyMDMwNzQ5NTFaFw0z
NjExMzAwNzQ5NTFaMBQxEjAQBgNVBAMMCWxvY2FsaG9zdDCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAJwJFkQ572QBDGhHbFSCyxm+mKEbxLZZ3WnlPEPp
VGM5n1/4pes3OujKNvLkBR+126hXGZRZu92FilKQC+LwcGD0LWHbVvFJ+KiT7L75
UPPiMUwEFPYc30SvjppQld74bu2fbCovHpQ+3e8KIvoBNgpcbL6EBCaiGlPlu3EX
Pvxp7ooc0GyJBxsKUQQwAsdgBcAXNE0ms++wuVJJnnEfzy+qUwxK4W7XL7gzzyeB
lUUait/a3xyFRA08BvCyVbNKPB+aKcwhBIZJu/toFf9E0UTu0KrFm5TeAAE3x3Tv
Q67Qt2USutwOy4tL56iEpbVt2f4lvCAA7wX/bZ2/utstURECAwEAAaNTMFEwHQYD
VR0OBBYEFGBoJTkpYEc0rrzTum4Y3MwHFg3qMB8GA1UdIwQYMBaAFGBoJTkpYEc0
rrzTum4Y3MwHFg3qMA8GA1UdEwEB/wQFMAMBAf8wQQYJKoZIhvcNAQEKMDSgDzAN
BglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIFAKIDAgEg
A4IBAQAQxQ0GEeplKR3/8vNSmUAnmz7KXbEVlrtKCnMkSOFO1Q32+Gwj03hdw/YH
RWWSDXXDdsViDhPHyk26Wg4HPHJhDu7419aIs/eS+rV5il5HsDEihyTAne2DNwvA
4dqPXt2kTEa5m7pOgCndcrRAweAzCoXZ+B5WWz2Z5V7pW0tLXiHrfleA3z/SBis/
8VEYLB2zfVCgbn8IwxLW2on4SUeJpFyJ2pCNkV8aiagKNjdJ+NCrJX+ZW2jNGiio
S0/pF15AfCDmp4eJ1RpZTebYBZV23CIlWPFudG4b3Tyvcl35ygKtWQrZO0bLnPDC
TWYEVyOifsPPlxNgdHxHToeT46E0
-----END CERTIFICATE-----`;
const ED25519 = `-----BEGIN CERTIFICATE-----
MIIBPDCB76ADAgECAhQmTKC+zcA0+7kfVyZio20wn/8CYjAFBgMrZXAwFDESMBAG
A1UEAwwJbG9jYWxob3N0MB4XDTI2MTIwMzA3NDk1MVoXDTM2MTEzMDA3NDk1MVow
FDESMBAGA1UEAwwJbG9jYWxob3N0MCowBQYDK2VwAyEAemva70KEDlGkxBL4uUVc
ox/9c6dvRuPw1djT/JpIcGKjUzBRMB0GA1UdDgQWBBRHw1aQ+IJY8ZvJeSshXmCG
EqivIDAfBgNVHSMEGDAWgBRHw1aQ+IJY8ZvJeSshXmCGEqivIDAPBgNVHRMBAf8E
BTADAQH/MAUGAytlcANBAPcTJCQdVYJtOFkzXa0lruDTdybyJapLsbrIrlYuJGgH
HyT1NdjniwqXaIM7u6aXKRUCjvDFunZYtE3CbU1f/Qw=
-----END CERTIFICATE-----`;

const der = (pem: string) => new X509Certificate(pem).raw;
const rsaSignedWith = async (digest: SignatureDigest) =>
  der((await makeCert("localhost", ["localhost"], new Date(Date.now() - 60_000), new Date(Date.now() + 86_400_000), digest)).cert);

describe("tls-server-end-point (RFC 5929 4.1)", function () {
  this.timeout(20_000);

  for (const [digest, expected] of [
    ["md5", "sha256"],
    ["sha1", "sha256"],
    ["sha256", "sha256"],
    ["sha384", "sha384"],
    ["sha512", "sha512"],
  ] as const) {
    it(`RFC 5929 4.1: an RSA certificate signed with ${digest} binds with ${expected}`, async function () {
      const cert = await rsaSignedWith(digest);
      expect(endPointHashName(cert)).to.equal(expected);
      expect(tlsServerEndPoint(cert)).to.deep.equal(createHash(expected).update(cert).digest());
    });
  }

  it("RFC 5929 4.1: an ECDSA certificate signed with SHA-384 binds with SHA-384", function () {
    const cert = der(ECDSA_P384_SHA384);
    expect(endPointHashName(cert)).to.equal("sha384");
    expect(tlsServerEndPoint(cert)).to.deep.equal(createHash("sha384").update(cert).digest());
  });

  it("RFC 5929 4.1: an RSASSA-PSS certificate binds with the hash named in its parameters (SHA-384)", function () {
    expect(endPointHashName(der(RSASSA_PSS_SHA384))).to.equal("sha384");
  });

  it("RFC 5929 4.1 defines no hash for Ed25519: no binding is offered", function () {
    expect(endPointHashName(der(ED25519))).to.equal(null);
    expect(tlsServerEndPoint(der(ED25519))).to.equal(null);
  });

  it("bytes that are not a certificate give no binding, and do not throw", function () {
    expect(tlsServerEndPoint(Buffer.from("not DER"))).to.equal(null);
    expect(tlsServerEndPoint(Buffer.alloc(0))).to.equal(null);
    // A signature algorithm OID with an arc past 53 bits: node-forge's derToOid throws on it.
    const hugeArc = Buffer.from("30103000300c060a2affffffffffffffff7f", "hex");
    expect(tlsServerEndPoint(hugeArc)).to.equal(null);
  });
});

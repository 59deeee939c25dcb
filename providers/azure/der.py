"""Just enough DER to read a PKCS#7 SignedData (Azure's attested metadata document): its content and signers.

Why by hand: the `cryptography` package loads the certificates of a PKCS#7 bundle but neither hands back its
signed content nor verifies its signer infos, and the daemon needs both: the content (a small JSON document) to
compare its `vmId` with the recorded one, the signer infos for providers/azure/signature.py to check the
signature. Nothing here checks a signature.
The structure (RFC 5652 section 3 and 5.1): ContentInfo ::= SEQUENCE { contentType OID, [0] EXPLICIT
SignedData }; SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE { eContentType
OID, [0] EXPLICIT OCTET STRING }, ... }.
"""

from __future__ import annotations

from dataclasses import dataclass

SEQUENCE, SET, OCTET_STRING, OID, INTEGER, CONTEXT_0 = 0x30, 0x31, 0x04, 0x06, 0x02, 0xA0
SIGNED_DATA_OID = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
DATA_OID = bytes.fromhex("2a864886f70d010701")  # 1.2.840.113549.1.7.1
MESSAGE_DIGEST_OID = bytes.fromhex("2a864886f70d010904")  # 1.2.840.113549.1.9.4


class DerError(ValueError):
    """Not the DER shape expected; the message says where."""


def _read(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, position after it) of the element at `pos`; definite lengths only, as DER requires."""
    if pos + 2 > len(buf):
        raise DerError("truncated element")
    tag, first = buf[pos], buf[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(buf):
            raise DerError("unsupported length")
        length = int.from_bytes(buf[pos:pos + count], "big")
        pos += count
    if pos + length > len(buf):
        raise DerError("element longer than its buffer")
    return tag, buf[pos:pos + length], pos + length


def _expect(buf: bytes, pos: int, tag: int, what: str) -> tuple[bytes, int]:
    got, value, end = _read(buf, pos)
    if got != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{got:02x}")
    return value, end


def signed_content(der: bytes) -> bytes:
    """The encapsulated content of a PKCS#7 SignedData (RFC 5652), not verified."""
    return parse_signed_data(der).content


@dataclass(frozen=True)
class SignerInfo:
    """One SignerInfo (RFC 5652 section 5.3), enough to verify it: what was signed and with what."""

    digest_oid: bytes
    signed_attrs: bytes | None  # DER of the SET OF attributes (the bytes signed), when present
    message_digest: bytes | None  # the messageDigest attribute's value, when signed attributes are present
    signature: bytes


@dataclass(frozen=True)
class SignedParts:
    content: bytes
    signers: tuple[SignerInfo, ...]


def _items(buf: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(buf):
        tag, value, pos = _read(buf, pos)
        out.append((tag, value))
    return out


def _message_digest(attrs: bytes) -> bytes | None:
    for tag, attr in _items(attrs):
        if tag != SEQUENCE:
            raise DerError("signed attribute: expected a SEQUENCE")
        oid, pos = _expect(attr, 0, OID, "attribute type")
        if oid == MESSAGE_DIGEST_OID:
            values, _ = _expect(attr, pos, SET, "attribute values")
            digest, _ = _expect(values, 0, OCTET_STRING, "messageDigest")
            return digest
    return None


def _signer(value: bytes) -> SignerInfo:
    _, pos = _expect(value, 0, INTEGER, "SignerInfo version")
    _, _, pos = _read(value, pos)  # sid: IssuerAndSerialNumber or [0] SubjectKeyIdentifier
    algorithm, pos = _expect(value, pos, SEQUENCE, "digestAlgorithm")
    digest_oid, _ = _expect(algorithm, 0, OID, "digestAlgorithm OID")
    tag, attrs, after = _read(value, pos)
    signed_attrs = None
    if tag == CONTEXT_0:  # [0] IMPLICIT SET OF Attribute; the signature covers it re-tagged as a SET
        signed_attrs, pos = _element(SET, attrs), after
    _, pos = _expect(value, pos, SEQUENCE, "signatureAlgorithm")
    signature, _ = _expect(value, pos, OCTET_STRING, "signature")
    return SignerInfo(digest_oid, signed_attrs, _message_digest(attrs) if signed_attrs else None, signature)


def parse_signed_data(der: bytes) -> SignedParts:
    """The encapsulated content and the signer infos of a PKCS#7 SignedData (RFC 5652), not verified."""
    info, _ = _expect(der, 0, SEQUENCE, "ContentInfo")
    oid, pos = _expect(info, 0, OID, "contentType")
    if oid != SIGNED_DATA_OID:
        raise DerError("not a PKCS#7 SignedData")
    wrapped, _ = _expect(info, pos, CONTEXT_0, "content")
    signed, _ = _expect(wrapped, 0, SEQUENCE, "SignedData")
    _, pos = _expect(signed, 0, INTEGER, "version")
    _, pos = _expect(signed, pos, SET, "digestAlgorithms")
    encap, rest = _expect(signed, pos, SEQUENCE, "encapContentInfo")
    _, pos = _expect(encap, 0, OID, "eContentType")
    explicit, _ = _expect(encap, pos, CONTEXT_0, "eContent")
    content, _ = _expect(explicit, 0, OCTET_STRING, "eContent")
    pos = rest
    signers: list[SignerInfo] = []
    while pos < len(signed):
        tag, value, pos = _read(signed, pos)
        if tag == SET:  # certificates [0] and crls [1] come before it
            signers = [_signer(item) for item_tag, item in _items(value) if item_tag == SEQUENCE]
    return SignedParts(content, tuple(signers))


def _element(tag: int, value: bytes) -> bytes:
    length = len(value)
    if length < 0x80:
        return bytes([tag, length]) + value
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + value


def signed_data(content: bytes, signer_infos: bytes = b"") -> bytes:
    """A PKCS#7 SignedData around `content` with no certificates and the given (opaque) signer infos.

    For the fake metadata servers of the tests, which stand in for Azure's IMDS: the shape is real, the
    signature is not."""
    encap = _element(SEQUENCE, _element(OID, DATA_OID) + _element(CONTEXT_0, _element(OCTET_STRING, content)))
    body = _element(INTEGER, b"\x01") + _element(SET, b"") + encap + _element(SET, signer_infos)
    return _element(SEQUENCE, _element(OID, SIGNED_DATA_OID) + _element(CONTEXT_0, _element(SEQUENCE, body)))

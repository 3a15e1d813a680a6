"""Hypothesis strategies for what a generic fuzzer does not send: App Service principal headers
and Vouch cookies, good and malformed; pictures of every accepted format, good, truncated,
corrupt and decompression bombs, as data URLs with true and false claims; and hostile JSON
(deep nesting, huge numbers, NULs, lone surrogates, wrong types), as raw JSON text."""

from __future__ import annotations

import base64
import gzip
import json
import struct
import time
import zlib
from functools import cache

import jwt
from hypothesis import strategies as st

from tests.support.images import bomb_png, picture

# Pillow format -> the MIME type a client claims for it.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp",
           "TIFF": "image/tiff", "WEBP": "image/webp"}
HUGE_SIDE = 60_000  # 3.6 gigapixels: past any pixel cap, in a file of a few hundred bytes


# Identity -----------------------------------------------------------------------------

def principal_header(principal: object) -> str:
    """`principal` as App Service Authentication sends it: base64 of its JSON."""
    return base64.b64encode(json.dumps(principal).encode()).decode()


def principals(email: str) -> st.SearchStrategy[str]:
    """Valid principal headers naming `email`, in the layouts identity providers use."""
    layouts = [
        {"auth_typ": "aad", "name_typ": "name",
         "claims": [{"typ": "email", "val": email}, {"typ": "name", "val": "Analyst"}]},
        {"auth_typ": "aad", "claims": [
            {"typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "val": email}]},
        {"name_typ": "preferred_username", "claims": [{"typ": "preferred_username", "val": email.upper()}]},
        {"claims": [{"typ": "roles", "val": ["x"]}, {"typ": "emails", "val": f" {email} "}]},
    ]
    return st.sampled_from(layouts).map(principal_header)


def malformed_principals() -> st.SearchStrategy[str]:
    """Principal headers that name nobody: not base64, not JSON, JSON of the wrong shape."""
    shapes = st.one_of(
        st.just({"name_typ": ["x"], "claims": [{"typ": "name", "val": "n"}]}),
        st.just({"name_typ": {"a": 1}, "claims": []}),
        st.just({"claims": [{"typ": ["email"], "val": "a@example.org"}]}),
        st.just({"claims": [{"typ": "email", "val": {"a": 1}}]}),
        st.just({"claims": {"typ": "email", "val": "a@example.org"}}),
        st.just({"claims": [{"typ": "email", "val": "not an email"}]}),
        st.just({"claims": [{"typ": "email", "val": "a@example.org\u0000b"}]}),
        st.just({"claims": [{"typ": "email", "val": "\ud800@example.org"}]}),
        st.just({"claims": [{"typ": "email", "val": "a" * 300 + "@example.org"}]}),
        st.just({"claims": [[1]] * 1000}),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                max_size=3),
                     max_leaves=10),
    ).map(principal_header)
    raw = st.one_of(
        st.just("not base64 !"), st.just("===="), st.just(""), st.just("e30"),  # {} unpadded
        st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()),
        # Nesting past the recursion limit, in a header the platform still passes on (< 16 KB).
        st.just(base64.b64encode(b"[" * 10_000).decode()),
        st.just(base64.b64encode(b'{"claims": ' + b"1" * 5000 + b"}").decode()),  # past int digits
        # Latin-1 (what HTTP headers carry) but no white space, which clients strip or refuse.
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x85\xa0"),
                max_size=40),
    )
    return st.one_of(shapes, raw)


def _jwt(claims: dict, key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def vouch_cookie(token: str | bytes) -> str:
    """A Vouch cookie holding `token`: url-safe base64 (unpadded) of its gzip."""
    raw = token.encode() if isinstance(token, str) else token
    return base64.urlsafe_b64encode(gzip.compress(raw)).decode().rstrip("=")


def vouch_claims(email: str, *, expires_in: int = 3600) -> dict:
    return {"username": email, "CustomClaims": {"email": email}, "exp": int(time.time()) + expires_in}


def vouch_cookies(email: str, secret: str) -> st.SearchStrategy[str]:
    """Valid Vouch cookies naming `email`, signed with `secret`."""
    return st.sampled_from(["HS256", "HS384", "HS512"]).map(
        lambda alg: vouch_cookie(_jwt(vouch_claims(email), secret, alg)))


def _unsigned(claims: object, header: dict | None = None) -> str:
    """A JWT with alg none (or `header`) and no signature."""
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part(header or {'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@cache
def _gzip_bomb() -> bytes:
    return gzip.compress(b"a" * (32 * 1024 * 1024), compresslevel=9)


def malformed_vouch_cookies(email: str, secret: str) -> st.SearchStrategy[str]:
    """Vouch cookies that name nobody: bad base64, bad gzip, gzip bombs, JWTs unsigned,
    with another algorithm or secret, expired, not yet valid, or with claims of the wrong shape."""
    claims = vouch_claims(email)
    tokens = st.one_of(
        st.just(_unsigned(claims)),
        st.just(_unsigned(claims, {"alg": "HS256", "typ": "JWT"})),  # a signature left off
        st.just(_jwt(claims, "another secret of the same length, 0123456789")),
        st.just(_jwt(claims, secret) + "x"),
        st.just(_jwt(vouch_claims(email, expires_in=-120), secret)),
        st.just(_jwt({**claims, "nbf": int(time.time()) + 3600}, secret)),
        st.just(_jwt({**claims, "exp": "tomorrow"}, secret)),
        st.just(_jwt({**claims, "exp": 10**30}, secret)),
        st.just(_jwt({"CustomClaims": ["x"], "username": ["y"]}, secret)),
        st.just(_jwt({"CustomClaims": {"email": {"a": 1}}}, secret)),
        st.just(_jwt({"CustomClaims": {"email": "no email at all"}}, secret)),
        st.just(_jwt({"CustomClaims": {"email": "a\u0000@example.org"}}, secret)),
        st.just(_unsigned([1, 2], {"alg": "HS256"})),
        st.just(_unsigned(claims, {"alg": ["HS256"], "kid": {"a": 1}})),
        st.text(max_size=40),
    )
    return st.one_of(
        tokens.map(vouch_cookie),
        st.just("not-base64-!!"), st.just(""), st.just("\"quoted\\\\"),
        st.binary(max_size=64).map(lambda b: base64.urlsafe_b64encode(b).decode()),  # not gzip
        st.just(vouch_cookie(_jwt(claims, secret))[:-12]),  # gzip cut short
        st.just(vouch_cookie(b"\xff\xfe\x00 not utf-8")),
        st.just(base64.urlsafe_b64encode(_gzip_bomb()).decode().rstrip("=")),
    )


# Pictures -----------------------------------------------------------------------------

@cache
def good_picture(fmt: str) -> bytes:
    """A small real picture in Pillow format `fmt`."""
    return picture(24, 16, fmt)


def _patch_tiff_size(data: bytes, side: int) -> bytes:
    """A little-endian TIFF whose first IFD's width and length say `side`."""
    out = bytearray(data)
    (ifd,) = struct.unpack_from("<I", out, 4)
    (count,) = struct.unpack_from("<H", out, ifd)
    for n in range(count):
        entry = ifd + 2 + 12 * n
        tag = struct.unpack_from("<H", out, entry)[0]
        if tag in (256, 257):
            struct.pack_into("<HHII", out, entry, tag, 4, 1, side)  # as one LONG
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


@cache
def bombs() -> tuple[bytes, ...]:
    """Decompression bombs: in every format, a header claiming billions of pixels over a
    tiny file; a real PNG of 49 megapixels of zeros; a PNG whose ICC profile inflates to 64 MB."""
    side = HUGE_SIDE
    png, jpeg, gif, bmp = (good_picture(f) for f in ("PNG", "JPEG", "GIF", "BMP"))
    sof = jpeg.index(b"\xff\xc0")
    webp = picture(24, 16, "WEBP", lossless=True)
    vp8x = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (16383).to_bytes(3, "little") * 2
    webp_body = b"WEBP" + vp8x + webp[12:]
    icc = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    return (
        png[:8] + _png_chunk(b"IHDR", struct.pack(">II", side, side) + png[24:29]) + png[33:],
        jpeg[:sof + 5] + struct.pack(">HH", 65000, 65000) + jpeg[sof + 9:],
        gif[:6] + struct.pack("<HH", 65000, 65000) + gif[10:],
        bmp[:18] + struct.pack("<ii", side, side) + bmp[26:],
        _patch_tiff_size(good_picture("TIFF"), side),
        b"RIFF" + struct.pack("<I", len(webp_body)) + webp_body,
        bomb_png(7000),
        png[:33] + _png_chunk(b"iCCP", b"icc\x00\x00" + icc) + png[33:],
    )


def _flip(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for position, value in edits:
        out[position % len(out)] = value
    return bytes(out)


def pictures() -> st.SearchStrategy[bytes]:
    """Picture files: good, truncated anywhere, with bytes changed, header only, or bombs."""
    good = st.sampled_from(sorted(FORMATS)).map(good_picture)
    return st.one_of(
        good,
        st.tuples(good, st.floats(0, 1)).map(lambda g: g[0][: int(len(g[0]) * g[1])]),
        st.tuples(good, st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                 min_size=1, max_size=6)).map(lambda g: _flip(*g)),
        st.tuples(good, st.integers(8, 40)).map(lambda g: g[0][: g[1]]),
        st.sampled_from(bombs()),
        st.binary(max_size=64),
    )


def picture_data_urls() -> st.SearchStrategy[str]:
    """Data URLs of `pictures()` claiming their real type, another format's, none or a
    hostile one; and data URLs that are malformed themselves."""
    claims = st.sampled_from([*FORMATS.values(), "image/jpg", "image/svg+xml", "text/html", "",
                              "image/png;charset=utf-8", "IMAGE/PNG"])

    def url(picture_and_claim: tuple[bytes, str | None]) -> str:
        data, claimed = picture_and_claim
        return f"data:{claimed or ''};base64,{base64.b64encode(data).decode()}"

    good = st.sampled_from(sorted(FORMATS)).map(
        lambda fmt: (good_picture(fmt), FORMATS[fmt])).map(url)
    encoded = good_picture("PNG")
    text = base64.b64encode(encoded).decode()
    not_ascii = text.replace("A", "\u00c0", 1)
    malformed = st.sampled_from([
        "data:image/png;base64,", "data:image/png;base64,====", "data:image/png,plain",
        f"data:image/png;base64,{text[:-3]}", f"data:image/png;base64,{text}\n",
        f"data:image/png;base64,{base64.urlsafe_b64encode(encoded).decode()}-_",
        f"data:image/png;base64,{not_ascii}",
        f"DATA:IMAGE/PNG;BASE64,{text}", "javascript:alert(1)", "http://example.org/seed.png",
        f"data:{'x' * 300}/png;base64,{text}",
    ])
    return st.one_of(good, st.tuples(pictures(), claims).map(url), malformed)


# Hostile JSON -------------------------------------------------------------------------

def _nested(depth: int, array: bool) -> str:
    return ("[" * depth + "]" * depth) if array else ('{"a":' * depth + "1" + "}" * depth)


def hostile_json() -> st.SearchStrategy[str]:
    """Raw JSON text of values that break naive code: deep nesting (past the parser's
    recursion limit too), huge and non-finite numbers, NULs, lone surrogates, long and
    tricky strings, and every other JSON type."""
    deep = st.tuples(st.sampled_from([20, 200, 990, 5_000, 100_000]), st.booleans()).map(
        lambda d: _nested(*d))
    numbers = st.sampled_from([
        "1" + "0" * 25, "-" + "9" * 400, "1" + "0" * 5_000, "1e400", "-1e400", "1e-400", "NaN",
        "Infinity", "-Infinity", "0", "-0", "-1", "2147483648", "9223372036854775808", "0.5", "1e308",
    ])
    strings = st.sampled_from([
        "\u0000", "a\u0000b", "\ud800", "x\udfffx", "\ud83d", "\ud83d\ude00", "\u202e\u0645", "\ufeff",
        " ", "../../../etc/passwd", "%00", "' OR 1=1 --", "<script>alert(1)</script>", "%s%n{0}",
        "\\", "\r\n\t", "x" * 20_000, "General", "GENERAL", "general ",
    ]).map(json.dumps)
    other = st.sampled_from(["true", "false", "null", "[]", "{}", '[""]', '[{}]', '{"": null}'])
    return st.one_of(deep, numbers, strings, other)


def hostile_bodies() -> st.SearchStrategy[bytes]:
    """Whole request bodies that are not a JSON object, or not JSON, or not UTF-8."""
    return st.one_of(
        hostile_json().map(str.encode),
        st.sampled_from([
            b"\xff\xfe\x00{", b"\xef\xbb\xbf{}", b"{\"a\": 1} trailing", b"{'a': 1}", b"{\"a\":}",
            b"{" + b'"k":1,' * 50_000 + b'"k":2}', b"\x00" * 10, b"[" * 100_000, b"{\"\\ud800\": 1}",
        ]),
        st.binary(max_size=100),
    )

"""Signed media links and LINE previews (issue 17, finding 11): pure rules, no I/O."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from connector.domain import media

KEYS = ["k1", "k0"]
VERSION = "068000000000001AAA"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, "PNG")
    return out.getvalue()


def test_a_token_opens_to_its_file_and_variant_until_it_expires():
    for variant in (media.ORIGINAL, media.PREVIEW):
        token = media.make_token(KEYS, VERSION, 2_000_000_000, variant)
        assert media.open_token(KEYS, token, 1_999_999_999) == (VERSION, variant)
        assert media.open_token(KEYS, token, 2_000_000_001) is None


def test_the_variant_cannot_be_swapped_without_the_key():
    token = media.make_token(KEYS, VERSION, 2_000_000_000, media.ORIGINAL)
    assert media.open_token(KEYS, token.replace(".o.", ".p."), 0) is None


def test_a_link_signed_with_a_rotated_out_key_still_opens_while_that_key_is_configured():
    token = media.make_token(["k0"], VERSION, 2_000_000_000)
    assert media.open_token(KEYS, token, 0) == (VERSION, media.ORIGINAL)
    assert media.open_token(["k1"], token, 0) is None


def test_a_small_image_is_its_own_preview():
    data = png(300, 200)
    assert media.preview(data) == data


def test_a_large_image_is_scaled_to_the_preview_edge():
    with Image.open(io.BytesIO(media.preview(png(2000, 500)))) as img:
        assert img.size == (480, 120) and img.format == "JPEG"


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    small = png(1, 1)
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = small[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + small[33:]
    with pytest.raises(media.NotAnImage):
        media.preview(bomb)


@pytest.mark.parametrize("data", [b"%PDF-1.4", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, b""])
def test_what_is_not_a_decodable_jpeg_or_png_has_no_preview(data):
    with pytest.raises(media.NotAnImage):
        media.preview(data)

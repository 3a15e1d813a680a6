"""POST /api/image-validation: every rule, in order, and the bad inputs of the issue."""

from __future__ import annotations

import hashlib

from shared import settings
from tests.conftest import Client, assert_error
from tests.support import images as samples


def validate(client: Client, image: object):
    return client.post("image-validation", {"image": image})


def assert_valid(client: Client, data: bytes, mime: str) -> None:
    r = validate(client, samples.data_url(data, mime))
    assert r.status_code == 200, r.text
    assert r.json() == [hashlib.sha256(data).hexdigest()]


def test_each_accepted_format_answers_its_sha256(app, client, subtests):
    for fmt, mime in [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("JPEG", "image/jpg"),
                      ("GIF", "image/gif"), ("BMP", "image/bmp"), ("TIFF", "image/tiff"),
                      ("TIFF", "image/tif"), ("WEBP", "image/webp")]:
        with subtests.test(mime):
            assert_valid(client, samples.picture(fmt=fmt), mime)


def test_keeps_no_state(app, client):
    assert_valid(client, samples.picture(), "image/png")
    assert app.sql("SELECT count(*) FROM picture") == [(0,)]
    assert app.blobs() == [] and app.blobs(app.thumbnails_container) == []


def test_no_identity_is_401(app):
    assert_error(validate(Client(app.base_url, None), samples.data_url(samples.picture())), 401)


def test_missing_or_malformed_data_url_is_400(app, client, subtests):
    for image in [None, "", "not a data url", 42, "data:image/png;base64,@@@"]:
        with subtests.test(repr(image)):
            assert_error(validate(client, image), 400, "image")


def test_zero_byte_image_is_400(app, client):
    assert_error(validate(client, "data:image/png;base64,"), 400, "empty")


def test_over_the_size_cap_is_413(app, client, monkeypatch):
    monkeypatch.setenv("NACHET_MAX_CONTENT_LENGTH", "0.01")
    settings.reset()
    noisy = samples.encode(samples.decode(samples.picture(200, 200)).effect_spread(5), "BMP")
    assert_error(validate(client, samples.data_url(noisy, "image/bmp")), 413, "MB")


def test_html_or_svg_document_is_415(app, client, subtests):
    for data, mime in [(samples.HTML, "image/png"), (samples.SVG, "image/svg+xml"),
                       (samples.SVG, "image/png"), (b"\xef\xbb\xbf\n  " + samples.HTML, "image/gif")]:
        with subtests.test(f"{data[:12]!r} as {mime}"):
            assert_error(validate(client, samples.data_url(data, mime)), 415, "HTML or SVG")


def test_bytes_of_no_image_format_are_415(app, client):
    assert_error(validate(client, samples.data_url(b"GIF87 is what this pretends", "image/gif")), 415,
                 "not a supported image")


def test_decompression_bomb_is_413_before_decoding(app, client):
    assert_error(validate(client, samples.data_url(samples.bomb_png())), 413, "pixels")


def test_format_outside_valid_extension_is_415(app, client, monkeypatch):
    monkeypatch.setenv("NACHET_VALID_EXTENSION", '["png"]')
    settings.reset()
    r = validate(client, samples.data_url(samples.picture(fmt="JPEG"), "image/jpeg"))
    assert_error(r, 415, "jpeg", "NACHET_VALID_EXTENSION")


def test_jpg_in_valid_extension_accepts_jpeg(app, client, monkeypatch):
    monkeypatch.setenv("NACHET_VALID_EXTENSION", '["jpg"]')
    settings.reset()
    assert_valid(client, samples.picture(fmt="JPEG"), "image/jpeg")


def test_header_that_does_not_match_the_bytes_is_400(app, client, subtests):
    for fmt, mime in [("PNG", "image/jpeg"), ("JPEG", "image/png"), ("GIF", "image/webp"),
                      ("PNG", "text/html")]:
        with subtests.test(f"{fmt} as {mime}"):
            r = validate(client, samples.data_url(samples.picture(fmt=fmt), mime))
            assert_error(r, 400, "header mismatch", mime, fmt.lower())


def test_header_without_a_type_is_400(app, client):
    assert_error(validate(client, samples.data_url(samples.picture(), None)), 400, "header mismatch")


def test_wider_or_taller_than_valid_dimension_is_400(app, client, subtests):
    for width, height in [(1920, 1080), (1, 1), (1921, 10), (10, 1081)]:
        with subtests.test(f"{width}x{height}"):
            data = samples.picture(width, height)
            if width <= 1920 and height <= 1080:
                assert_valid(client, data, "image/png")
            else:
                r = validate(client, samples.data_url(data))
                assert_error(r, 400, f"{width}x{height}", "1920x1080", "NACHET_VALID_DIMENSION")


def test_exif_rotated_jpeg_is_measured_upright(app, client):
    # Stored 1080x1920 and turned a quarter: upright it is 1920x1080, which fits.
    assert_valid(client, samples.exif_rotated_jpeg(1080, 1920), "image/jpeg")
    # Stored 1920x1080 and turned: upright it is 1080 wide and 1920 tall, too tall.
    r = validate(client, samples.data_url(samples.exif_rotated_jpeg(1920, 1080), "image/jpeg"))
    assert_error(r, 400, "1080x1920")


def test_truncated_file_is_415(app, client, subtests):
    for fmt, mime in [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
                      ("GIF", "image/gif"), ("TIFF", "image/tiff")]:
        with subtests.test(fmt):
            data = samples.truncated(samples.picture(300, 200, fmt=fmt))
            assert_error(validate(client, samples.data_url(data, mime)), 415, "truncated")


def test_unusual_but_decodable_pictures_are_accepted(app, client, subtests):
    # An animated GIF is accepted: its first frame is the picture.
    for make, mime in [(samples.animated_gif, "image/gif"), (samples.tiff16_grey, "image/tiff"),
                       (samples.tiff16_rgb, "image/tiff"), (samples.cmyk_jpeg, "image/jpeg")]:
        with subtests.test(make.__name__):
            assert_valid(client, make(), mime)

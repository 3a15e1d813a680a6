"""The built-in seed detector on synthetic pictures with known seeds, and on the real sample."""

from __future__ import annotations

import functools
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from shared.pipeline.builtin_detector import detect_seeds
from shared.pipeline.types import Detection
from tests.support.synthetic_seeds import (
    Box,
    SeedScene,
    make_sample_picture,
    make_seed_scene,
    sample_seed_picture,
)

ROOT = Path(__file__).resolve().parent.parent


def pixel_boxes(detections: list[Detection], image: Image.Image) -> list[tuple[float, ...]]:
    width, height = image.size
    return [
        (d.box.top_x * width, d.box.top_y * height, d.box.bottom_x * width, d.box.bottom_y * height)
        for d in detections
    ]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def assert_each_seed_found_once(found: list[tuple[float, ...]], truth: list[Box]) -> None:
    """Every truth seed matches exactly one box at IoU >= 0.7, and every box one seed."""
    for seed in truth:
        matches = [box for box in found if iou(box, seed) >= 0.7]
        assert len(matches) == 1, (seed, [max((iou(b, seed) for b in found), default=0.0)])
    for box in found:
        assert any(iou(box, seed) >= 0.7 for seed in truth), box


SCENES = {
    "one seed": dict(n_seeds=1, seed=11),
    "five seeds": dict(n_seeds=5, seed=12),
    "twelve seeds, JPEG": dict(n_seeds=12, seed=13, jpeg_quality=80),
    "thirty seeds": dict(n_seeds=30, seed=14),
    "pale seeds only": dict(n_seeds=10, seed=15, colours=("cream",)),
    "dark seeds on the borders": dict(
        n_seeds=10, seed=16, colours=("black", "dark-brown"), n_border_seeds=10
    ),
    "strong vignette and shadows": dict(n_seeds=8, seed=17, vignette=0.35, shadow=0.18),
    "small JPEG": dict(n_seeds=15, seed=18, width=960, height=540, jpeg_quality=85),
    "full HD": dict(n_seeds=20, seed=19, width=1920, height=1080),
}


@pytest.mark.parametrize("options", SCENES.values(), ids=SCENES.keys())
def test_finds_every_seed_once_and_nothing_else(options: dict) -> None:
    options = {"width": 1280, "height": 720, **options}
    scene = make_seed_scene(**options)
    found = pixel_boxes(detect_seeds(scene.image), scene.image)

    assert_each_seed_found_once(found, scene.seeds)
    assert scene.scale_bar is not None
    assert not any(iou(box, scene.scale_bar) > 0 for box in found)
    for left, top, right, bottom in found:
        centre = ((left + right) / 2, (top + bottom) / 2)
        assert not any(d[0] <= centre[0] <= d[2] and d[1] <= centre[1] <= d[3] for d in scene.dust)


def test_border_seeds_are_found() -> None:
    scene = make_seed_scene(width=1280, height=720, n_seeds=8, n_border_seeds=8, seed=21)
    width, height = scene.image.size
    assert all(s[0] == 0 or s[1] == 0 or s[2] == width or s[3] == height for s in scene.seeds)
    assert_each_seed_found_once(pixel_boxes(detect_seeds(scene.image), scene.image), scene.seeds)


@pytest.mark.parametrize("colour", ["black", "dark-brown", "cream", "tan", "reddish"])
def test_one_seed_of_each_colour(colour: str) -> None:
    scene = make_seed_scene(width=960, height=540, n_seeds=1, seed=31, colours=(colour,))
    assert_each_seed_found_once(pixel_boxes(detect_seeds(scene.image), scene.image), scene.seeds)


def test_empty_background_gives_no_box() -> None:
    scene = make_seed_scene(width=1280, height=720, n_seeds=0, n_dust=60, seed=41)
    assert detect_seeds(scene.image) == []
    assert detect_seeds(Image.new("RGB", (1920, 1080), (236, 238, 233))) == []


def test_real_sample_gives_one_box_around_the_seed() -> None:
    image, seed_box = sample_seed_picture()
    [detection] = detect_seeds(image)
    [box] = pixel_boxes([detection], image)
    assert all(abs(got - want) <= 12 for got, want in zip(box, seed_box, strict=True)), box


def test_real_seed_pasted_several_times() -> None:
    image, truth = make_sample_picture(n_copies=4, seed=51)
    assert_each_seed_found_once(pixel_boxes(detect_seeds(image), image), truth)


def as_gif(image: Image.Image) -> Image.Image:
    out = io.BytesIO()
    image.save(out, format="GIF")
    return Image.open(io.BytesIO(out.getvalue()))


@functools.cache
def brown_seeds() -> SeedScene:
    return make_seed_scene(width=800, height=600, n_seeds=3, seed=61, colours=("dark-brown",))


@pytest.mark.parametrize("mode", ["RGBA", "L", "CMYK", "P"])
def test_any_image_mode(mode: str) -> None:
    scene = brown_seeds()
    # A palette picture arrives as a GIF (an adaptive palette), not dithered to a fixed one.
    image = as_gif(scene.image) if mode == "P" else scene.image.convert(mode)
    assert image.mode == mode
    assert_each_seed_found_once(pixel_boxes(detect_seeds(image), image), scene.seeds)


def test_boxes_are_labelled_seeds_in_reading_order_with_scores_in_0_1() -> None:
    scene = make_seed_scene(width=1280, height=720, n_seeds=20, seed=71, jpeg_quality=90)
    detections = detect_seeds(scene.image)
    assert len(detections) == 20
    for d in detections:
        [guess] = d.guesses
        assert guess.label == "seed"
        assert isinstance(guess.score, float) and 0 < guess.score <= 1
        assert 0 <= d.box.top_x < d.box.bottom_x <= 1 and 0 <= d.box.top_y < d.box.bottom_y <= 1
    tops_lefts = [(d.box.top_y, d.box.top_x) for d in detections]
    assert tops_lefts == sorted(tops_lefts)


def test_faint_blob_scores_lower_than_a_clear_seed() -> None:
    image, _ = sample_seed_picture()
    [clear] = detect_seeds(image)
    # The same seed, washed out to a third of its contrast against the background.
    background = Image.new("RGB", image.size, (240, 243, 238))
    faint_image = Image.blend(image.convert("RGB"), background, 0.67)
    [faint] = detect_seeds(faint_image)
    assert faint.guesses[0].score < clear.guesses[0].score


def test_importing_the_module_loads_no_image_library() -> None:
    code = (
        "import shared.pipeline.builtin_detector, sys;"
        " assert not {'numpy', 'PIL', 'scipy'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)

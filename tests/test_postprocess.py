"""shared.pipeline.postprocess and label matching: the rules of MODELS.md "Post-processing",
as pure functions."""

from __future__ import annotations

import uuid

import pytest

from shared.pipeline.postprocess import (
    PALETTE,
    PixelBox,
    label_colors,
    label_occurrence,
    overlap_indices,
    overlapping_flags,
    postprocess,
    strip_catalogue_number,
    to_pixels,
)
from shared.pipeline.types import Detection, FractionBox, Guess
from shared.services.catalogue import Seed, match_label


def detection(box: tuple[float, float, float, float], *guesses: tuple[str, float]) -> Detection:
    return Detection(FractionBox(*box), tuple(Guess(label, score) for label, score in guesses))


def test_fractions_become_whole_pixels_of_the_upright_image():
    assert to_pixels(FractionBox(0.1, 0.2, 0.5, 0.75), 1920, 1080) == PixelBox(192, 216, 960, 810)
    # Halves round up, on both sides alike.
    assert to_pixels(FractionBox(0.25, 0.25, 0.75, 0.75), 638, 559) == PixelBox(160, 140, 479, 419)


def test_boxes_are_clamped_inside_the_image_and_put_in_order():
    assert to_pixels(FractionBox(-0.2, -1.0, 1.3, 2.0), 100, 50) == PixelBox(0, 0, 100, 50)
    assert to_pixels(FractionBox(0.8, 0.9, 0.2, 0.1), 100, 100) == PixelBox(20, 10, 80, 90)
    assert to_pixels(FractionBox(float("nan"), 0.1, 0.5, 0.5), 100, 100) == PixelBox(0, 10, 50, 50)


def test_overlap_needs_the_ratio_of_each_box():
    big, small = PixelBox(0, 0, 100, 100), PixelBox(10, 10, 40, 40)
    # The small box lies wholly inside the big one but covers 9% of it.
    assert overlap_indices([big, small], 0.5) == [(), ()]
    assert overlap_indices([big, small], 0.09) == [(2,), (1,)]
    shifted = PixelBox(20, 0, 120, 100)  # 80% of each
    assert overlap_indices([big, shifted], 0.8) == [(2,), (1,)]
    assert overlap_indices([big, shifted], 0.81) == [(), ()]


def test_touching_or_empty_boxes_never_overlap():
    a, b, empty = PixelBox(0, 0, 10, 10), PixelBox(10, 0, 20, 10), PixelBox(5, 5, 5, 5)
    assert overlap_indices([a, b, empty], 0.01) == [(), (), ()]


def test_identical_boxes_overlap_at_ratio_one():
    box = PixelBox(3, 4, 30, 40)
    assert overlap_indices([box, box], 1.0) == [(2,), (1,)]


def test_lower_score_is_overlapping_and_on_a_tie_the_later_one():
    indices = [(2, 3), (1,), (1,), ()]
    assert overlapping_flags(indices, [0.6, 0.9, 0.6, 0.1]) == [True, False, True, False]
    assert overlapping_flags([(2,), (1,)], [0.5, 0.5]) == [False, True]


def test_every_box_lists_all_boxes_it_overlaps_one_based():
    boxes = [PixelBox(0, 0, 10, 10), PixelBox(50, 50, 60, 60), PixelBox(1, 1, 10, 10),
             PixelBox(0, 0, 9, 9)]
    assert overlap_indices(boxes, 0.5) == [(3, 4), (), (1, 4), (1, 3)]


def test_postprocess_marks_overlap_without_moving_boxes():
    boxes = postprocess([
        detection((0.0, 0.0, 0.5, 0.5), ("seed", 0.4)),
        detection((0.0, 0.0, 0.5, 0.5), ("seed", 0.8)),
        detection((0.6, 0.6, 0.9, 0.9), ("seed", 0.8)),
    ], width=200, height=100, area_ratio=0.5)
    assert [b.pixels for b in boxes] == [PixelBox(0, 0, 100, 50), PixelBox(0, 0, 100, 50),
                                         PixelBox(120, 60, 180, 90)]
    assert [b.overlapping for b in boxes] == [True, False, False]
    assert [b.overlapping_indices for b in boxes] == [(2,), (1,), ()]


def test_guesses_best_first_with_clean_labels_and_scores():
    [box] = postprocess([detection((0, 0, 1, 1), ("3 Bromus secalinus", 0.2),
                                   ("012 Ambrosia artemisiifolia", 1.4), ("Brassica napus", float("nan")))],
                        width=10, height=10, area_ratio=0.5)
    assert box.guesses == (Guess("Ambrosia artemisiifolia", 1.0), Guess("Bromus secalinus", 0.2),
                           Guess("Brassica napus", 0.0))
    assert box.top == Guess("Ambrosia artemisiifolia", 1.0)


def test_zero_detections_is_a_result():
    assert postprocess([], width=10, height=10, area_ratio=0.5) == []
    assert label_occurrence([], []) == {}


@pytest.mark.parametrize(("label", "shown"), [
    ("012 Ambrosia artemisiifolia", "Ambrosia artemisiifolia"),
    ("  7   Bromus secalinus ", "Bromus secalinus"),
    ("012", "012"),
    ("12a Ambrosia trifida", "12a Ambrosia trifida"),
    ("Ambrosia 012", "Ambrosia 012"),
    ("1.5 Bromus", "1.5 Bromus"),
    ("seed", "seed"),
])
def test_numeric_catalogue_prefix_is_stripped(label, shown):
    assert strip_catalogue_number(label) == shown


def test_one_colour_per_label_in_order_of_first_appearance():
    assert label_colors(["b", "a", "b", "c"], "hex") == ["#ED1C24", "#22B14C", "#ED1C24", "#3F48CC"]
    assert label_colors(["b", "a"], "rgb") == [[0xED, 0x1C, 0x24], [0x22, 0xB1, 0x4C]]
    assert all(type(c) is int for c in label_colors(["x"], "rgb")[0])


def test_palette_has_nine_strong_then_nine_light_colours_then_darker_shades():
    assert len(PALETTE) == len(set(PALETTE)) == 18
    strong, light = PALETTE[:9], PALETTE[9:]
    assert sum(map(sum, light)) > sum(map(sum, strong))  # light ones are brighter
    labels = [f"label {n}" for n in range(40)]
    colors = label_colors(labels, "rgb")
    assert len({tuple(c) for c in colors}) == 40
    for n in range(18, 40):
        base, shade = colors[n % 18], colors[n]
        assert all(s <= b for s, b in zip(shade, base, strict=True)) and shade != base
    hexes = label_colors(labels, "hex")
    assert all(len(h) == 7 and h.startswith("#") and h[1:] == h[1:].upper() for h in hexes)
    assert hexes[20] == "#{:02X}{:02X}{:02X}".format(*colors[20])


def test_colours_are_hex_or_rgb():
    assert label_colors(["a"], "hex") == ["#ED1C24"] and label_colors(["a"], "rgb") == [[0xED, 0x1C, 0x24]]
    for bad in ("HSL", "", "#hex", "RGB "):
        with pytest.raises(ValueError, match="colour format"):
            label_colors(["a"], bad)


def test_label_occurrence_leaves_out_overlapping_boxes():
    labels = ["Ambrosia trifida", "seed", "Ambrosia trifida", "seed"]
    assert label_occurrence(labels, [False, False, False, True]) == {"Ambrosia trifida": 2, "seed": 1}
    assert label_occurrence(["seed"], [True]) == {}


CATALOGUE = [Seed(uuid.uuid4(), name) for name in
             ("Ambrosia artemisiifolia", "Ambrosia trifida", "Solanum nigrum", "Trifida")]


@pytest.mark.parametrize(("label", "name"), [
    ("ambrosia TRIFIDA", "Ambrosia trifida"),
    ("trifida", "Trifida"),  # an exact match comes before a name that ends with it
    ("nigrum", "Solanum nigrum"),
    ("Artemisiifolia", "Ambrosia artemisiifolia"),
    ("folia", None),  # not a whole word
    ("seed", None),
    ("", None),
])
def test_labels_match_the_catalogue(label, name):
    seed = match_label(label, CATALOGUE)
    assert (seed.name if seed else None) == name

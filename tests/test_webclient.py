"""The published web client, unchanged but for its backend URL, in Debian's Chromium
against the app in local mode with nothing configured, as an analyst works: load, a new
folder, a classified picture, a frame from the camera, feedback on boxes (confirm, each
correction, a box the model missed), a batch upload, folder deletion and the model list.
Each step is checked on the page and on the browser's network log; what the client does
was read from its source (ai-cfia/nachet-frontend 758a1fd). Screenshots of each step are
kept in .test-artifacts/webclient/ (see the README)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest
import requests
import yaml

from devhost.server import Dispatcher, HostServer
from devhost.settings_file import HostSettings
from shared import settings
from tests.conftest import ROOT
from tests.support.synthetic_seeds import SAMPLE_PATH, make_seed_scene
from tests.support.webclient import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Browser,
    copy_with_backend,
    static_site,
    tally_rows,
)

expect = playwright_api.expect
UUID_TEXT = re.compile(r"UUID: [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The client's colours for a box drawn on its canvas (cacheutils.ts drawBox).
RED, GREEN = (255, 0, 0), (0, 128, 0)
# The client's feedback form opens this far left of the box it corrects (FeedbackForm.tsx:
# its 300 px width and a 10 px gap); a box nearer the page's left edge puts it off-screen.
FORM_OFFSET = 310


@pytest.fixture
def browser(app, monkeypatch, tmp_path: Path) -> Iterator[Browser]:
    # Local mode as scripts/run starts it: no dev email, no secret, no sign-in.
    monkeypatch.setenv("NACHET_ENV", "local")
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    settings.reset()
    site = tmp_path / "site"
    with static_site(site) as origin:
        host = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (origin,), True))
        threading.Thread(target=host.serve_forever, daemon=True).start()
        backend = f"http://127.0.0.1:{host.server_address[1]}/api"
        copy_with_backend(site, backend)
        with playwright_api.sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = chromium.new_context(viewport={"width": 1600, "height": 900}).new_page()
            seen = Browser(page, origin, backend)
            seen.watch()
            try:
                yield seen
            finally:
                chromium.close()
        host.shutdown()
        host.server_close()


def open_client(browser: Browser, shot: str | None = None) -> str:
    """Load the page: the analyst's id in the footer, `General` listed, the species and
    pipelines answered; then accept the client's licence notice. Returns the user id."""
    page = browser.page
    with browser.answer("get-directories") as listing, browser.answer("seeds") as species, \
            browser.answer("model-endpoints-metadata") as models:
        page.goto(browser.origin, wait_until="load")
    assert [a.value.status for a in (listing, species, models)] == [200, 200, 200]
    assert species.value.json()["seeds"] and models.value.json()
    assert ("get-user-id", 200) in browser.answers  # the folders are read with its answer
    footer = page.get_by_text(UUID_TEXT)
    expect(footer).to_be_visible()
    expect(page.get_by_text("General", exact=True).first).to_be_visible()
    if shot:
        browser.shot(shot)
    page.get_by_role("button", name="I Agree", exact=True).click()
    return footer.inner_text().split("UUID: ")[1].strip()


def show_captures(page: Any) -> None:
    """Switch from the video feed to the captures view: the camera stops, and LOAD, BATCH,
    CLASSIFY, ANNOTATE and MODEL SELECTION are offered."""
    page.get_by_role("button", name="Capture", exact=True).click()


def load_picture(page: Any, path: Path) -> None:
    page.get_by_role("button", name="LOAD").click()
    page.locator("input[type=file]").set_input_files(str(path))


def classify(browser: Browser) -> tuple[dict, dict]:
    """CLASSIFY the current picture; returns what the client sent and the inference object
    that the backend answered."""
    with browser.answer("inf") as inference:
        browser.page.get_by_role("button", name="CLASSIFY").click()
    assert inference.value.status == 200, inference.value.text()
    return inference.value.request.post_data_json, inference.value.json()


def box_buttons(page: Any) -> Any:
    """The client's clickable boxes over its canvas, in the order of the inference's boxes."""
    return page.locator("canvas + div > button")


def results(page: Any) -> Any:
    return page.locator("[data-testid=classification-results-component] tbody tr")


def shows(page: Any, inference: dict) -> None:
    """The page shows `inference`: one clickable box per box and its results table."""
    expect(box_buttons(page)).to_have_count(inference["totalBoxes"])
    expect(results(page)).to_have_text(tally_rows(inference), use_inner_text=True)


def edge_turns(page: Any, box: dict, rgb: tuple[int, int, int]) -> None:
    """Wait until the client's canvas draws the left edge of `box` in colour `rgb`."""
    x, y = box["box"]["topX"], (box["box"]["topY"] + box["box"]["bottomY"]) // 2
    page.wait_for_function(
        """([x, y, rgb]) => {
            const canvas = document.querySelector("canvas");
            if (!canvas || canvas.width <= x) return false;
            const pixel = canvas.getContext("2d").getImageData(x, y, 1, 1).data;
            return pixel[0] === rgb[0] && pixel[1] === rgb[1] && pixel[2] === rgb[2];
        }""",
        arg=[x, y, list(rgb)],
    )


def index_of(inference: dict, box_id: str) -> int:
    return [b["box_id"] for b in inference["boxes"]].index(box_id)


def dismiss_feedback_result(page: Any) -> None:
    """The client's feedback result shows a check (success) or an error; dismiss it."""
    dismiss = page.get_by_role("button", name="Dismiss")
    expect(dismiss).to_be_visible()
    expect(page.locator("[data-testid=ReportGmailerrorredIcon]")).to_have_count(0)
    dismiss.click()


def pick_class(page: Any, typed: str, option: str) -> None:
    page.locator("#feedback-class").fill(typed)
    page.get_by_role("option", name=option, exact=True).click()


def pick_comment(page: Any, comment: str) -> None:
    page.locator("#feedback-comment").click()
    page.get_by_role("option", name=comment, exact=True).click()


def test_an_analyst_loads_the_client_makes_a_folder_and_classifies_the_sample(app, browser):
    page = browser.page
    # 1. Load: the user id in the footer, General listed, the model and species lists.
    user_id = open_client(browser, shot="1-loaded")
    assert app.sql("SELECT id::text FROM users WHERE email = 'analyst@nachet.local'") == [(user_id,)]
    # 2. Create a folder and select it.
    page.locator("[data-testid=CreateNewFolderIcon]").click()
    page.get_by_label("Directory Name").fill("Lot A")
    with browser.answer("create-dir") as created:
        page.get_by_role("button", name="Create", exact=True).click()
    assert created.value.status == 200
    folder = page.get_by_text("Lot-A", exact=True)  # the client turns spaces into hyphens
    expect(folder).to_be_visible()
    folder.click()
    browser.shot("2-folder")
    # 3. LOAD the real sample, then CLASSIFY: one box, its label and a count of 1 in the table.
    show_captures(page)
    load_picture(page, SAMPLE_PATH)
    _, result = classify(browser)
    assert result["totalBoxes"] == 1
    shows(page, result)
    assert tally_rows(result) == [f"1 {result['boxes'][0]['label']} 1"]
    browser.shot("3-classified")
    # The picture went into the selected folder.
    assert app.sql("SELECT ps.name FROM inference i JOIN picture p ON p.id = i.picture_id"
                   " JOIN picture_set ps ON ps.id = p.picture_set_id") == [("Lot-A",)]
    browser.check_session()


def test_a_frame_from_the_camera_is_classified_without_a_false_seed(app, browser):
    page = browser.page
    open_client(browser)
    # 4. CAPTURE a frame of Chromium's fake camera once its stream plays, then CLASSIFY.
    page.wait_for_function("() => { const v = document.querySelector('video');"
                           " return v !== null && v.readyState >= 2 && v.videoWidth > 0; }")
    page.get_by_role("button", name="CAPTURE", exact=True).click()
    expect(page.get_by_text("Capture 1", exact=True)).to_be_visible()  # in the captures list
    show_captures(page)
    sent, result = classify(browser)
    assert sent["image"].startswith("data:image/png;base64,")
    width, height = sent["imageDims"]
    assert (width, height) == (1920, 1080)  # the frame at the size the client asks the camera for
    assert result["totalBoxes"] == len(result["boxes"])
    for box in result["boxes"]:  # the fake camera's frame is no seed picture: no box takes it all
        b = box["box"]
        area = (b["bottomX"] - b["topX"]) * (b["bottomY"] - b["topY"])
        assert area <= width * height / 2, box
    shows(page, result)
    browser.shot("4-camera")
    browser.check_session()


def test_an_analyst_confirms_corrects_and_annotates_boxes(app, browser, tmp_path):
    page = browser.page
    scene = make_seed_scene(n_seeds=7, seed=0)
    picture = tmp_path / "seven-seeds.jpg"
    scene.image.save(picture, quality=92)
    user_id = open_client(browser)
    show_captures(page)
    load_picture(page, picture)
    _, result = classify(browser)
    assert result["totalBoxes"] == len(scene.seeds)
    assert {b["label"] for b in result["boxes"]} == {"seed"}  # the built-in detector's label
    shows(page, result)
    buttons = box_buttons(page)
    # Boxes far enough from the left edge for the correction form; another one to confirm.
    lefts = [buttons.nth(i).bounding_box()["x"] for i in range(result["totalBoxes"])]
    to_correct = [b["box_id"] for b, left in zip(result["boxes"], lefts, strict=True)
                  if left >= FORM_OFFSET][:4]
    assert len(to_correct) == 4, lefts
    to_confirm = min((b for b in result["boxes"] if b["box_id"] not in to_correct),
                     key=lambda b: b["score"])
    assert to_confirm["score"] < 0.995  # shown below 100% until confirmed

    # 5. ✓ on a box: it is verified, shown at 100% and drawn green.
    edge_turns(page, to_confirm, RED)
    buttons.nth(index_of(result, to_confirm["box_id"])).click()
    with browser.answer("feedback-positive") as confirmed:
        page.locator(".MuiPopover-paper [data-testid=CheckCircleOutlinedIcon]").click()
    assert confirmed.value.status == 200, confirmed.value.text()
    assert confirmed.value.request.post_data_json == {
        "userId": user_id, "inferenceId": result["inference_id"],
        "boxes": [{"boxId": to_confirm["box_id"]}]}
    result = confirmed.value.json()
    box = result["boxes"][index_of(result, to_confirm["box_id"])]
    assert (box["label"], box["score"], box["is_verified"]) == ("seed", 1.0, True)
    dismiss_feedback_result(page)
    edge_turns(page, box, GREEN)
    page.locator("[data-testid=SwitchLeftIcon]").click()  # the table's one-row-per-box view
    row = results(page).nth(index_of(result, box["box_id"]))
    expect(row).to_have_text(re.compile(r"^\s*\d+\s+seed\s+100%\s*$"), use_inner_text=True)
    browser.shot("5-confirmed")
    page.locator("[data-testid=SwitchLeftIcon]").click()

    # 6. ✗ with each choice of the client's form; the table follows each.
    seeds = {s["seed_name"]: s["seed_id"] for s in requests.get(f"{browser.backend}/seeds",
                                                                 timeout=10).json()["seeds"]}
    corrections = [
        # (shot, comment chosen, class typed, option picked, label and classId sent, shown as)
        ("6a-species", None, "Ambrosia trif", "Ambrosia trifida",
         ("Ambrosia trifida", seeds["Ambrosia trifida"]), "Ambrosia trifida"),
        ("6b-new-label", "Wrong Seed not in List", "Setaria viridis", '"Setaria viridis"',
         ('"Setaria viridis"', ""), "Setaria viridis"),
        ("6c-no-seed", "No Seed", None, None, ("", ""), None),
        ("6d-multi-seed", "Multi Seed", "Ambrosia trif", "Ambrosia trifida",
         ("Ambrosia trifida", seeds["Ambrosia trifida"]), "Ambrosia trifida"),
    ]
    for box_id, (shot, comment, typed, option, sent, shown_as) in zip(to_correct, corrections, strict=True):
        before = result
        buttons.nth(index_of(before, box_id)).click()
        page.locator(".MuiPopover-paper [data-testid=CancelOutlinedIcon]").click()
        expect(page.get_by_text("Feedback", exact=True)).to_be_visible()
        if comment:
            pick_comment(page, comment)
        if typed:
            pick_class(page, typed, option)
        with browser.answer("feedback-negative") as corrected:
            page.get_by_role("button", name="Submit").click()
        assert corrected.value.status == 200, corrected.value.text()
        [entry] = corrected.value.request.post_data_json["boxes"]
        assert (entry["boxId"], entry["label"], entry["classId"]) == (box_id, *sent)
        assert entry["comment"] == (comment or "Wrong Seed")  # the form's default reason
        result = corrected.value.json()
        if shown_as is None:  # not a seed: the box is gone
            assert box_id not in [b["box_id"] for b in result["boxes"]]
            assert result["totalBoxes"] == before["totalBoxes"] - 1
        else:
            box = result["boxes"][index_of(result, box_id)]
            assert (box["label"], box["score"], box["is_verified"]) == (shown_as, 1.0, True)
            assert result["totalBoxes"] == before["totalBoxes"]
        dismiss_feedback_result(page)
        shows(page, result)
        browser.shot(shot)
    assert result["labelOccurrence"] == {"seed": 3, "Ambrosia trifida": 2, "Setaria viridis": 1}
    new_seeds = requests.get(f"{browser.backend}/seeds", timeout=10).json()["seeds"]
    assert "Setaria viridis" in {s["seed_name"] for s in new_seeds}  # the new label, unquoted

    # 7. ANNOTATE a box the model missed, in the middle of the picture where it found none.
    # The client's first ANNOTATE click reads its new-annotation flag before setting it,
    # so its form opens on an existing box; the second click gives it a new box (boxId "").
    annotate = page.get_by_role("button", name="ANNOTATE")
    annotate.click()
    top_x = page.locator("tr", has_text="TopX").locator("td").last
    expect(top_x).to_be_visible()
    first_bound = top_x.inner_text()
    annotate.click()
    expect(top_x).not_to_have_text(first_bound)
    pick_class(page, "Brassica nap", "Brassica napus")
    before = result
    with browser.answer("feedback-negative") as annotated:
        page.get_by_role("button", name="Submit").click()
    assert annotated.value.status == 200, annotated.value.text()
    [entry] = annotated.value.request.post_data_json["boxes"]
    assert (entry["boxId"], entry["label"], entry["comment"]) == ("", "Brassica napus", "Seed not Detected")
    result = annotated.value.json()
    [added] = [b for b in result["boxes"] if b["box_id"] not in {o["box_id"] for o in before["boxes"]}]
    assert (added["label"], added["score"], added["is_verified"]) == ("Brassica napus", 1.0, True)
    assert all(abs(added["box"][edge] - entry["box"][edge]) <= 1 for edge in entry["box"]), (added, entry)
    dismiss_feedback_result(page)
    shows(page, result)
    browser.shot("7-annotated")
    # Kept: a re-read of the picture has the inference as the client last saw it.
    reread = requests.post(f"{browser.backend}/get-picture", timeout=10, json={
        "container_name": user_id, "picture_id": result["picture_id"]})
    assert reread.status_code == 200, reread.text
    assert reread.json()["inference"] == result
    # Each correction is stored with the reason the analyst chose.
    assert app.sql("SELECT comment, valid, manual_detection FROM object WHERE comment IS NOT NULL"
                   " ORDER BY position") == [
        ("Wrong Seed", True, False), ("Wrong Seed not in List", True, False), ("No Seed", False, False),
        ("Multi Seed", True, False), ("Seed not Detected", True, True)]
    browser.check_session()


def register_pipelines(tmp_path: Path, run_command: Any) -> list[dict]:
    """Import, with the operator's command, the built-in detector (the default) and a second
    pipeline, each with a description and a version; returns the pipelines as defined."""
    pipelines = [
        {"pipeline_name": "seed-detector-builtin", "models": ["seed-detector-builtin"], "default": True,
         "version": "1", "description": "Built-in seed detector: boxes every seed, labelled seed.",
         "created_by": "Nachet", "creation_date": "2026-11-28"},
        {"pipeline_name": "wiring-check", "models": ["wiring-check"], "default": False,
         "version": "3", "description": "One fixed box, to check the wiring.",
         "created_by": "Nachet", "creation_date": "2026-12-01"},
    ]
    definition = {"version": "2", "date": "2026-12-01", "pipelines": pipelines, "models": [
        {"model_name": "seed-detector-builtin", "type": "builtin-seed-detector",
         "task": "object-detection", "version": "1"},
        {"model_name": "wiring-check", "type": "test", "task": "object-detection", "version": "1"},
    ]}
    path = tmp_path / "pipelines.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False), encoding="utf-8")
    code, out, err = run_command("import-pipelines", str(path))
    assert code == 0, (out, err)
    return pipelines


def test_an_analyst_uploads_a_batch_deletes_its_folder_and_picks_a_pipeline(
        app, browser, run_command, tmp_path):
    page = browser.page
    pipelines = register_pipelines(tmp_path, run_command)
    second = tmp_path / "three-seeds.jpg"
    make_seed_scene(width=1280, height=720, n_seeds=3, seed=5).image.save(second, quality=90)
    user_id = open_client(browser)
    show_captures(page)
    folders = page.locator("[data-testid=storage-directory-component] tbody tr")

    # 8. BATCH: two pictures of one species into a new folder.
    page.get_by_role("button", name="BATCH").click()
    page.get_by_label("Folder Name").fill("Lot B")
    page.locator("#input-seed-class").fill("Ambrosia arte")
    page.get_by_role("option", name="Ambrosia artemisiifolia", exact=True).click()
    page.get_by_label("Seed Count").fill("3")
    page.get_by_label("Zoom Level").fill("2")
    page.locator("input[type=file][multiple]").set_input_files([str(SAMPLE_PATH), str(second)])
    with browser.answer("new-batch-import") as started:
        page.get_by_role("button", name="Upload", exact=True).click()
    assert started.value.status == 200, started.value.text()
    assert started.value.request.post_data_json == {
        "user_id": user_id, "folder_name": "Lot B", "container_name": user_id, "nb_pictures": 2}
    session_id = started.value.json()["session_id"]
    close = page.get_by_role("button", name="Close", exact=True)
    expect(close).to_be_visible()  # every file is marked sent
    browser.settle()  # the client may post a file twice (a re-run of its upload effect)
    assert browser.routes().count("upload-picture") >= 2
    browser.shot("8-batch")
    close.click()
    # The client reads the folders again only on its own actions: the analyst reloads.
    with browser.answer("get-directories") as listing:
        page.reload(wait_until="load")
    assert listing.value.status == 200
    show_captures(page)  # the reloaded page opens on the video feed
    [lot] = [f for f in listing.value.json()["folders"] if f["picture_set_id"] == session_id]
    assert (lot["folder_name"], lot["nb_pictures"], len(lot["pictures"])) == ("Lot B", 2, 2)
    assert all(p["is_validated"] for p in lot["pictures"])  # pictures of a known species
    row = folders.filter(has_text="Lot B")
    expect(row).to_have_text(re.compile(r"^\s*Lot B\s+2\s*$"), use_inner_text=True)
    browser.shot("8-batch-listed")

    # 9. Delete that folder: it is gone. Deleting General is refused with the contract's 400.
    row.locator("button").click()
    expect(page.get_by_text(f"Are you sure you want to delete {session_id}?")).to_be_visible()
    with browser.answer("del") as deleted, browser.answer("get-directories") as relisted:
        page.get_by_role("button", name="Delete", exact=True).click()
    assert deleted.value.status == 200 and deleted.value.json() == [True]
    assert deleted.value.request.post_data_json == {"container_name": user_id, "folder_name": session_id}
    assert session_id not in {f["picture_set_id"] for f in relisted.value.json()["folders"]}
    expect(row).to_have_count(0)
    browser.shot("9-deleted")
    folders.filter(has_text="General").locator("button").click()
    console_start = len(browser.console_errors)
    with browser.answer("del") as refused, page.expect_event("dialog"), \
            page.expect_console_message(lambda m: m.text.startswith("AzureAPIError")):
        page.get_by_role("button", name="Delete", exact=True).click()
    assert refused.value.status == 400
    [message] = refused.value.json()  # the contract's error: an array of one string
    assert "default folder" in message
    browser.refused("del", 400, message, "Error deleting directory, see console for more details",
                    console_start)
    expect(folders).to_have_count(1)
    expect(folders.first).to_contain_text("General")
    browser.shot("9-general-refused")

    # 10. MODEL SELECTION lists each pipeline with its description and version.
    page.get_by_role("button", name="MODEL SELECTION").click()
    listed = page.get_by_text("Model Selection:", exact=True).locator("xpath=..")
    for pipeline in pipelines:  # each card: name, description, date, version
        expect(listed).to_contain_text(re.compile(r"\s*".join(re.escape(part) for part in (
            pipeline["pipeline_name"], pipeline["description"], f"Date: {pipeline['creation_date']}",
            f"Version: {pipeline['version']}"))), use_inner_text=True)
    browser.shot("10-models")
    # The one picked is the pipeline that CLASSIFY then runs.
    page.get_by_text("wiring-check", exact=True).click()
    page.get_by_role("button", name="Done").click()
    load_picture(page, SAMPLE_PATH)
    sent, result = classify(browser)
    assert sent["model_name"] == "wiring-check"
    assert result["models"] == [{"name": "wiring-check", "version": "1"}]
    shows(page, result)
    expect(page.get_by_text("RESULTS | wiring-check")).to_be_visible()
    browser.check_session()

"""The plate renderer, camera degradations, pasting, and the generated scene videos."""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from videos import read_frames

from edge_alpr import plates
from edge_alpr.synth import degrade, fonts, paste, render
from edge_alpr.synth import texts as plate_texts

CLEAN = render.PlateStyle("white", (240, 242, 242), (25, 25, 25), hsrp=False, border="line")


# --- texts ----------------------------------------------------------------------------------


def test_random_texts_are_valid_and_cover_the_country() -> None:
    rng = np.random.default_rng(0)
    texts = [plate_texts.random_plate_text(rng) for _ in range(5000)]
    formats = Counter(plates.plate_format(t) for t in texts)
    assert formats["unknown"] == 0
    assert 0.07 < formats["bh"] / len(texts) < 0.13  # ~10% Bharat series
    states = {t[:2] for t in texts if plates.plate_format(t) == "standard"}
    assert states == set(plates.STATE_CODES)
    assert any(t.startswith("DL") and plates.parse(t).groups[2][:1] in "CSPERTVYLG" for t in texts)
    lengths = Counter(len(plates.parse(t).groups[3]) for t in texts if plates.plate_format(t) == "standard")
    assert lengths[4] / sum(lengths.values()) > 0.9  # HSRP prints four digits


@pytest.mark.parametrize("kind", ["standard", "bh"])
def test_random_text_kind(kind: str) -> None:
    rng = np.random.default_rng(1)
    assert {plates.plate_format(plate_texts.random_plate_text(rng, kind)) for _ in range(200)} == {kind}  # type: ignore[arg-type]


def test_random_text_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        plate_texts.random_plate_text(np.random.default_rng(0), "us")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "options"),
    [
        ("KA01AB1234", {(("KA", "01"), ("AB", "1234")), (("KA", "01", "AB"), ("1234",)),
                        (("KA", "01", "A"), ("B", "1234")), (("KA",), ("01", "AB", "1234"))}),
        ("KA01A1234", {(("KA", "01"), ("A", "1234")), (("KA", "01", "A"), ("1234",)), (("KA",), ("01", "A", "1234"))}),
        ("GJ051234", {(("GJ", "05"), ("1234",))}),
        ("22BH1234AA", {(("22", "BH"), ("1234", "AA"))}),
    ],
)
def test_two_line_splits_follow_real_plates(text: str, options: set) -> None:
    rng = np.random.default_rng(2)
    seen = [plate_texts.split_lines(text, rng) for _ in range(400)]
    assert set(seen) == options
    # every split keeps the text, top line first
    assert all("".join(top + bottom) == text for top, bottom in seen)


# --- rendering ------------------------------------------------------------------------------


def test_same_seed_same_plate() -> None:
    a = render.render_plate(None, np.random.default_rng(7))
    b = render.render_plate(None, np.random.default_rng(7))
    assert a.text == b.text and a.layout == b.layout
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, render.render_plate(None, np.random.default_rng(8)).image)


def test_text_is_normalised() -> None:
    plate = render.render_plate("ka-01 ab.1234", np.random.default_rng(0))
    assert plate.text == "KA01AB1234"


@pytest.mark.parametrize("text", ["", "KA01AB12$4", "KA 01 ÄB 1234"])
def test_bad_text_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="letters A-Z and digits"):
        render.render_plate(text, np.random.default_rng(0))


@pytest.mark.parametrize(("layout", "low", "high"), [("one", 3.0, 6.0), ("two", 1.0, 2.2), ("stacked", 2.8, 5.0)])
def test_layout_aspect_ratio(layout: str, low: float, high: float) -> None:
    rng = np.random.default_rng(3)
    for _ in range(30):
        plate = render.render_plate(None, rng, layout=layout)  # type: ignore[arg-type]
        h, w = plate.image.shape[:2]
        assert plate.layout == layout
        assert low < w / h < high, (w, h, plate.style)
        assert plate.image.dtype == np.uint8 and plate.image.shape[2] == 3


@pytest.mark.parametrize(
    ("background", "check"),
    [
        ("white", lambda b, g, r: min(b, g, r) > 170),
        ("yellow", lambda b, g, r: r > 170 and g > 140 and b < 100),
        ("green", lambda b, g, r: g > r + 40 and g > b + 40),
        ("black", lambda b, g, r: max(b, g, r) < 80),
        ("red", lambda b, g, r: r > g + 80 and r > b + 80),
    ],
)
def test_background_colours(background: str, check) -> None:
    rng = np.random.default_rng(4)
    for _ in range(10):
        style = render.random_style(rng, background=background)  # type: ignore[arg-type]
        bare = render.PlateStyle(**{**style.__dict__, "frame": False, "dealer_text": False, "holder": False})
        plate = render.render_plate(None, rng, style=bare)
        # The median pixel is background: characters cover well under half of a plate.
        b, g, r = np.median(plate.image.reshape(-1, 3), axis=0)
        assert check(b, g, r), (background, (b, g, r))
        assert plate.background == background


def test_two_line_plates_print_two_rows_of_characters() -> None:
    rng = np.random.default_rng(5)
    plate = render.render_plate("KA01AB1234", rng, layout="two", style=render.PlateStyle(**{**CLEAN.__dict__, "border": "none"}))
    gray = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    inked_rows = (gray < 100).mean(axis=1) > 0.05
    bands = np.count_nonzero(np.diff(inked_rows.astype(int)) == 1) + int(inked_rows[0])
    assert bands == 2


def _ink_bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) rows of each run of rows with ink in them."""
    rows = mask.mean(axis=1) > 0.03
    edges = np.flatnonzero(np.diff(np.concatenate(([0], rows.astype(int), [0]))))
    return [(a, b - 1) for a, b in zip(edges[::2], edges[1::2])]


def test_stacked_plates_print_two_small_lines_beside_one_tall_number() -> None:
    rng = np.random.default_rng(9)
    style = render.PlateStyle(**{**CLEAN.__dict__, "border": "none"})
    for text in ("MH02EZ2599", "KA63Q7810", "CG08AEV9734"):
        plate = render.render_plate(text, rng, layout="stacked", style=style)
        assert (plate.text, plate.layout) == (text, "stacked")
        ink = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY) < 100
        w = ink.shape[1]
        columns = np.flatnonzero(ink.mean(axis=0) > 0.01)
        # The widest blank run of columns between characters separates the prefix from the number.
        gaps = np.diff(columns)
        cut = columns[int(np.argmax(gaps))] + 1
        assert 0.1 * w < cut < 0.6 * w, (text, cut, w)
        prefix, number = _ink_bands(ink[:, :cut]), _ink_bands(ink[:, cut:])
        assert len(prefix) == 2 and len(number) == 1, (text, prefix, number)
        (top1, bottom1), (top2, bottom2) = prefix
        (top, bottom) = number[0]
        assert top < bottom1 and bottom > top2, (text, prefix, number)  # beside both lines
        assert bottom - top > 1.5 * max(bottom1 - top1, bottom2 - top2), (text, prefix, number)


@pytest.mark.parametrize("text", ["22BH1234AA", "KA011234"])
def test_stacked_layout_needs_a_series(text: str) -> None:
    with pytest.raises(ValueError, match="stacked layout needs a standard plate with a series"):
        render.render_plate(text, np.random.default_rng(0), layout="stacked")


def test_unknown_layout_is_rejected_with_the_choices() -> None:
    with pytest.raises(ValueError, match="one/two/stacked"):
        render.render_plate("KA01AB1234", np.random.default_rng(0), layout="three")  # type: ignore[arg-type]


def test_renders_without_system_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TrueType fonts installed: Pillow's bundled font is used, rendering still works."""
    monkeypatch.setattr(fonts, "FONTS", ())
    plate = render.render_plate("KA01AB1234", np.random.default_rng(0), layout="one", style=CLEAN)
    assert plate.style.font is None
    gray = cv2.cvtColor(plate.image, cv2.COLOR_BGR2GRAY)
    assert (gray < 100).mean() > 0.05  # characters were printed


@pytest.mark.skipif(not fonts.FONTS, reason="no TrueType fonts installed")
def test_every_typeface_prints_each_character_as_its_own_shape() -> None:
    """A face without a glyph prints a blank or the same box for every missing character: a
    plate labelled with text it does not show. Every face the renderer picks has all 36 (some
    plate faces draw the letter O as the digit 0, as real plates do: the grammar tells them apart)."""
    for path in fonts.FONTS:
        masks = [fonts._glyph(path, ch, 0) for ch in plates.ALPHABET.replace("O", "")]
        assert all((m > 127).sum() > 20 for m in masks), path
        shapes = {cv2.resize(m, (24, 32)).tobytes() for m in masks}
        assert len(shapes) == len(masks), path


def test_typefaces_choose_the_pool_and_hsrp_plates_keep_to_hsrp_like_faces() -> None:
    rng = np.random.default_rng(0)

    def picked(hsrp: bool, typefaces: str) -> set[str]:
        return {Path(fonts.pick_font(rng, hsrp, typefaces) or "").name for _ in range(400)}

    assert picked(True, "standard") <= set(fonts._HSRP_FONT_WEIGHTS) | {""}
    assert picked(True, "more") <= set(fonts._HSRP_FONT_WEIGHTS) | set(fonts._MORE_HSRP_FONT_WEIGHTS) | {""}
    assert not picked(False, "standard") & set(fonts._MORE_FONT_WEIGHTS)
    if fonts.face_count("more") > fonts.face_count("standard"):
        assert picked(False, "more") & set(fonts._MORE_FONT_WEIGHTS)
    with pytest.raises(ValueError, match="'standard' or 'more'"):
        fonts.pick_font(rng, False, "all")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'standard' or 'more'"):
        fonts.face_count("all")  # type: ignore[arg-type]


def test_the_setup_script_installs_the_extra_typefaces() -> None:
    """Training renders plates in the faces of these packages; the developer setup installs them."""
    script = (Path(__file__).parents[1] / "scripts" / "setup-dev.sh").read_text()
    assert [p for p in fonts.MORE_FONT_PACKAGES if p not in script] == []


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_tesseract_reads_what_the_renderer_claims(tmp_path: Path) -> None:
    """An independent OCR reads the clean one-line plates: the printed text is the label."""
    rng = np.random.default_rng(6)
    correct = 0
    for i in range(10):
        plate = render.render_plate(None, rng, layout="one", style=CLEAN)
        path = tmp_path / f"{i}.png"
        cv2.imwrite(str(path), plate.image)
        read = subprocess.run(
            ["tesseract", str(path), "-", "--psm", "7", "-c", "tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout
        correct += plates.normalise(read) == plate.text
    assert correct >= 8


# --- degradations ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plate_image() -> np.ndarray:
    return render.render_plate("MH12DE1433", np.random.default_rng(0), layout="one").image


def test_degrade_strength_zero_is_identity(plate_image: np.ndarray) -> None:
    out = degrade.degrade(plate_image, np.random.default_rng(0), strength=0.0)
    assert np.array_equal(out, plate_image) and out is not plate_image


def test_degrade_is_deterministic_and_keeps_shape(plate_image: np.ndarray) -> None:
    before = plate_image.copy()
    a = degrade.degrade(plate_image, np.random.default_rng(9))
    b = degrade.degrade(plate_image, np.random.default_rng(9))
    assert np.array_equal(a, b)
    assert a.shape == plate_image.shape and a.dtype == np.uint8
    assert np.array_equal(plate_image, before)  # the input is not modified


def test_degrade_changes_images_more_with_strength(plate_image: np.ndarray) -> None:
    def mean_change(strength: float) -> float:
        rng = np.random.default_rng(10)
        changes = [np.abs(degrade.degrade(plate_image, rng, strength=strength).astype(float) - plate_image).mean()
                   for _ in range(30)]
        return float(np.mean(changes))

    weak, strong = mean_change(0.3), mean_change(1.0)
    assert 0 < weak < strong


def _best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 12) -> int:
    a = (a - a.mean()) / (a.std() + 1e-6)
    b = (b - b.mean()) / (b.std() + 1e-6)
    scores = [np.dot(a[max(0, k) : len(a) + min(0, k)], b[max(0, -k) : len(b) + min(0, -k)])
              for k in range(-max_lag, max_lag + 1)]
    return int(np.argmax(scores)) - max_lag


def test_degrade_without_warp_keeps_geometry(plate_image: np.ndarray) -> None:
    """warp=False: blur and light change, but the characters stay where they were
    (the column and row ink profiles line up without a shift)."""
    rng = np.random.default_rng(11)
    gray = cv2.cvtColor(plate_image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    for _ in range(10):
        out = cv2.cvtColor(degrade.degrade(plate_image, rng, warp=False), cv2.COLOR_BGR2GRAY).astype(np.float32)
        assert abs(_best_lag(gray.mean(axis=0), out.mean(axis=0))) <= 1
        assert abs(_best_lag(gray.mean(axis=1), out.mean(axis=1))) <= 1


@pytest.mark.parametrize(
    ("image", "strength", "message"),
    [
        (np.zeros((10, 10), np.uint8), 1.0, "BGR uint8"),
        (np.zeros((10, 10, 3), np.float32), 1.0, "BGR uint8"),
        (np.zeros((10, 10, 3), np.uint8), 3.0, "strength"),
    ],
)
def test_degrade_rejects_bad_input(image: np.ndarray, strength: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        degrade.degrade(image, np.random.default_rng(0), strength=strength)


# --- pasting into photos --------------------------------------------------------------------


def _photo(value: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(rng.normal(value, 10, (480, 640, 3)), 0, 255).astype(np.uint8)


def _yellow_plate() -> np.ndarray:
    style = render.PlateStyle("yellow", (20, 200, 245), (25, 25, 25), hsrp=False, border="none")
    return render.render_plate("KA01AB1234", np.random.default_rng(0), layout="one", style=style).image


QUADS = [
    np.float32([[200, 300], [420, 310], [418, 362], [198, 350]]),  # keystoned
    np.float32([[100, 100], [300, 100], [300, 150], [100, 150]]),
    np.float32([[600, 400], [720, 405], [718, 440], [598, 436]]),  # partly outside the image
]


@pytest.mark.parametrize("quad", QUADS)
def test_warp_plate_into_returns_a_box_covering_the_quad(quad: np.ndarray) -> None:
    photo = _photo()
    out, box = paste.warp_plate_into(photo, _yellow_plate(), quad, rng=np.random.default_rng(0))
    x1, y1, x2, y2 = box
    h, w = photo.shape[:2]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    inside = quad[(quad[:, 0] <= w) & (quad[:, 1] <= h)]
    assert np.all(inside >= [x1, y1]) and np.all(inside <= [x2, y2])
    # Nothing outside the box changed; the plate's yellow shows at the quad's centre.
    outside = np.ones((h, w), bool)
    outside[int(y1) : int(y2), int(x1) : int(x2)] = False
    assert np.array_equal(out[outside], photo[outside])
    cx, cy = np.clip(quad.mean(axis=0).astype(int), 0, [w - 1, h - 1])
    b, g, r = out[max(0, cy - 20) : cy + 20, max(0, cx - 40) : cx + 40].reshape(-1, 3).mean(axis=0)
    assert r > b + 30 and g > b + 20


def test_warp_plate_into_accepts_a_box_and_leaves_the_input_alone() -> None:
    photo = _photo()
    before = photo.copy()
    out, box = paste.warp_plate_into(photo, _yellow_plate(), np.float32([100, 100, 320, 150]))
    assert box == (100.0, 100.0, 320.0, 150.0)
    assert np.array_equal(photo, before) and not np.array_equal(out, photo)


def test_warp_plate_into_matches_the_light_of_the_region() -> None:
    """Pasted into a dark photo, the plate comes out darker than pasted into a bright one."""
    plate = _yellow_plate()
    quad = QUADS[1]
    dark, _ = paste.warp_plate_into(_photo(40), plate, quad)
    bright, _ = paste.warp_plate_into(_photo(230), plate, quad)
    region = (slice(110, 140), slice(110, 290))
    assert dark[region].mean() < 0.6 * bright[region].mean()


def test_warp_plate_into_rejects_a_quad_outside_the_image() -> None:
    with pytest.raises(ValueError, match="outside"):
        paste.warp_plate_into(_photo(), _yellow_plate(), np.float32([700, 500, 800, 540]))


@pytest.mark.parametrize("aspect", [4.5, 1.6])
@pytest.mark.parametrize("quad", QUADS[:2])
def test_cover_quad_covers_the_original(quad: np.ndarray, aspect: float) -> None:
    cover = paste.cover_quad(quad, aspect, margin=0.05)
    contour = cover.reshape(-1, 1, 2)
    for point in quad:
        assert cv2.pointPolygonTest(contour, (float(point[0]), float(point[1])), False) > 0
    top = np.linalg.norm(cover[1] - cover[0])
    side = np.linalg.norm(cover[3] - cover[0])
    if np.allclose(quad[0], [100, 100]):  # an axis-aligned box keeps exact proportions
        assert top / side == pytest.approx(aspect, rel=1e-3)


# --- generated videos -----------------------------------------------------------------------

from edge_alpr.synth import scenes  # noqa: E402


@pytest.fixture(scope="module")
def small_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, scenes.VideoTruth]:
    path = tmp_path_factory.mktemp("video") / "scene.mp4"
    truth = scenes.make_video(path, seed=3, n_vehicles=4, size=(640, 360), fps=10, seconds_per_vehicle=2.0)
    return path, truth


def test_video_reopens_with_the_right_frames_and_size(small_video) -> None:
    path, truth = small_video
    frames = read_frames(path)
    assert len(frames) == truth.frames
    assert {f.shape for f in frames} == {(360, 640, 3)}
    assert truth.size == (640, 360) and truth.fps == 10 and truth.video == "scene.mp4"


def test_truth_boxes_lie_in_the_frame_and_plates_are_valid(small_video) -> None:
    _, truth = small_video
    assert len(truth.vehicles) == 4
    for vehicle in truth.vehicles:
        assert plates.is_valid(vehicle.plate)
        assert vehicle.layout == ("one" if vehicle.kind == "car" else "two")
        assert vehicle.first_frame == min(vehicle.boxes) and vehicle.last_frame == max(vehicle.boxes)
        for frame, (x1, y1, x2, y2) in vehicle.boxes.items():
            assert 0 <= frame < truth.frames
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360


def test_plates_approach_the_camera(small_video) -> None:
    """Plate boxes grow through a pass, from far (small) to near (about 3.5x wider)."""
    _, truth = small_video
    for vehicle in truth.vehicles:
        widths = [b[2] - b[0] for _, b in sorted(vehicle.boxes.items())]
        assert all(b >= a for a, b in zip(widths, widths[1:]))
        if vehicle.kind == "car":  # 60 -> 220 px at 1280 wide, half that here
            assert widths[0] == pytest.approx(30, abs=4) and widths[-1] > 95


def test_truth_boxes_show_the_plate(small_video) -> None:
    """Inside a truth box the frame has the dense vertical strokes of characters, much more
    than in the ring of vehicle body around it: the box sits on the plate."""
    path, truth = small_video
    frames = read_frames(path)
    for vehicle in truth.vehicles:
        frame_index, box = max(vehicle.boxes.items(), key=lambda fb: fb[1][2] - fb[1][0])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        gray = cv2.cvtColor(frames[frame_index], cv2.COLOR_BGR2GRAY).astype(np.float32)
        strokes = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0))
        pad = (y2 - y1) // 2
        ring = np.zeros(gray.shape, bool)
        ring[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad] = True
        ring[y1:y2, x1:x2] = False
        inside = strokes[y1 + 1 : y2 - 1, x1 + 1 : x2 - 1].mean()
        assert inside > 2 * strokes[ring].mean(), vehicle.plate


def test_empty_road_between_passes(small_video) -> None:
    """Frames before the first vehicle and after the last show no plate, for motion gating."""
    _, truth = small_video
    with_plates = set().union(*(v.boxes for v in truth.vehicles))
    assert 0 not in with_plates and truth.frames - 1 not in with_plates
    assert len(with_plates) < truth.frames


def test_same_seed_same_video(tmp_path: Path) -> None:
    kwargs = dict(seed=5, n_vehicles=2, size=(320, 180), fps=8, seconds_per_vehicle=1.5)
    a = scenes.make_video(tmp_path / "a.mp4", **kwargs)
    b = scenes.make_video(tmp_path / "b.mp4", **kwargs)
    assert a.to_json() | {"video": ""} == b.to_json() | {"video": ""}
    frames_a, frames_b = read_frames(tmp_path / "a.mp4"), read_frames(tmp_path / "b.mp4")
    assert all(np.array_equal(x, y) for x, y in zip(frames_a, frames_b))
    c = scenes.make_video(tmp_path / "c.mp4", **{**kwargs, "seed": 6})
    assert [v.plate for v in c.vehicles] != [v.plate for v in a.vehicles]


def test_given_plates_are_used_in_order(tmp_path: Path) -> None:
    wanted = ["KA01AB1234", "22BH0042ZZ", "DL3CAB0007"]
    truth = scenes.make_video(tmp_path / "v.mp4", plates=wanted, size=(320, 180), fps=8, seconds_per_vehicle=1.5)
    assert [v.plate for v in truth.vehicles] == wanted


def test_truth_json_round_trip(small_video, tmp_path: Path) -> None:
    _, truth = small_video
    truth.save(tmp_path / "t.json")
    loaded = scenes.VideoTruth.load(tmp_path / "t.json")
    assert loaded.to_json() == truth.to_json()
    data = loaded.to_json()
    assert set(data) == {"video", "fps", "size", "frames", "vehicles"}
    assert set(data["vehicles"][0]) >= {"plate", "layout", "first_frame", "last_frame", "boxes"}


def test_truth_load_names_the_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"video": "x"}')
    with pytest.raises(ValueError, match="bad.json"):
        scenes.VideoTruth.load(bad)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"size": (100, 50)}, "size"), ({"fps": 0}, "fps"), ({"plates": []}, "at least one"), ({"plates": ["KA01#1"]}, "letters")],
)
def test_make_video_rejects_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scenes.make_video(tmp_path / "v.mp4", **kwargs)


def test_cli_writes_video_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "demo.mp4"
    code = scenes.main([str(out), "--seed", "2", "--vehicles", "2", "--size", "320x180", "--fps", "8"])
    assert code == 0
    truth = scenes.VideoTruth.load(out.with_suffix(".json"))
    assert len(read_frames(out)) == truth.frames and len(truth.vehicles) == 2


def test_cli_rejects_a_bad_size(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        scenes.main(["x.mp4", "--size", "big"])
    assert "1280x720" in capsys.readouterr().err


def test_a_scene_of_fixed_vehicle_kinds_has_their_plate_layouts(tmp_path):
    truth = scenes.make_video(tmp_path / "v.mp4", seed=2, n_vehicles=3, size=(320, 180), fps=8,
                              seconds_per_vehicle=1.0, kinds=["car", "motorcycle"])
    assert [(v.kind, v.layout) for v in truth.vehicles] == [("car", "one"), ("motorcycle", "two"), ("car", "one")]
    with pytest.raises(ValueError, match="unknown vehicle kinds \\['bus'\\]"):
        scenes.make_video(tmp_path / "w.mp4", kinds=["bus"])


# --- two-line furniture ---------------------------------------------------------------------


def _two_line(**options) -> render.RenderedPlate:
    style = render.PlateStyle(**{**CLEAN.__dict__, "border": "none", **options})
    return render.render_plate("KA01AB1234", np.random.default_rng(12), layout="two", style=style)


@pytest.mark.parametrize("divider", ["ink", "red"])
def test_a_divider_is_painted_between_the_two_ink_bands(divider: str) -> None:
    plain, lined = _two_line(), _two_line(divider=divider)
    assert lined.text == "KA01AB1234"
    ink = (cv2.cvtColor(plain.image, cv2.COLOR_BGR2GRAY) < 100).astype(np.float32)
    (_, top_end), (bottom_start, _) = _ink_bands(ink)
    gap = slice(top_end + 1, bottom_start)
    changed = np.abs(lined.image.astype(int) - plain.image.astype(int)).sum(axis=2) > 60
    assert changed[gap].mean(axis=1).max() > 0.4  # a row across most of the plate in the gap
    assert changed[: top_end + 1].mean() < 0.01 and changed[bottom_start:].mean() < 0.01
    if divider == "red":
        b, g, r = lined.image[gap][changed[gap]].mean(axis=0)
        assert r > b + 80 and r > g + 80


def test_a_holder_puts_a_dark_surround_and_a_red_lamp_round_the_plate() -> None:
    plain, held = _two_line(), _two_line(holder=True)
    assert held.text == plain.text
    h, w = plain.image.shape[:2]
    assert held.image.shape[0] > h * 1.3 and held.image.shape[1] > w
    grey = cv2.cvtColor(held.image, cv2.COLOR_BGR2GRAY)
    assert np.median(grey[-2:]) < 80 and np.median(grey[:, :2]) < 80  # dark plastic below and beside
    top = held.image[: int(h * 0.2)].reshape(-1, 3).astype(int)
    assert np.mean((top[:, 2] > 120) & (top[:, 2] > top[:, 0] + 60)) > 0.05  # the tail lamp above
    # The plate inside is the same plate, pasted unchanged below the lamp.
    assert cv2.minMaxLoc(cv2.matchTemplate(held.image, plain.image, cv2.TM_SQDIFF))[0] == 0


def test_one_line_plates_ignore_two_line_furniture() -> None:
    style = render.PlateStyle(**{**CLEAN.__dict__, "divider": "red", "holder": True})
    a = render.render_plate("KA01AB1234", np.random.default_rng(3), layout="one", style=style)
    b = render.render_plate("KA01AB1234", np.random.default_rng(3), layout="one", style=CLEAN)
    assert np.array_equal(a.image, b.image)


def test_random_styles_draw_the_furniture_on_older_plates_only() -> None:
    rng = np.random.default_rng(13)
    styles = [render.random_style(rng) for _ in range(2000)]
    assert all(s.divider == "none" and not s.holder for s in styles if s.hsrp)
    older = [s for s in styles if not s.hsrp]
    assert 0.08 < np.mean([s.divider != "none" for s in older]) < 0.25
    assert 0.15 < np.mean([s.holder for s in older]) < 0.4


def test_a_bad_divider_is_rejected() -> None:
    with pytest.raises(ValueError, match="divider must be none/ink/red"):
        _two_line(divider="blue")


@pytest.mark.parametrize("lettering", ["painted", "stencil"])
def test_lettering_keeps_the_band_and_most_of_the_ink(lettering):
    from edge_alpr.synth import fonts
    from edge_alpr.synth.lettering import shape_glyph

    rng = np.random.default_rng(2)
    glyph = fonts._glyph(fonts.FONTS[0] if fonts.FONTS else None, "8", 2)
    for _ in range(20):
        shaped = shape_glyph(glyph, lettering, rng)
        assert shaped.shape[0] == glyph.shape[0]  # every character of a line shares one band
        ink, before = float((shaped > 127).sum()), float((glyph > 127).sum())
        assert 0.6 * before < ink < 1.6 * before
        assert not np.array_equal(shaped, glyph)

"""``edge-alpr eval-compare``: two evaluations paired plate by plate, and the sign test on the
plates they disagree on. Reports are written as the eval commands write them (``--json``)."""
from __future__ import annotations

import json

import pytest

from edge_alpr import cli
from edge_alpr.evaluation import compare


def _stills(path, reads: dict[str, str | None], mode: str = "stills"):
    plates = [{"source": f"/data/{truth}.jpg", "box": [1.0, 2.0, 30.0, 12.0], "truth": truth, "read": read,
               "layout": "two" if truth.startswith("TN") else "one"} for truth, read in reads.items()]
    path.write_text(json.dumps({"mode": mode, "plates": plates}))
    return path


@pytest.mark.parametrize(("gained", "lost", "expected"), [
    (0, 0, 1.0),
    (3, 0, 0.25),  # 2 * (1/2)^3
    (5, 1, 0.21875),  # 2 * (1 + 6) / 64
    (9, 0, 2 / 512),
    (4, 4, 1.0),
])
def test_sign_test_worked_by_hand(gained, lost, expected):
    assert compare.sign_test(gained, lost) == pytest.approx(expected)
    assert compare.sign_test(lost, gained) == pytest.approx(expected)


def test_stills_runs_are_paired_by_photo_and_box_and_the_disagreements_listed(tmp_path, capsys):
    base = _stills(tmp_path / "base.json", {"KA01AB1234": "KA01AB1234", "TN07CY6229": "TN07Y6229",
                                            "MH12DE1433": None, "DL3CAB0001": "DL3CAB0001"})
    new = _stills(tmp_path / "new.json", {"KA01AB1234": "KA01AB1234", "TN07CY6229": "TN07CY6229",
                                          "MH12DE1433": "MH12DE1433", "DL3CAB0001": "DL3CAB0007",
                                          "OD02X5353": "OD02X5353"})  # a plate the base run did not select
    assert compare.main([str(base), str(new), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["paired"], out["only_one_run"], out["base_right"], out["new_right"]) == (4, 1, 2, 3)
    assert [(c["truth"], c["base"], c["new"]) for c in out["gained"]] == [
        ("TN07CY6229", "TN07Y6229", "TN07CY6229"), ("MH12DE1433", "", "MH12DE1433")]
    assert [(c["truth"], c["layout"]) for c in out["lost"]] == [("DL3CAB0001", "one")]
    assert out["p_value"] == pytest.approx(1.0)  # 2 gained, 1 lost: 2 * (1 + 3) / 8 > 1

    assert compare.main([str(base), str(new)]) == 0
    table = capsys.readouterr().out
    assert "right in the new run only: 2" in table and "not told apart" in table


def test_video_runs_pair_vehicles_and_a_clear_gain_is_called_different(tmp_path, capsys):
    def video(path, statuses):
        path.write_text(json.dumps({"per_vehicle": [
            {"plate": f"KA01AB{i:04d}", "layout": "one", "first_frame": 10 * i, "last_frame": 10 * i + 5,
             "status": s, "events": [f"KA01AB{i:04d}"] if s == "correct" else []} for i, s in enumerate(statuses)]}))
        return path

    base = video(tmp_path / "base.json", ["missed"] * 7 + ["correct"] * 3)
    new = video(tmp_path / "new.json", ["correct"] * 10)
    assert cli.main(["eval-compare", str(base), str(new)]) == 0  # as an installer types it
    table = capsys.readouterr().out
    assert "p = 0.016 (different at 0.05)" in table  # 7 gained, none lost: 2 / 128


def test_runs_of_different_commands_or_plates_are_refused_with_the_files_named(tmp_path, capsys):
    stills = _stills(tmp_path / "stills.json", {"KA01AB1234": "KA01AB1234"})
    crops = _stills(tmp_path / "crops.json", {"KA01AB1234": "KA01AB1234"}, mode="reader-only")
    assert compare.main([str(stills), str(crops)]) == 5
    assert "stills.json is an eval stills report" in capsys.readouterr().err

    other = _stills(tmp_path / "other.json", {"MH12DE1433": "MH12DE1433"})
    assert compare.main([str(stills), str(other)]) == 5
    assert "share no plate" in capsys.readouterr().err

    table = tmp_path / "table.txt"
    table.write_text("plate text  plates  found\n")
    assert compare.main([str(stills), str(table)]) == 5
    assert f"{table}: not a JSON report" in capsys.readouterr().err

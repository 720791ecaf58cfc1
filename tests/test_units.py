"""Several cameras on one machine: the template unit edge-alpr@.service and its instance paths,
``install.sh --instance``, and that two instances never share a spool, a plate log or crops."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_alpr.config import AppConfig, load_config

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "systemd" / "edge-alpr@.service"
SINGLE = REPO / "systemd" / "edge-alpr.service"
INSTANCE_LINES = {"Description", "ExecStart", "StateDirectory", "LogsDirectory", "ReadWritePaths"}


def unit_settings(text: str, instance: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(section, key) -> values, in order (a key may repeat), with %i replaced by ``instance``."""
    settings: dict[tuple[str, str], list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        if instance is not None:
            value = value.replace("%i", instance)
        settings.setdefault((section, key.strip()), []).append(value.strip())
    return settings


def paths_of(config: AppConfig) -> dict[str, Path]:
    outputs = config.outputs
    return {"spool": outputs.spool.path, "plate log": outputs.plate_log.directory,
            "crops": outputs.crops.directory, "review": Path(config.review.directory)}


@pytest.mark.parametrize("name", ["gate-north", "cam_2"])
def test_each_instance_reads_its_own_config_and_writes_only_its_own_folders(name):
    unit = unit_settings(TEMPLATE.read_text(), name)
    service = {key: values for (section, key), values in unit.items() if section == "Service"}
    assert service["ExecStart"] == [f"/opt/edge-alpr/venv/bin/edge-alpr run --config /etc/edge-alpr/{name}.yaml"]
    assert service["StateDirectory"] == [f"edge-alpr/{name}"]
    assert service["LogsDirectory"] == [f"edge-alpr/{name}"]
    assert service["ReadWritePaths"] == [f"-/var/lib/edge-alpr/{name} -/var/log/edge-alpr/{name}"]


def test_the_template_differs_from_the_one_camera_unit_only_in_the_instance_lines():
    template, single = unit_settings(TEMPLATE.read_text()), unit_settings(SINGLE.read_text())
    differing = {key for key in template.keys() | single.keys() if template.get(key) != single.get(key)}
    assert {key for _, key in differing} == INSTANCE_LINES
    assert all("%i" in value for key in differing for value in template[key])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_an_instance_of_the_template(tmp_path):
    # verify also checks that ExecStart's program exists: point it at this checkout's entry point.
    entry = Path(sys.executable).with_name("edge-alpr")
    if not entry.exists():
        pytest.skip(f"{entry} is not installed")
    text = TEMPLATE.read_text().replace("/opt/edge-alpr/venv/bin/edge-alpr", str(entry))
    (tmp_path / "edge-alpr@.service").write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "edge-alpr@gate-north.service")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys and bad values are warnings here


def instance_config(tmp_path: Path, name: str) -> Path:
    """The config install.sh writes for --instance NAME (its own function, sourced)."""
    text = subprocess.run(["bash", "-c", 'source "$1"; instance_config "$2"', "test", str(REPO / "install.sh"), name],
                          capture_output=True, text=True, check=True, timeout=30).stdout
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_two_instance_configs_share_no_spool_log_crops_or_review_folder(tmp_path, monkeypatch):
    for variable in ("STATE_DIRECTORY", "LOGS_DIRECTORY"):
        monkeypatch.delenv(variable, raising=False)
    north, south = (load_config(instance_config(tmp_path, name)) for name in ("gate-north", "gate-south"))
    assert (north.camera_id, south.camera_id) == ("gate-north", "gate-south")
    north_paths, south_paths, single = paths_of(north), paths_of(south), paths_of(AppConfig())
    for what in north_paths:
        assert len({north_paths[what], south_paths[what], single[what]}) == 3, what
    assert north_paths["spool"] == Path("/var/lib/edge-alpr/gate-north/spool.sqlite3")
    assert north_paths["plate log"] == Path("/var/log/edge-alpr/gate-north")
    # Everything else is the installed default config's.
    default = load_config(REPO / "config" / "default.yaml")
    others = {"camera_id", "outputs", "review"}
    assert north.model_dump(exclude=others) == default.model_dump(exclude=others)


def test_unset_paths_follow_the_folders_systemd_gives_each_instance(monkeypatch):
    found = []
    for name in ("gate-north", "gate-south"):
        monkeypatch.setenv("STATE_DIRECTORY", f"/var/lib/edge-alpr/{name}")
        monkeypatch.setenv("LOGS_DIRECTORY", f"/var/log/edge-alpr/{name}")
        found.append(paths_of(AppConfig()))
    for what in found[0]:
        assert found[0][what] != found[1][what], what
        assert "gate-north" in str(found[0][what])


def run_install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / "install.sh"), "--dry-run", *args], capture_output=True, text=True, timeout=120)


def test_install_instance_installs_the_template_and_enables_that_camera():
    result = run_install("--instance", "gate-north")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "/systemd/edge-alpr@.service /etc/systemd/system/edge-alpr@.service" in out
    assert "systemctl enable" in out and "edge-alpr@gate-north" in out
    assert "/etc/edge-alpr/gate-north.yaml" in out
    assert "/var/lib/edge-alpr/gate-north /var/log/edge-alpr/gate-north" in out
    assert "/etc/edge-alpr/config.yaml" not in out


@pytest.mark.parametrize(("args", "message"), [
    (("--instance", "../etc"), "use only letters, digits"),
    (("--instance",), "needs a name"),
    (("--instance", "config"), "taken by the one-camera"),
])
def test_a_bad_instance_name_is_refused_before_anything_is_done(args, message):
    result = run_install(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "+ " not in result.stdout


EXAMPLE_LISTS = sorted((REPO / "config" / "lists").glob("*.csv"))


def install_lists(dest: Path) -> subprocess.CompletedProcess:
    """install.sh's install_lists into ``dest``, for real, owned by whoever runs the tests."""
    owner = subprocess.run(["bash", "-c", 'echo "$(id -un):$(id -gn)"'], capture_output=True, text=True,
                           check=True).stdout.strip()
    return subprocess.run(["bash", "-c", 'source "$1"; install_lists "$2" "$3"', "test", str(REPO / "install.sh"),
                           str(dest), owner], capture_output=True, text=True, check=True, timeout=30)


def test_the_example_watchlists_are_copied_once_and_never_overwritten(tmp_path):
    assert {path.name for path in EXAMPLE_LISTS} >= {"hotlist.csv", "residents.csv", "staff.csv"}
    dest = tmp_path / "lists"
    install_lists(dest)
    for example in EXAMPLE_LISTS:
        copied = dest / example.name
        assert copied.read_bytes() == example.read_bytes()
        assert copied.stat().st_mode & 0o777 == 0o640  # plates are personal data
    # The site edits one list and deletes another; the next install (an upgrade) keeps the edit
    # and puts back only the missing example.
    edited, deleted = dest / "residents.csv", dest / "staff.csv"
    edited.write_text("plate,label\nKA09ZZ0001,Flat 40\n")
    deleted.unlink()
    result = install_lists(dest)
    assert edited.read_text() == "plate,label\nKA09ZZ0001,Flat 40\n"
    assert f"keeping the existing list {edited}" in result.stdout
    assert deleted.read_bytes() == (REPO / "config" / "lists" / "staff.csv").read_bytes()


@pytest.mark.parametrize("args", [(), ("--instance", "gate-north")])
def test_install_puts_the_example_watchlists_where_the_example_configs_read_them(args):
    out = run_install(*args).stdout
    access_control = (REPO / "config" / "access-control.yaml").read_text()
    for example in EXAMPLE_LISTS:
        target = f"/etc/edge-alpr/lists/{example.name}"
        assert target in access_control
        assert (f"{example} {target}" in out) != (f"keeping the existing list {target}" in out), out


@pytest.mark.parametrize("args", [(), ("--instance", "gate-north")])
def test_uninstall_keeps_the_watchlists_as_it_keeps_the_config(args):
    result = run_install("--uninstall", *args)
    assert result.returncode == 0, result.stderr
    assert "/etc/edge-alpr/lists" in result.stdout
    assert not [line for line in result.stdout.splitlines() if line.startswith("+ rm") and "/etc/edge-alpr" in line]

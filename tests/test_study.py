"""The gate study's judging (bench.gate.study) on synthetic recorded processes:
the measuring is the slow part, the counting is what this checks."""
from __future__ import annotations

import json

from bench.gate.compare import Settings
from bench.gate.study import judge as judging
from bench.gate.study.cli import table
from bench.gate.study.patches import PATCHES, Patch
from markdown_tables import parse
from synthetic_runs import MODULE, make_run

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6, "builtin-rows5": 6e-6}
SLOWED = {"einsum-rows500": 1.25}  # the patch's real effect


def write_group(folder, tree, index, seed, factors=None):
    path = folder / tree / f"group-{index:03d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_run(SUITE, seed=seed, factors=factors)))


def study_folder(tmp_path, groups=12):
    for index in range(8):  # the patch's long run
        write_group(tmp_path / "truth" / "slow", "base", index, 1000 + 2 * index)
        write_group(tmp_path / "truth" / "slow", "slow", index, 1001 + 2 * index, SLOWED)
    log = []
    for index in range(groups):
        for offset, (tree, factors) in enumerate((("base", None), ("same", None),
                                                  ("slow", SLOWED))):
            write_group(tmp_path / "main", tree, index, 10 * index + offset, factors)
        log.append({"group": index, "noisy": index % 2 == 1, "order": ["base", "same", "slow"],
                    "seconds": {"base": 5.0, "same": 5.0, "slow": 5.0}})
    (tmp_path / "main" / "groups.json").write_text(json.dumps(log))
    return tmp_path


def test_every_gate_is_counted_on_the_same_processes(tmp_path):
    result = judging.judge(study_folder(tmp_path), blocks=4, confirm=2, comparisons=20, seed=1)
    assert result["effects"]["slow"][MODULE + "test_matmul[einsum-rows500]"][0] > 1.2
    for condition in ("quiet", "noisy neighbour"):
        data = result["conditions"][condition]
        assert data["groups"] == 6
        ours = data["tallies"]["ours"]
        assert (ours.aa_alarm.hits, ours.aa_alarm.total) == (0, 20)
        assert (ours.detect["slow"].hits, ours.detect["slow"].total) == (20, 20)
        assert ours.patch_alarm["slow"].hits == 0
        assert all(4 * 10.0 <= s <= 6 * 10.0 for s in ours.seconds)  # blocks used x 2 processes
        for single in ("previous", "stock"):
            tally = data["tallies"][single]
            assert tally.aa_alarm.total == 6 and tally.detect["slow"].total == 6
    rows = parse(table(result, Settings(), blocks=4))
    gates = [r["gate"] for r in rows]
    assert gates[0].startswith("ours: `python -m bench ab` (4 blocks + up to 8 confirming")
    assert gates[1:] == ["ours", "previous single-run gate (1 process a side, run noise 1.5 %)",
                         "previous single-run gate",
                         "stock `--benchmark-compare-fail=mean:10%` (1 process a side)", "stock"]
    ours = rows[0]
    assert ours["condition"] == "quiet"
    assert ours["false alarms per A/A comparison (any of 3 benchmarks)"].startswith("0.0 % (0/20)")
    [detects] = [h for h in ours if h.startswith("detects `slow`")]
    assert ours[detects].startswith("100.0 % (20/20)")
    assert ours["false alarms in patched comparisons (unchanged benchmarks)"].startswith("0.0 %")
    assert ours["wall time per comparison"].endswith("min")


def test_a_patch_that_no_longer_fits_the_code_fails_loudly(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    patch = Patch("p", "what", (("m.py", "x = 2", "x = 3"),))
    try:
        patch.apply(tmp_path)
    except ValueError as error:
        assert "holds 0 copies" in str(error) and "x = 2" in str(error)
    else:
        raise AssertionError("a patch that matches nothing was applied")
    assert {p.name for p in PATCHES} >= {"copy_per_row", "contract_twice"}


def test_the_study_patches_fit_the_code_as_it_is(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for patch in PATCHES:
        tree = tmp_path / patch.name
        for name, _, _ in patch.edits:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text((root / name).read_text())
        patch.apply(tree)
        for name, _old, new in patch.edits:
            assert new in (tree / name).read_text()

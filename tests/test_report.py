"""The ladder report reads every number from the saved run."""
from __future__ import annotations

import json

import pytest

from bench import report


def entry(kernel: str, rows: int, median: float) -> dict:
    name = "test_read_x" if kernel == "read_x" else "test_matmul"
    flops, size = 2 * rows * 784 * 10, rows * 784 * 4
    return {"name": f"{name}[{kernel}-rows{rows}]", "stats": {"median": median},
            "extra_info": {"kernel": kernel, "rows": rows, "flops": flops, "bytes": size,
                           "gflops_per_s": flops / median / 1e9,
                           "gbytes_per_s": size / median / 1e9}}


@pytest.fixture
def run():
    return {"datetime": "2026-11-29T00:00:00", "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
            "benchmarks": [entry("three_loops", 5, 0.3), entry("builtin", 5, 3e-6),
                           entry("einsum", 5, 1.2e-5), entry("read_x", 5, 1e-6),
                           entry("builtin", 50, 6e-6), entry("einsum", 50, 3e-5)]}


def rows_of(markdown: str, heading: str) -> dict[str, list[str]]:
    section = markdown.split(heading, 1)[1].split("###", 1)[0]
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {row[0]: row[1:] for row in cells[1:]}


def test_ladder_ratios_come_from_the_run(run):
    table = rows_of(report.ladder_markdown(run), "x_train[:5]")
    assert table["einsum"] == ["12 µs", f"{78400 / 1.2e-5 / 1e9:.3g}",
                               f"{15680 / 1.2e-5 / 1e9:.3g}", "25,000", "4.00"]
    assert table["three_loops"][3:] == ["1", "100,000"]
    assert table["*one read of x (roofline)*"][:3] == ["1 µs", "", f"{15680 / 1e-6 / 1e9:.3g}"]


def test_three_loops_beyond_its_budget_is_extrapolated_per_row_and_marked(run):
    markdown = report.ladder_markdown(run)
    table = rows_of(markdown, "x_train[:50]")
    # 0.3 s per 5 rows -> 3 s for 50 rows; builtin took 6 µs there.
    assert table["builtin"][3] == "500,000*"
    assert "extrapolated per row" in markdown


def test_report_writes_markdown_and_plot(run, tmp_path):
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(run))
    assert report.main([str(saved), "--out", str(tmp_path / "out")]) == 0
    assert "| einsum | 12 µs" in (tmp_path / "out" / "ladder.md").read_text()
    assert (tmp_path / "out" / "ladder.png").read_bytes()[:4] == b"\x89PNG"


def test_corrupt_or_missing_run_is_a_clear_error(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert report.main([str(broken), "--out", str(tmp_path)]) == 2
    assert "broken.json" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="--benchmark-autosave"):
        report.newest_run(tmp_path / "nothing")

"""Kept runs (`bench keep`), their store, and history.html in a real browser.

Saved runs come from tests/test_history.py's builders (gate-ready runs with raw
samples); stores at scale from tests/synthetic_kept.py, built as kept rows directly.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_history import EINSUM, file_name, series_documents, step

import synthetic_kept
import synthetic_runs
from bench.__main__ import main as bench_main
from bench.history import changes, store
from bench.history.__main__ import main as history_main
from bench.history.analyze import analyze_kept
from bench.history.page import write_page


def saved_folder(folder: Path, documents: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, document in enumerate(documents, start=1):
        (folder / file_name(number, document)).write_text(json.dumps(document))
    return folder


def outputs(out: Path) -> tuple[str, str]:
    return (out / "history.json").read_text(), (out / "history.md").read_text()


@pytest.fixture(scope="module")
def stepped(tmp_path_factory) -> Path:
    """14 saved runs, einsum 10 % slower from the 9th on."""
    return saved_folder(tmp_path_factory.mktemp("saved"), series_documents(14, step(8, 1.10)))


# ---------------------------------------------------------------- kept = saved

def test_kept_runs_give_the_same_history_as_the_saved_runs(stepped, tmp_path, capsys):
    kept = tmp_path / "kept"
    assert bench_main(["keep", str(stepped), "--into", str(kept)]) == 0
    assert "kept 14 run(s)" in capsys.readouterr().out
    assert sorted(p.stem for p in kept.glob("*.parquet")) == sorted(
        p.stem for p in stepped.glob("*.json"))
    assert history_main([str(stepped), "--out", str(tmp_path / "from-saved")]) == 0
    assert history_main([str(kept), "--out", str(tmp_path / "from-kept")]) == 0
    from_saved = outputs(tmp_path / "from-saved")
    assert outputs(tmp_path / "from-kept") == from_saved
    [change] = json.loads(from_saved[0])
    assert change["benchmark"] == EINSUM and change["run"].startswith("0009_")
    # half kept, half saved, and a run given both ways: still the same history
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for path in sorted(kept.glob("*.parquet"))[:8]:
        shutil.copy(path, mixed)
    for path in sorted(stepped.glob("*.json"))[7:]:
        shutil.copy(path, mixed)
    assert history_main([str(mixed), "--out", str(tmp_path / "from-mixed")]) == 0
    assert outputs(tmp_path / "from-mixed") == from_saved


def test_a_kept_full_suite_run_is_at_most_50_kB(tmp_path):
    """61 benchmarks of 200 rounds each, as the main job saves them gate-ready."""
    names = {f"k{i}-rows{rows}": 1e-4 * (i + 1) for i in range(16) for rows in (5, 50, 500, 5000)}
    names = dict(list(names.items())[:61])
    document = synthetic_runs.make_run(names, seed=1, rounds=200)
    saved = tmp_path / "0001_abc_20261201_000000.json"
    saved.write_text(json.dumps(document))
    assert bench_main(["keep", str(saved), "--into", str(tmp_path / "kept")]) == 0
    [kept] = (tmp_path / "kept").glob("*.parquet")
    assert pq.read_table(kept).num_rows == 61
    assert saved.stat().st_size > 20 * kept.stat().st_size
    assert kept.stat().st_size <= 50_000


def test_keep_refuses_a_run_without_samples_and_writes_nothing(stepped, tmp_path, capsys):
    document = series_documents(1)[0]
    for entry in document["benchmarks"]:
        del entry["stats"]["data"]
    bare = tmp_path / file_name(1, document)
    bare.write_text(json.dumps(document))
    good = sorted(stepped.glob("*.json"))[0]
    assert bench_main(["keep", str(good), str(bare), "--into", str(tmp_path / "kept")]) == 2
    assert "--benchmark-save-data" in capsys.readouterr().err
    assert not (tmp_path / "kept").exists()
    assert bench_main(["keep", str(tmp_path / "missing.json"), "--into", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert bench_main(["keep", "--into", str(tmp_path)]) == 2
    assert "--pack" in capsys.readouterr().err
    assert bench_main(["keep", str(good), "--into", str(good)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_an_unreadable_kept_file_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "0001.parquet").write_bytes(b"not parquet")
    assert history_main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: kept runs ") and "0001.parquet" in err
    assert len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- packs and locations

def test_packed_runs_read_as_the_singles_did_even_beside_leftover_singles(stepped, tmp_path):
    kept = tmp_path / "kept"
    assert bench_main(["keep", str(stepped), "--into", str(kept)]) == 0
    assert history_main([str(kept), "--out", str(tmp_path / "singles")]) == 0
    leftover = sorted(kept.glob("*.parquet"))[3]
    spare = tmp_path / leftover.name
    shutil.copy(leftover, spare)
    assert bench_main(["keep", "--into", str(kept), "--pack", "20"]) == 0  # fewer: no pack
    assert len(list(kept.glob("*.parquet"))) == 14
    assert bench_main(["keep", "--into", str(kept), "--pack", "14"]) == 0
    [packed] = kept.glob("*.parquet")
    assert packed.name.startswith(store.PACK_PREFIX) and pq.read_table(packed).num_rows == 14 * 3
    assert history_main([str(kept), "--out", str(tmp_path / "packed")]) == 0
    assert outputs(tmp_path / "packed") == outputs(tmp_path / "singles")
    shutil.copy(spare, kept)  # a pack written, one of its singles not yet removed
    assert history_main([str(kept), "--out", str(tmp_path / "both")]) == 0
    assert outputs(tmp_path / "both") == outputs(tmp_path / "singles")


def test_a_bucket_location_is_read_by_the_same_call(stepped, tmp_path):
    """A folder stands in for the bucket: a file:// URL and a glob go through the same
    DuckDB read_parquet call that s3:// and https:// locations do."""
    bucket = tmp_path / "bucket" / "runs"
    assert bench_main(["keep", str(stepped), "--into", str(bucket)]) == 0
    assert history_main([str(bucket), "--out", str(tmp_path / "folder")]) == 0
    for location in (f"file://{bucket}/*.parquet", f"{bucket}/*.parquet"):
        assert store.is_location(location)
        out = tmp_path / f"url-{len(location)}"
        assert history_main([location, "--out", str(out)]) == 0
        assert outputs(out) == outputs(tmp_path / "folder")
    assert store.is_location("s3://bucket/runs/*.parquet")
    assert store.is_location("https://example.org/runs/0001.parquet")


# ---------------------------------------------------------------- at scale

def test_a_step_in_a_10000_run_series_is_found_exactly():
    rng = np.random.default_rng(7)
    values = rng.normal(0.0, 0.01, 10_000) + np.log(np.where(np.arange(10_000) >= 6_123, 1.08, 1))
    [(boundary, estimate)] = changes.boundaries(values)
    assert boundary == 6_123
    assert estimate.low < 1.08 < estimate.high


def test_a_10000_run_store_of_two_machine_kinds_reports_exactly_the_step(tmp_path):
    """10 000 kept runs (a pack), two kinds alternating, three benchmarks for speed:
    the one injected step, on the first kind, at its run."""
    table = synthetic_kept.kept_table(10_000, step_at=6_000, stepped=1, benchmarks=3)
    pq.write_table(table, tmp_path / "pack-all.parquet")
    history = analyze_kept([str(tmp_path / "pack-all.parquet")])
    assert [len(m.machine.runs) for m in history.machines] == [5_000, 5_000]
    assert [len(s.values) for m in history.machines for s in m.series] == [5_000] * 6
    [change] = history.newest_first()
    assert change.series.name == synthetic_kept.benchmark_names()[1][1]
    assert change.series.machine.fields["cpu"] == synthetic_kept.KINDS[0]
    assert change.point.run.id == "06001"
    assert change.estimate.ratio == pytest.approx(1.10, abs=0.005)


# ---------------------------------------------------------------- the page in a browser

def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: the page is checked in "
                    "headless Chromium (Debian: apt-get install chromium)")
def test_history_html_draws_its_charts_in_headless_chromium(tmp_path):
    """Two machine kinds, a step on one: the page's script draws a chart per group and
    machine, a line per kernel, a ring at the change; the screenshot is not blank."""
    from matplotlib import image

    vm = series_documents(12, step(6, 1.15))
    xeon = series_documents(12, seed=100, cpu="Intel Xeon")
    folder = saved_folder(tmp_path / "runs", [d for pair in zip(vm, xeon) for d in pair])
    assert history_main([str(folder), "--out", str(tmp_path / "out")]) == 0
    page = tmp_path / "out" / "history.html"
    text = page.read_text()
    assert "<script src" not in text and "http" not in text.replace(
        "http://www.w3.org/2000/svg", "")  # nothing fetched
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*browser, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120).stdout
    assert 'data-charts-drawn="2"' in dom
    assert dom.count('data-drawn="3"') == 2
    assert dom.count('class="line"') == 6 and dom.count('class="ring"') == 1
    shot = tmp_path / "page.png"
    subprocess.run([*browser, f"--screenshot={shot}", "--window-size=1000,900",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = image.imread(shot)[..., :3]
    blue = np.all(np.abs(pixels - np.array([0x1f, 0x77, 0xb4]) / 255) < 0.02, axis=-1)
    assert blue.sum() > 200  # the first kernel's line and legend swatch, drawn


HOVER = """<!DOCTYPE html><html><body>
<iframe id="page" src="history.html" width="1000" height="800"></iframe><pre id="out"></pre>
<script>
document.getElementById('page').onload = () => {
  const page = document.getElementById('page').contentDocument;
  const data = JSON.parse(page.getElementById('history-data').textContent);
  const chart = data.charts.find(c => c.series.some(s => s.changes.length));
  const series = chart.series.find(s => s.changes.length);
  const at = series.x[series.changes[0].index], n = data.machines[chart.machine].runs.length - 1;
  const svg = page.getElementById(chart.id), box = svg.getBoundingClientRect();
  const x = 60 + (960 - 60 - 160) * at / n;  // page.py's plot area: L, W - R
  svg.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientY: box.top + 40,
                                                 clientX: box.left + x * box.width / 960}));
  document.getElementById('out').textContent = page.getElementById('tip').textContent;
};
</script></body></html>"""


@pytest.mark.skipif(chromium() is None, reason="no chromium on PATH: the page is checked in "
                    "headless Chromium (Debian: apt-get install chromium)")
def test_hovering_a_change_shows_its_run_commit_ratio_and_interval(tmp_path):
    documents = series_documents(12, step(6, 1.15))
    folder = saved_folder(tmp_path / "runs", documents)
    assert history_main([str(folder), "--out", str(tmp_path / "out")]) == 0
    wrapper = tmp_path / "out" / "hover.html"
    wrapper.write_text(HOVER)
    dom = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          "--allow-file-access-from-files", f"--user-data-dir={tmp_path / 'p'}",
                          "--dump-dom", wrapper.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    tip = dom.split('<pre id="out">')[1].split("</pre>")[0]
    [change] = json.loads((tmp_path / "out" / "history.json").read_text())
    assert f"run {change['run']}" in tip and f"commit {change['commit'][:10]}" in tip
    assert "einsum: ratio " in tip and "[" in tip
    assert f"change {(change['ratio'] - 1) * 100:+.1f} %" in tip


def test_history_html_is_written_without_a_browser(tmp_path):
    table = synthetic_kept.kept_table(40, step_at=20)
    pq.write_table(table, tmp_path / "pack.parquet")
    page = write_page(analyze_kept([str(tmp_path / "pack.parquet")]), tmp_path / "h.html")
    data = page.read_text().split('id="history-data">')[1].split("</script>")[0]
    charts = json.loads(data)["charts"]
    assert len(charts) == 2 * len(synthetic_kept.GROUPS)
    assert sum(len(s["changes"]) for c in charts for s in c["series"]) == 1

"""The ladder report reads every number from the saved run, roofline included."""
from __future__ import annotations

import json

import pytest

from bench import runs
from bench.report import ladder
from bench.report.__main__ import main as report_main
from bench.report.roofline import place, roofs
from bench.runs import Environment, Workload
from markdown_tables import by_first_column

PEAK = 100e9          # flop/s of the synthetic peak product
READ_RATE = 10e9      # bytes/s of one read of x


def entry(suite: str, kernel: str, rows: int, median: float, flops: int, size: int,
          params: dict | None = None, shape: tuple[int, ...] = ()) -> dict:
    summary = f"what {kernel} did when the run was made" if suite != "roofline" else ""
    info = runs.extra_info(Workload(suite, kernel, rows, flops, size, params or {}, shape=shape,
                                    summary=summary),
                           Environment("2.13.0+cpu", 2, "cpu"), "builtin", None)
    tags = "".join(f"-{value}" for value in (params or {}).values())
    name = f"test_{suite}[{kernel}{tags}-rows{rows}]"
    return {"name": name, "fullname": f"tests/benchmarks/x.py::{name}",
            "stats": {"median": median, "mean": median, "min": median}, "extra_info": info}


def matmul(kernel: str, rows: int, median: float, shape: bool = True) -> dict:
    return entry("matmul", kernel, rows, median, 2 * rows * 784 * 10,
                 (rows * 784 + 7840 + rows * 10) * 4, shape=(784, 10) if shape else ())


def read_x(rows: int, rate: float = READ_RATE, reader: str = "torch", threads: int = 2) -> dict:
    size = rows * 784 * 4
    return entry("roofline", "read_x", rows, size / rate, rows * 784, size,
                 {"reader": reader, "threads": threads})


def fma_peak(rate: float, median_rate: float | None = None) -> dict:
    """The microkernel at `rate` in its best round, `median_rate` (default
    the same) in its median one."""
    flops = 2 * 2 * 30 * 16 * 65536
    found = entry("roofline", "fma_peak", 0, flops / rate, flops, 0,
                  {"isa": "avx512f", "lanes": 16, "chains": 30, "threads": 2})
    found["stats"]["median"] = found["stats"]["mean"] = flops / (median_rate or rate)
    return found


def forward(kernel: str, rows: int, median: float) -> dict:
    return entry("forward", kernel, rows, median, 2 * rows * (784 * 50 + 50 * 10), rows * 784 * 4,
                 shape=(784, 50, 10))


def peak() -> dict:
    flops = 2 * 2048 ** 3
    return entry("roofline", "peak_gemm", 2048, flops / PEAK, flops, 3 * 2048 ** 2 * 4)


RUN_DOCUMENT = {"datetime": "2026-11-29T00:00:00",
                "machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}},
                "benchmarks": [matmul("three_loops", 5, 0.3), matmul("builtin", 5, 3e-6),
                               matmul("einsum", 5, 1.2e-5), read_x(5), read_x(50),
                               matmul("builtin", 50, 6e-6), matmul("einsum", 50, 3e-5),
                               forward("builtin", 50, 1e-4), forward("einsum", 50, 2e-4), peak()]}


@pytest.fixture
def run():
    return runs.parse(json.loads(json.dumps(RUN_DOCUMENT)), "run.json")


ROOFLINE = "*roofline: max(bytes / bandwidth, flops / peak)*"


def rows_of(markdown: str, heading: str) -> dict[str, dict[str, str]]:
    """The table under `heading`: kernel -> header -> cell."""
    return by_first_column(markdown.split(heading, 1)[1])


def test_ladder_ratios_and_rates_come_from_the_run(run):
    table = rows_of(ladder.matmul_tables(run), "x_train[:5] @")
    flops, size = 78400, (5 * 784 + 7840 + 50) * 4
    einsum = table["einsum"]
    assert einsum["median"] == "12 µs"
    assert einsum["GFLOP/s"] == f"{flops / 1.2e-5 / 1e9:.3g}"
    assert einsum["GB/s"] == f"{size / 1.2e-5 / 1e9:.3g}"
    assert einsum["x faster than three_loops"] == "25,000"
    assert einsum["x slower than builtin"] == "4.00"
    assert table["three_loops"]["x faster than three_loops"] == "1"
    assert table["three_loops"]["x slower than builtin"] == "100,000"


def test_titles_come_from_the_shapes_the_run_recorded(run):
    assert "#### x_train[:5] @ weights (784 x 10)" in ladder.matmul_tables(run)
    assert "#### forward 784 -> 50 -> 10 on x_train[:50]" in ladder.forward_tables(run)
    older = runs.parse({"benchmarks": [matmul("builtin", 5, 3e-6, shape=False)]}, "old.json")
    assert "#### x_train[:5] @ weights\n" in ladder.matmul_tables(older)


def test_kernel_descriptions_come_from_the_run_else_from_the_registry(run):
    from matmul import KERNELS

    assert ladder.kernel_summaries(run)["einsum"] == "what einsum did when the run was made"
    older = json.loads(json.dumps({"benchmarks": [matmul("builtin", 5, 3e-6)]}))
    del older["benchmarks"][0]["extra_info"]["summary"]
    described = ladder.kernel_summaries(runs.parse(older, "old.json"))
    assert described == {"builtin": KERNELS["builtin"].summary}


def test_the_roofline_row_has_the_tables_columns(run):
    table = rows_of(ladder.matmul_tables(run), "x_train[:5] @")
    roof = table[ROOFLINE]
    assert roof.keys() == table["einsum"].keys()
    assert roof["% of roofline"] == "100 %"
    assert roof["GFLOP/s"] == roof["x slower than builtin"] == ""


def test_every_row_is_placed_against_the_larger_roof(run):
    machine = roofs(run)
    assert machine.peak == pytest.approx(PEAK)
    assert machine.bandwidth[5] == pytest.approx(READ_RATE)
    einsum = next(b for b in run.benchmarks.values() if b.name == "test_matmul[einsum-rows5]")
    placed = place(einsum, machine)
    memory, compute = einsum.workload.bytes / READ_RATE, einsum.workload.flops / PEAK
    assert placed.bound_by == ("memory" if memory > compute else "compute")
    assert placed.time == pytest.approx(max(memory, compute))
    table = rows_of(ladder.matmul_tables(run), "x_train[:5] @")
    assert table["einsum"]["% of roofline"] == f"{placed.fraction * 100:.0f} %"
    assert table["einsum"]["bound by"] == placed.bound_by
    assert table[ROOFLINE]["bound by"] == placed.bound_by


def test_forward_table_and_summary_state_the_targets(run):
    table = rows_of(ladder.forward_tables(run), "x_train[:50]")
    share = 2 * 50 * 39700 / 1e-4 / PEAK
    assert table["builtin"]["% of roofline"] == f"{share * 100:.0f} %"
    assert table["builtin"]["bound by"] == "compute"
    assert "GB/s" not in table["builtin"] and "x faster than three_loops" not in table["builtin"]
    summary = "\n".join(ladder.roofline_summary(run))
    assert (f"best builtin at {share * 100:.0f} % of the compute roof at its median, "
            f"{share * 100:.0f} % at its best round") in summary
    assert "misses the 80 % target" in summary
    assert "x_train[:50] @ weights: best builtin at" in summary
    assert "no FMA microkernel in this run: the roof is the library's" in summary


def test_the_fma_microkernel_is_the_compute_roof_with_the_library_beside_it(run):
    """With the FMA microkernel in the run, it is the roof; the builtin GEMM is
    reported as a share of it."""
    document = {"benchmarks": [b for b in json.loads(json.dumps(RUN_DOCUMENT))["benchmarks"]]
                + [fma_peak(4 * PEAK)]}
    with_fma = runs.parse(document, "run.json")
    machine = roofs(with_fma)
    assert machine.peak == pytest.approx(4 * PEAK) and machine.library_peak == pytest.approx(PEAK)
    summary = "\n".join(ladder.roofline_summary(with_fma))
    assert "compute roof: 400 GFLOP/s (the FMA microkernel in avx512f: 16 lanes" in summary
    assert "the best library GEMM: builtin peak_gemm at 100 GFLOP/s, 25 % of it" in summary
    table = rows_of(ladder.forward_tables(with_fma), "x_train[:50]")
    roof = max(2 * 50 * 39700 / (4 * PEAK), 50 * 784 * 4 / READ_RATE)
    assert table["builtin"]["% of roofline"] == f"{roof / 1e-4 * 100:.0f} %"


def test_the_memory_roof_is_the_best_reader_and_names_it():
    document = {"benchmarks": [read_x(50, READ_RATE, "torch", 1), read_x(50, 3 * READ_RATE, "numba", 2),
                               read_x(50, 2 * READ_RATE, "torch", 2), matmul("builtin", 50, 6e-5)]}
    machine = roofs(runs.parse(document, "run.json"))
    assert machine.bandwidth == {50: pytest.approx(3 * READ_RATE)}
    assert (machine.reads[50].reader, machine.reads[50].threads) == ("numba", 2)
    summary = "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))
    assert "memory roof: 30 GB/s (one read of x_train[:50] by numba's read on 2 threads" in summary


def test_a_kernel_beating_an_artificially_low_roof_is_a_warning_not_a_target_met():
    """A compute roof measured 10x too low: the forward pass 'beats' it. The
    share is marked, the summary warns and judges no target against it."""
    low = PEAK / 10
    document = {"benchmarks": [fma_peak(low), read_x(50), matmul("builtin", 50, 6e-6),
                               forward("builtin", 50, 1e-4)]}
    run = runs.parse(document, "run.json")
    share = 2 * 50 * 39700 / 1e-4 / low
    assert share > 1
    table = rows_of(ladder.forward_tables(run), "x_train[:50]")
    assert table["builtin"]["% of roofline"] == f"{share * 100:.0f} % †"
    summary = "\n".join(ladder.roofline_summary(run))
    assert "meets" not in summary
    assert "the 80 % target not judged: a roof of this run is wrong" in summary
    assert (f"**warning**: test_forward[builtin-rows50] ran at {share * 100:.0f} % of its "
            "roofline at its best round (compute-bound): faster than the compute roof") in summary
    assert "the roof it is measured against is wrong" in ladder.markdown(run)


def test_a_memory_roof_too_low_for_one_slice_leaves_the_others_judged():
    document = {"benchmarks": [fma_peak(PEAK), read_x(5, READ_RATE / 100), read_x(50),
                               matmul("builtin", 5, 3e-6), matmul("builtin", 50, 6e-5)]}
    run = runs.parse(document, "run.json")
    summary = "\n".join(ladder.roofline_summary(run))
    assert "test_matmul[builtin-rows5] ran at" in summary and "faster than the memory roof" in summary
    assert "test_matmul[builtin-rows50]" not in summary
    assert "x_train[:50] @ weights: best builtin" in summary and "target not judged" not in summary
    assert rows_of(ladder.matmul_tables(run), "x_train[:5] @")["builtin"]["% of roofline"].endswith("†")


def test_a_library_gemm_faster_than_the_fma_microkernel_is_a_warning():
    document = {"benchmarks": [fma_peak(PEAK / 2), peak(), read_x(50),
                               forward("builtin", 50, 1e-2)]}
    summary = "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))
    assert "the builtin peak_gemm ran faster than the FMA microkernel" in summary
    assert "target not judged" in summary and "meets" not in summary and "misses" not in summary


def test_three_loops_beyond_its_budget_is_extrapolated_per_row_and_marked(run):
    markdown = ladder.matmul_tables(run)
    table = rows_of(markdown, "x_train[:50] @")
    # 0.3 s per 5 rows -> 3 s for 50 rows; builtin took 6 µs there.
    assert table["builtin"]["x faster than three_loops"] == "500,000*"
    assert "extrapolated per row" in markdown


def test_a_run_without_roofs_says_so(run):
    document = json.loads(json.dumps({"benchmarks": [matmul("builtin", 5, 3e-6)]}))
    bare = runs.parse(document, "bare.json")
    builtin = rows_of(ladder.matmul_tables(bare), "x_train[:5] @")["builtin"]
    assert builtin["% of roofline"] == builtin["bound by"] == "n/a"
    assert ladder.roofline_summary(bare) == []


def test_report_writes_markdown_and_plot(run, tmp_path):
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps({"benchmarks": [matmul("builtin", 5, 3e-6), read_x(5), peak(),
                                                forward("builtin", 5, 1e-5)]}))
    assert report_main([str(saved), "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "ladder.md").read_text()
    assert "| builtin | 3 µs" in text and "## Roofline" in text and "## Forward pass" in text
    kernels = by_first_column(text.split("## Kernels", 1)[1])
    assert kernels["builtin"]["what it does"] == "what builtin did when the run was made"
    assert (tmp_path / "out" / "ladder.png").read_bytes()[:4] == b"\x89PNG"


def test_corrupt_or_missing_run_is_a_clear_error(tmp_path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert report_main([str(broken), "--out", str(tmp_path)]) == 2
    assert "broken.json" in capsys.readouterr().err
    assert report_main(["--storage", str(tmp_path / "nothing"), "--out", str(tmp_path)]) == 2
    assert "--benchmark-autosave" in capsys.readouterr().err


def test_ladder_shows_each_kernels_peak_memory_and_its_multiple_of_the_output():
    document = {"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}},
                "benchmarks": [matmul("builtin", 500, 6e-4), matmul("broadcast", 500, 6e-3),
                               forward("einsum", 500, 1e-3)]}
    peaks = {"builtin": 21_656, "broadcast": 53_688, "einsum": 202_432}
    for entry in document["benchmarks"]:
        kernel = entry["extra_info"]["kernel"]
        entry["extra_info"][runs.MEMORY] = {"peak_bytes": peaks[kernel], "allocations": 90,
                                            "output_bytes": 20_000, "device_peak_bytes": None}
    saved = runs.parse(document, "run.json")
    table = rows_of(ladder.matmul_tables(saved), "x_train[:500] @")
    assert table["builtin"][ladder.MEMORY_HEADER] == "21.7 KB (1.08x output)"
    assert table["broadcast"][ladder.MEMORY_HEADER] == "53.7 KB (2.68x output)"
    forward_table = rows_of(ladder.forward_tables(saved), "x_train[:500]")
    assert forward_table["einsum"][ladder.MEMORY_HEADER] == "202 KB (10.1x output)"
    document["benchmarks"][0]["extra_info"][runs.MEMORY]["device_peak_bytes"] = 40_000
    on_gpu = rows_of(ladder.matmul_tables(runs.parse(document, "run.json")), "x_train[:500] @")
    assert on_gpu["builtin"][ladder.MEMORY_HEADER] == "40 KB on the device (2x output)"
    assert rows_of(ladder.matmul_tables(run_without_memory()), "x_train[:5] @")[
        "einsum"][ladder.MEMORY_HEADER] == "n/a"


def run_without_memory():
    return runs.parse({"benchmarks": [matmul("einsum", 5, 1.2e-5)]}, "run.json")


@pytest.mark.parametrize("runtimes, warned", [(1, False), (None, False), (2, True)])
def test_two_openmp_runtimes_in_a_run_are_warned_of(runtimes, warned):
    document = json.loads(json.dumps(RUN_DOCUMENT))
    for bench in document["benchmarks"]:
        bench["extra_info"]["openmp_runtimes"] = runtimes
    text = ladder.markdown(runs.parse(document, "run.json"))
    assert ("two OpenMP runtimes" in text) is warned


def test_the_forward_share_of_the_roofs_median_round_is_said_beside_the_judged_one():
    """A machine whose clock moves: the FMA microkernel's median round at 80 %
    of its best. The target is judged against the best round; the share of
    the median round is said beside it, not instead of it."""
    document = {"benchmarks": [fma_peak(PEAK, 0.8 * PEAK), read_x(50), matmul("builtin", 50, 6e-6),
                               forward("builtin", 50, 2 * 50 * 39700 / (0.7 * PEAK))]}
    summary = "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))
    assert "best of its rounds, 80 at its median round" in summary
    assert ("best builtin at 70 % of the compute roof at its median (88 % of the roof's median "
            "round), 70 % at its best round (misses the 80 % target)") in summary


def probed(found: dict, calm: int, shared: int, slower: float) -> dict:
    """A benchmark entry given raw rounds: `calm` at its median, then `shared`
    ones `slower` times slower, and the FMA probe's two readings, the second
    1.6x slower in the shared rounds (the first the same in every round: read
    instead, it would call every round calm)."""
    seconds = found["stats"]["median"]
    data = [seconds] * calm + [seconds * slower] * shared
    second = [10e-6] * calm + [16e-6] * shared
    info = found["extra_info"]
    info[runs.REFERENCE_DATA] = [1e-3] * len(data)
    info[runs.ALTERNATIVES] = {"fma": [30e-6] * len(data), "fma_again": second}
    found["stats"] = {"data": data}
    return found


def test_the_summary_gives_the_calm_rounds_median_beside_the_judged_one():
    """A host that shared the core in 22 of 40 rounds: the targets are judged at
    the median of every round, and the median of the 18 rounds the probe's
    second reading dates as calm is said beside it."""
    rows = 50_000
    skinny_roof = rows * 784 * 4 / READ_RATE  # memory-bound: one read of x
    forward_work = 2 * rows * (784 * 50 + 50 * 10)
    document = {"benchmarks": [
        fma_peak(PEAK), read_x(rows),
        probed(matmul("numba_tuned", rows, 1.1 * skinny_roof), 18, 22, 1.5),
        probed(forward("numba_fused", rows, forward_work / (0.85 * PEAK)), 18, 22, 1.25)]}
    summary = "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))
    calm = ("calm rounds of 40 (its FMA probe, read a second time, within 15 % of its "
            "fastest: the core not shared)")
    # The roofline's bytes hold the weights and the output beside x: 1.1 x 0.987.
    assert ("best numba_tuned at 1.63x its roofline at its median, 1.09x at its best round "
            f"(memory-bound; misses the 1.15x target); over its 18 {calm}, 1.09x at their "
            "median") in summary
    assert ("best numba_fused at 68 % of the compute roof at its median (68 % of the roof's "
            "median round), 85 % at its best round (misses the 80 % target); over its 18 "
            f"{calm}, 85 % at their median") in summary
    # Without the probe's second reading (a run of older code), nothing is said of calm rounds.
    for entry in document["benchmarks"]:
        entry["extra_info"].get(runs.ALTERNATIVES, {}).pop("fma_again", None)
    assert "calm" not in "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))


def test_the_memory_roof_says_its_readers_median_round_beside_its_best():
    """A host whose memory traffic moves under the run: the best reader's
    median round at 60 % of its best. The roof is the best round; the median
    round is said beside it, so a roof from one fast spell shows as one."""
    fast = read_x(50_000, 2 * READ_RATE, "torch", 1)
    fast["stats"]["median"] = fast["stats"]["mean"] = fast["stats"]["min"] / 0.6
    document = {"benchmarks": [read_x(50_000, READ_RATE, "numba", 2), fast]}
    machine = roofs(runs.parse(document, "run.json"))
    assert machine.bandwidth == {50_000: pytest.approx(2 * READ_RATE)}
    assert machine.reads[50_000].median_bandwidth == pytest.approx(1.2 * READ_RATE)
    summary = "\n".join(ladder.roofline_summary(runs.parse(document, "run.json")))
    assert ("memory roof: 20 GB/s (one read of x_train[:50000] by torch's read on 1 thread, the "
            "best of the run's readers at their best rounds; 12 GB/s at that reader's median "
            "round)") in summary

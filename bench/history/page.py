"""The history as one self-contained HTML page: a chart per benchmark group.

No server and nothing fetched: the points are inlined as JSON and a short
script draws each group as SVG (a line and an interval band per kernel,
relative to its first level as in the PNGs; a dotted line and a ring at the
first run of each new level). Hovering a chart shows, for the run under the
pointer, its id and commit and each kernel's ratio with its interval. When
drawing is done the script marks each chart `data-drawn` with the number of
lines drawn, which the browser test reads back.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from .analyze import History
from .plot import first_level
from .series import commit_label

DECIMALS = 5  # of a ratio to the first level (about 1): far below the per-run noise

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
h2 { font-size: 16px; margin: 28px 0 4px; }
.chart { display: block; border: 1px solid #ddd; background: #fff; }
.band { opacity: 0.15; stroke: none; }
.line { fill: none; stroke-width: 1.5; }
.change { stroke-dasharray: 3 3; stroke-width: 1; }
.ring { fill: none; stroke-width: 2; }
.axis { stroke: #888; } .grid { stroke: #eee; } text { font-size: 11px; fill: #444; }
#tip { position: fixed; pointer-events: none; background: #fffe; border: 1px solid #aaa;
       padding: 6px 8px; font-size: 12px; display: none; white-space: pre; }
"""

_SCRIPT = r"""
const data = JSON.parse(document.getElementById('history-data').textContent);
const colours = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b',
                 '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const W = 960, H = 360, L = 60, R = 160, T = 12, B = 36;
const NS = 'http://www.w3.org/2000/svg';
const tip = document.getElementById('tip');
function el(name, attrs, parent) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent.appendChild(e); return e;
}
function pct(r) { return (r >= 1 ? '+' : '') + ((r - 1) * 100).toFixed(1) + ' %'; }
for (const chart of data.charts) {
  const runs = data.machines[chart.machine].runs;
  const svg = document.getElementById(chart.id);
  let lo = Infinity, hi = -Infinity;
  for (const s of chart.series) for (let i = 0; i < s.x.length; i++) {
    lo = Math.min(lo, s.lo[i], s.v[i]); hi = Math.max(hi, s.hi[i], s.v[i]);
  }
  const pad = (hi - lo) * 0.05 || 0.01; lo -= pad; hi += pad;
  const n = Math.max(runs.length - 1, 1);
  const x = p => L + (W - L - R) * p / n, y = v => T + (H - T - B) * (hi - v) / (hi - lo);
  const xy = (s, key, i) => x(s.x[i]).toFixed(1) + ',' + y(s[key][i]).toFixed(1);
  for (let i = 0; i <= 4; i++) {
    const v = lo + (hi - lo) * i / 4;
    el('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid'}, svg);
    el('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, svg).textContent = v.toFixed(3);
  }
  el('line', {x1: L, x2: L, y1: T, y2: H - B, class: 'axis'}, svg);
  el('line', {x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis'}, svg);
  el('text', {x: L, y: H - 8}, svg).textContent = runs[0].id;
  el('text', {x: W - R, y: H - 8, 'text-anchor': 'end'}, svg).textContent = runs[runs.length - 1].id;
  let drawn = 0;
  chart.series.forEach((s, k) => {
    const c = colours[k % colours.length];
    const top = [], bottom = [], line = [];
    for (let i = 0; i < s.x.length; i++) {
      top.push(xy(s, 'hi', i)); bottom.push(xy(s, 'lo', i)); line.push(xy(s, 'v', i));
    }
    el('path', {d: 'M' + top.concat(bottom.reverse()).join('L') + 'Z', class: 'band', fill: c}, svg);
    el('path', {d: 'M' + line.join('L'), class: 'line', stroke: c, 'data-series': s.label}, svg);
    drawn++;
    for (const ch of s.changes) {
      const p = s.x[ch.index], v = s.v[ch.index];
      el('line', {x1: x(p - 0.5), x2: x(p - 0.5), y1: T, y2: H - B, class: 'change', stroke: c}, svg);
      el('circle', {cx: x(p), cy: y(v), r: 7, class: 'ring', stroke: c}, svg);
      el('text', {x: x(p) + 8, y: y(v) - 8, fill: c}, svg).textContent = pct(ch.ratio);
    }
    el('rect', {x: W - R + 12, y: T + 16 * k, width: 10, height: 10, fill: c}, svg);
    el('text', {x: W - R + 26, y: T + 9 + 16 * k}, svg).textContent = s.label;
  });
  svg.addEventListener('mousemove', ev => {
    const box = svg.getBoundingClientRect();
    const p = ((ev.clientX - box.left) * W / box.width - L) * n / (W - L - R);
    const at = Math.max(0, Math.min(runs.length - 1, Math.round(p)));
    const run = runs[at];
    const lines = [`run ${run.id}  commit ${run.commit}`];
    for (const s of chart.series) {
      const i = s.x.indexOf(at);
      if (i >= 0) lines.push(`${s.label}: ratio ${s.v[i].toFixed(4)} [${s.lo[i].toFixed(4)}, ${s.hi[i].toFixed(4)}]`);
      for (const ch of s.changes) if (s.x[ch.index] === at)
        lines.push(`  change ${pct(ch.ratio)} [${pct(ch.low)}, ${pct(ch.high)}]`);
    }
    tip.textContent = lines.join('\n');
    tip.style.display = 'block';
    tip.style.left = (ev.clientX + 14) + 'px'; tip.style.top = (ev.clientY + 14) + 'px';
  });
  svg.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
  svg.setAttribute('data-drawn', drawn);
}
document.body.setAttribute('data-charts-drawn', data.charts.length);
"""


def page_data(history: History) -> dict:
    """What the page's script draws: per machine its runs, per group its series."""
    from .output import groups  # output imports this module

    several = len(history.machines) > 1
    machines, charts = [], []
    for number, m in enumerate(history.machines):
        machines.append({"label": m.machine.label,
                         "runs": [{"id": r.id, "commit": commit_label(r)}
                                  for r in m.machine.runs]})
        for group, indexes in groups(m).items():
            series = []
            for i in indexes:
                line, found = m.series[i], m.changes[i]
                base = first_level(line, found)
                series.append({
                    "label": line.label, "x": line.positions.tolist(),
                    **{name: np.round(values / base, DECIMALS).tolist() for name, values in
                       (("v", line.values), ("lo", line.lows), ("hi", line.highs))},
                    "changes": [{"index": c.index, "ratio": c.estimate.ratio,
                                 "low": c.estimate.low, "high": c.estimate.high}
                                for c in found],
                })
            charts.append({"id": f"chart-{len(charts)}", "machine": number,
                           "title": f"{group} ({m.machine.label})" if several else group,
                           "series": series})
    return {"machines": machines, "charts": charts}


def render(history: History) -> str:
    data = page_data(history)
    found = len(history.newest_first())
    sections = "".join(
        f'<h2>{html.escape(c["title"])}</h2>\n'
        f'<svg class="chart" id="{c["id"]}" viewBox="0 0 960 360" width="960" height="360">'
        "</svg>\n" for c in data["charts"])
    # "</" cannot end the script early once escaped; JSON reads "<\/" as "</".
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Benchmark history</title>"
        f"<style>{_STYLE}</style></head>\n<body>\n<h1>Benchmark history</h1>\n"
        f"<p>{len(history.runs)} runs, {found} change(s). Each line: a kernel's median "
        "normalized time relative to its first level, with its runs' intervals; dotted "
        "lines and rings: the first run of a new level. Hover a chart for a run's commit, "
        "ratios and intervals.</p>\n"
        f"{sections}<div id=\"tip\"></div>\n"
        f"<script type=\"application/json\" id=\"history-data\">{payload}</script>\n"
        f"<script>{_SCRIPT}</script>\n</body></html>\n")


def write_page(history: History, path: Path) -> Path:
    path.write_text(render(history), encoding="utf-8")
    return path

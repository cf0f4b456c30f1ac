"""The soak's report: C{report.json} (the ledger and every figure) and C{report.html} (the same
with inline SVG plots drawn here: latency histogram against the target response times,
outcomes over time, retries, queue depths, per-CSP availability)."""

from __future__ import annotations

import html
import json
import os
from collections import Counter

from emulator.soak.runner import GRACE, LATENCY_BUCKETS, latency_histogram

__all__ = ["build_report", "write_report"]

_COLOURS = {"ok": "#2e7d32", "failed": "#c62828", "timed_out": "#ef6c00", "in_flight": "#1565c0",
            "lost": "#000000"}


def build_report(run, argv: list[str] | None = None) -> dict:
    """Everything the soak measured, as JSON-ready data."""
    records = list(run.records.values())
    latencies = [r.responses[0][0] - r.submitted for r in records if r.responses and r.responses[0][1] == "I0"]
    by_kind: dict[str, Counter] = {}
    for r in records:
        outcome = _outcome(r, run)
        by_kind.setdefault(r.kind, Counter())[outcome] += 1
    bins = 3600.0 if run.duration > 4 * 3600 else max(60.0, run.duration / 24)
    n_bins = int((run.drained_at + bins - 1) // bins) or 1
    over_time = {k: [0] * n_bins for k in ("ok", "failed", "timed_out", "lost", "in_flight")}
    for r in records:
        when = r.responses[0][0] if r.responses else r.submitted
        over_time[_outcome(r, run)][min(int(when // bins), n_bins - 1)] += 1
    retries = Counter(attempts - 1 for _t, _csp, _res, attempts in run.delivery.outcomes)
    availability = {}
    for s in run.samples:
        for csp, state in s["csps"].items():
            a = availability.setdefault(csp, {"samples": 0, "up": 0})
            a["samples"] += 1
            a["up"] += 1 if state["up"] else 0
    per_csp = {}
    for r in records:
        per_csp.setdefault(r.csp, Counter())[_outcome(r, run)] += 1
    targets = sorted({r.target for r in records})
    return {
        "topology": run.topology.name,
        "homes": len(run.topology.homes),
        "workload": run.workload.name,
        "seed": run.seed,
        "duration_s": run.duration,
        "drained_at_s": run.drained_at,
        "command": argv or [],
        "ledger": run.ledger(),
        "by_kind": {k: dict(v) for k, v in sorted(by_kind.items())},
        "failed_codes": dict(sorted(Counter(f"{r.kind} {r.final}" for r in records
                                            if _outcome(r, run) == "failed").items())),
        "latency": {"buckets_s": [b if b != float("inf") else "+Inf" for b in LATENCY_BUCKETS],
                    "counts": latency_histogram(latencies), "target_response_times_s": targets,
                    "within_target": sum(1 for r in records if r.responses and r.responses[0][1] == "I0"
                                         and r.responses[0][0] - r.submitted <= r.target),
                    "max_s": max(latencies, default=0.0),
                    "mean_s": sum(latencies) / len(latencies) if latencies else 0.0},
        "outcomes_over_time": {"bin_s": bins, **over_time},
        "retries": {"commands_by_retries": {str(k): v for k, v in sorted(retries.items())},
                    "acb_outcomes": dict(run.delivery.by_result),
                    "smwan": run.wan_counts()},
        "queue_depths": [{"t": s["t"], "delivery_queue": s["delivery_queue"], "in_flight": s["in_flight"],
                          **{f"{c}_stored_down": v["stored_down"] for c, v in s["csps"].items()},
                          **{f"{c}_stored_up": v["stored_up"] for c, v in s["csps"].items()}}
                         for s in run.samples],
        "availability": {c: {"sampled_up": a["up"] / a["samples"] if a["samples"] else 1.0,
                             "requests": dict(per_csp.get(c, {})),
                             "ok_ratio": (per_csp.get(c, Counter())["ok"] / sum(per_csp[c].values()))
                             if per_csp.get(c) else None}
                         for c, a in sorted(availability.items())},
        "alerts": run.alerts(),
        "faults": [{"t": t, "kind": k, "event": e, "target": target} for t, k, e, target in run.faults.events],
        "wall_s": {k: round(v, 3) for k, v in run.wall.items()},
        "grace_s": GRACE,
    }


def _outcome(r, run) -> str:
    final = r.final
    if final is None:
        return "lost" if run._run_time() > r.submitted + r.target + GRACE else "in_flight"
    return "ok" if final == "I0" else "timed_out" if final == "E15" else "failed"


# --- SVG ------------------------------------------------------------------------------------

_W, _H, _L, _B, _T, _R = 640, 260, 56, 40, 24, 16


def _frame(title: str, body: list[str], x_label: str, y_label: str, y_max: float) -> str:
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
           f'font-family="sans-serif" font-size="11" role="img" aria-label="{html.escape(title)}">',
           f'<text x="{_W / 2}" y="14" text-anchor="middle" font-size="13">{html.escape(title)}</text>',
           f'<line x1="{_L}" y1="{_H - _B}" x2="{_W - _R}" y2="{_H - _B}" stroke="#333"/>',
           f'<line x1="{_L}" y1="{_T}" x2="{_L}" y2="{_H - _B}" stroke="#333"/>',
           f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle">{html.escape(x_label)}</text>',
           f'<text x="12" y="{_H / 2}" text-anchor="middle" transform="rotate(-90 12 {_H / 2})">'
           f'{html.escape(y_label)}</text>']
    for i in range(5):
        v = y_max * i / 4
        y = _H - _B - (_H - _B - _T) * i / 4
        out.append(f'<text x="{_L - 4}" y="{y + 4:.1f}" text-anchor="end">{_num(v)}</text>')
        out.append(f'<line x1="{_L}" y1="{y:.1f}" x2="{_W - _R}" y2="{y:.1f}" stroke="#ddd"/>')
    return "\n".join(out + body + ["</svg>"])


def _num(v: float) -> str:
    return f"{v:.0f}" if v >= 10 or v == int(v) else f"{v:.2f}"


def _bars(title: str, labels: list[str], series: dict[str, list[float]], x_label: str, y_label: str,
          markers: dict[int, str] | None = None, y_max: float | None = None) -> str:
    n = len(labels)
    totals = [sum(s[i] for s in series.values()) for i in range(n)]
    y_max = y_max or max(totals, default=0) or 1
    width = (_W - _L - _R) / max(n, 1)
    body = []
    for i in range(n):
        x = _L + i * width
        y0 = _H - _B
        for name, values in series.items():
            h = (_H - _B - _T) * values[i] / y_max
            if h > 0:
                body.append(f'<rect x="{x + 1:.1f}" y="{y0 - h:.1f}" width="{max(width - 2, 1):.1f}" height="{h:.1f}" '
                            f'fill="{_COLOURS.get(name, "#546e7a")}"><title>{html.escape(labels[i])}: {name} '
                            f'{values[i]:g}</title></rect>')
                y0 -= h
        if n <= 14 or i % -(-n // 12) == 0:
            body.append(f'<text x="{x + width / 2:.1f}" y="{_H - _B + 14}" text-anchor="middle">'
                        f'{html.escape(labels[i])}</text>')
    for i, text in (markers or {}).items():
        x = _L + (i + 1) * width
        body.append(f'<line x1="{x:.1f}" y1="{_T}" x2="{x:.1f}" y2="{_H - _B}" stroke="#6a1b9a" '
                    f'stroke-dasharray="4 3"/><text x="{x - 2:.1f}" y="{_T + 10}" text-anchor="end" '
                    f'fill="#6a1b9a">{html.escape(text)}</text>')
    legend = [f'<rect x="{_W - _R - 110}" y="{_T + 14 * k}" width="10" height="10" '
              f'fill="{_COLOURS.get(name, "#546e7a")}"/>'
              f'<text x="{_W - _R - 96}" y="{_T + 9 + 14 * k}">{html.escape(name)}</text>'
              for k, name in enumerate(series) if len(series) > 1]
    return _frame(title, body + legend, x_label, y_label, y_max)


def _lines(title: str, xs: list[float], series: dict[str, list[float]], x_label: str, y_label: str,
           y_max: float | None = None) -> str:
    x_max = max(xs, default=0) or 1
    top = y_max if y_max is not None else (max((max(v, default=0) for v in series.values()), default=0) or 1)
    palette = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037", "#ad1457",
               "#9e9d24", "#37474f"]
    body = []
    for k, (name, values) in enumerate(series.items()):
        points = " ".join(f"{_L + (_W - _L - _R) * x / x_max:.1f},{_H - _B - (_H - _B - _T) * v / top:.1f}"
                          for x, v in zip(xs, values))
        colour = palette[k % len(palette)]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}">'
                    f'<title>{html.escape(name)}</title></polyline>')
        body.append(f'<rect x="{_W - _R - 150}" y="{_T + 14 * k}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{_W - _R - 136}" y="{_T + 9 + 14 * k}">{html.escape(name)}</text>')
    for i in range(5):
        x = _L + (_W - _L - _R) * i / 4
        body.append(f'<text x="{x:.1f}" y="{_H - _B + 14}" text-anchor="middle">{_num(x_max * i / 4 / 3600)} h</text>')
    return _frame(title, body, x_label, y_label, top)


def _svgs(report: dict) -> list[tuple[str, str]]:
    lat = report["latency"]
    labels = [f"≤{_num(b)}" if b != "+Inf" else ">3600" for b in lat["buckets_s"]]
    markers = {}
    for target in lat["target_response_times_s"]:
        for i, b in enumerate(lat["buckets_s"]):
            if b != "+Inf" and b >= target:
                markers[i] = f"target {target:g} s"
                break
    plots = [("latency", _bars("Response latency (I0) against the target response times", labels,
                               {"ok": lat["counts"]}, "seconds from submission to response", "requests", markers))]
    ot = report["outcomes_over_time"]
    n = len(ot["ok"])
    hours = [f"{i * ot['bin_s'] / 3600:.3g}" for i in range(n)]
    plots.append(("outcomes", _bars("Outcomes over time", hours,
                                    {k: ot[k] for k in ("ok", "failed", "timed_out", "lost", "in_flight")},
                                    "run time (h, bin start)", "requests")))
    retries = report["retries"]["commands_by_retries"]
    labels, values = ["ACB re-sends"], [sum(int(k) * v for k, v in retries.items())]
    for csp, counts in report["retries"]["smwan"].items():
        for way in ("down", "up"):
            labels.append(f"{csp} {way}")
            values.append(counts[f"retransmitted_frames_{way}"])
    plots.append(("retries", _bars("Retries: ACB re-sends, SMWAN retransmitted frames per CSP and direction",
                                   labels, {"retries": values}, "", "retries")))
    qd = report["queue_depths"]
    xs = [q["t"] for q in qd]
    series = {name: [q.get(name, 0) for q in qd] for name in (qd[0] if qd else {}) if name != "t"}
    plots.append(("queues", _lines("Queue depths", xs, series, "run time", "messages / requests")))
    av = report["availability"]
    plots.append(("availability", _bars("Per-CSP availability (share of samples with the WAN up)", list(av) or ["-"],
                                        {"ok": [round(100 * v["sampled_up"], 1) for v in av.values()] or [0]},
                                        "CSP", "% up", y_max=100)))
    return plots


def write_report(run, directory: str, argv: list[str] | None = None) -> dict:
    """Write C{directory}/report.json and C{directory}/report.html; return the report."""
    os.makedirs(directory, exist_ok=True)
    report = build_report(run, argv)
    with open(os.path.join(directory, "report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, sort_keys=True)
        f.write("\n")
    led = report["ledger"]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in led.items())
    kinds = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v, sort_keys=True))}</td></tr>"
                    for k, v in report["by_kind"].items())
    figures = "\n".join(f'<figure id="{name}">{svg}</figure>' for name, svg in _svgs(report))
    verdict = "nothing lost, nothing duplicated" if led["lost"] == 0 and led["duplicated"] == 0 and \
        led["in_flight"] == 0 else "REQUESTS WENT MISSING OR WERE ANSWERED TWICE"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Soak report: {html.escape(report['topology'])}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}} table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:2px 8px;text-align:left}} figure{{margin:1em 0}}</style></head><body>
<h1>Soak report: {html.escape(report['topology'])} ({report['homes']} homes),
workload {html.escape(report['workload'])}</h1>
<p>seed {report['seed']}, {report['duration_s']:g} virtual s of workload, drained at {report['drained_at_s']:g} s;
wall time {html.escape(json.dumps(report['wall_s']))}. Verdict: <strong>{verdict}</strong>.</p>
<h2>Ledger</h2><table>{rows}</table>
<h2>By request kind</h2><table>{kinds}</table>
<h2>Alerts</h2><p>{html.escape(json.dumps(report['alerts'], sort_keys=True))}</p>
{figures}
</body></html>
"""
    with open(os.path.join(directory, "report.html"), "w", encoding="utf-8") as f:
        f.write(page)
    return report

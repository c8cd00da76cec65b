"""bench/results/<date>.json -> bench/results/<date>.md (run_all.py calls it; also usable alone:
``python bench/report.py bench/results/<date>.json``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

CREATE = "EiCreateTender"
BASELINE = "baseline (parse+validate+1 INSERT)"
DISTINCT = "EiCreateTransaction (distinct tenders)"
CONTENDED = "EiCreateTransaction (contended)"
MAIN_OPS = [
    CREATE, DISTINCT, CONTENDED, "EiCancelTender", "EiRequestTender (100 of the party's)",
    "EiRequestTransaction (100 of the party's)", "EiRequestPosition (1 day, PT5M)",
]


def _scale(n: int) -> str:
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent else f"{n:,}"


def _ms(value) -> str:
    return "-" if value is None or value != value else (f"{value:.1f}" if value < 100 else f"{value:.0f}")


def _phase(run, name):
    return next((p for p in run["phases"] if p["name"] == name), None)


def _met(ok) -> str:
    return "**met**" if ok else "**not met**"


def render(data: dict) -> str:
    m, runs = data["machine"], data["runs"]
    scales = [r["extra"]["scale"] for r in runs]
    pg = runs[0]["extra"].get("pg_settings", {}) if runs else {}
    out = [
        f"# TeMIX service bench, {data['date']}",
        "",
        f"Machine: {m['nproc']} cores ({m['model']}), {m['memory_gib']} GiB, Linux {m['kernel']}, Python {m['python']}. "
        f"Service tree measured: `{m['src']}` at {m['commit']}. PostgreSQL {pg.get('server_version', '?')} (embedded), "
        f"fsync={pg.get('fsync')}, synchronous_commit={pg.get('synchronous_commit')}, "
        f"wal_sync_method={pg.get('wal_sync_method')}, shared_buffers={pg.get('shared_buffers')} x 8 kB, jit={pg.get('jit')}. "
        f"Front: `temix serve` as configured (granian since issue 11, gunicorn sync workers before), {data.get('workers', 2)} workers. Load: {data['clients']} client processes on the same "
        f"machine, {data['duration']:.0f} s per phase (the contended phase up to 3x that, or until every tender is filled). "
        f"Whole run: {data['wall_minutes']:.0f} min.",
        "",
        "Latencies are per request, client side, in ms. 'other load' is the CPU (in cores, of 2) used during the phase "
        "by processes outside the bench: the machine is shared, so figures from phases with other load are low.",
        "",
        *[f"**Scale {_scale(r['extra']['scale'])} failed** (figures up to the failure are kept): "
          f"`{r['extra']['failed'].strip().splitlines()[-1]}`" for r in runs if r["extra"].get("failed")],
        "",
        "## Headline: EiCreateTender against the baseline",
        "",
        "| scale | baseline req/s | service req/s | service / baseline | service p50 / p99 ms | baseline p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        b, s = _phase(run, BASELINE), _phase(run, CREATE)
        if b and s:
            out.append(f"| {_scale(run['extra']['scale'])} | {b['rate']:.0f} | {s['rate']:.0f} | "
                       f"{s['rate'] / b['rate']:.2f} | {_ms(s['p50_ms'])} / {_ms(s['p99_ms'])} | "
                       f"{_ms(b['p50_ms'])} / {_ms(b['p99_ms'])} |")
    out += ["", "## Every phase", ""]
    for run in runs:
        out += [f"### {_scale(run['extra']['scale'])} tenders + transactions preloaded", "",
                "| phase | req/s | p50 | p95 | p99 | max | errors | items/reply | other load | response codes |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for p in run["phases"]:
            rate = f"{p['rate']:.0f}" + (f" (paced at {p['target_rate']:.0f})" if p.get("target_rate") else "")
            items = "-" if p.get("items") is None else f"{p['items']:.0f}"
            out.append(f"| {p['name']} | {rate} | {_ms(p['p50_ms'])} | {_ms(p['p95_ms'])} | {_ms(p['p99_ms'])} | "
                       f"{_ms(p['max_ms'])} | {p['errors']} | {items} | {p['other_load_cores']:.2f} | "
                       f"{', '.join(f'{k}: {v}' for k, v in sorted(p['codes'].items()))} |")
        pre = run["extra"].get("preload", {})
        out += ["", f"Preload: COPY {pre.get('copy_s', 0):.0f} s, position_change rebuilt "
                f"({pre.get('position_rows', 0):,} rows) in {pre.get('positions_s', 0):.0f} s, VACUUM ANALYZE "
                f"{pre.get('vacuum_s', 0):.0f} s. Tables at the end: " + ", ".join(
                    f"{name} {rows:,} rows / {size / 2**20:.0f} MiB"
                    for name, (rows, size) in sorted(run["extra"].get("tables_at_end", {}).items()) if rows), ""]
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        out += ["## Throughput against database size", "",
                "| operation | " + " | ".join(f"{_scale(s)} req/s (p99 ms)" for s in scales)
                + f" | {_scale(scales[-1])} / {_scale(scales[0])} |",
                "|---|" + "---|" * (len(scales) + 1)]
        for name in MAIN_OPS + [n + " at half peak" for n in MAIN_OPS[4:]]:
            cells = []
            for run in runs:
                p = _phase(run, name)
                cells.append(f"{p['rate']:.0f} ({_ms(p['p99_ms'])})" if p else "-")
            a, b = _phase(first, name), _phase(last, name)
            ratio = f"{b['rate'] / a['rate']:.2f}" if a and b and a["rate"] else "-"
            out.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
        out.append("")
    with_cores = [(run, p) for run in runs for p in run["phases"] if p.get("cores") and p["rate"]]
    if with_cores:
        role_names = sorted({role for _, p in with_cores for role in p["cores"]})
        out += ["## CPU per request, by process (ms of CPU per request; the machine has 2 cores = 2,000 ms/s)", "",
                "| scale | phase | " + " | ".join(role_names) + " |", "|---|---|" + "---|" * len(role_names)]
        for run, p in with_cores:
            if "half peak" in p["name"]:
                continue
            out.append(f"| {_scale(run['extra']['scale'])} | {p['name']} | " + " | ".join(
                f"{1000 * p['cores'].get(role, 0.0) / p['rate']:.2f}" for role in role_names) + " |")
        out.append("")
    out += ["## Acceptance race: exactness", "",
            "| phase | acceptances (200) | refused 410 / 460 | tenders filled | sum(accepted) <= offered, = when filled | problems |",
            "|---|---|---|---|---|---|"]
    for run in runs:
        for p in run["phases"]:
            if "exactness" in p:
                e = p["exactness"]
                out.append(f"| {_scale(run['extra']['scale'])}: {p['name']} | {p['codes'].get('200', 0)} | "
                           f"{p['codes'].get('410', 0)} / {p['codes'].get('460', 0)} | {e['exhausted']} of {len(e['tenders'])} | "
                           f"{'exact' if e['exact'] else 'NOT EXACT'} | {'; '.join(e['problems'][:3]) or 'none'} |")
    out += ["", "positions.verify (stored change points against the transactions): " + "; ".join(
        f"{_scale(run['extra']['scale'])} {v['when']}: {v['count']} problems ({v['seconds']:.1f} s)"
        for run in runs for v in run["extra"].get("verify", [])), ""]
    out += ["## Memory: peak RSS per worker under load", "", "| scale | server | workers seen | peak RSS per worker (MiB) |",
            "|---|---|---|---|"]
    for run in runs:
        for key, name in (("rss_service", "service"), ("rss_baseline", "baseline"), ("rss_scale_out", "service-2")):
            rss = run["extra"].get(key)
            if rss:
                values = sorted(rss.values())
                out.append(f"| {_scale(run['extra']['scale'])} | {name} | {len(values)} | "
                           f"{', '.join(f'{v / 2**20:.0f}' for v in values)} |")
    for run in runs:
        profile = run["extra"].get("profile")
        if not profile:
            continue
        out += ["", f"## Where a request's time goes (py-spy, {_scale(run['extra']['scale'])}, both workers)", ""]
        for label, p in profile.items():
            out += [f"**{label}**: {p['rate']:.0f} req/s while sampled, {p['samples']:,} samples, "
                    f"workers idle {100 * p['idle_share']:.0f} % of the time.", "",
                    "| step | share of busy time | ms per request |", "|---|---|---|"]
            out += [f"| {name} | {share:.1f} % | {ms:.3f} |" for name, share, ms in p["table"]]
            out.append("")
    for run in runs:
        summary = run["extra"].get("explain")
        if summary:
            out += [f"## EXPLAIN (ANALYZE, BUFFERS) at {_scale(run['extra']['scale'])}", "",
                    f"Full plans: `bench/results/{data['date']}-explain-{run['extra']['scale']}*.txt`.", "",
                    "| query | execution ms | top node | sequential scans |", "|---|---|---|---|"]
            out += [f"| {s['label']} | {_ms(s['ms'])} | {s['top'][:80]} | {'; '.join(s['seq_scans'])[:120] or 'none'} |"
                    for s in summary]
            out.append("")
    out += targets(runs)
    return "\n".join(out) + "\n"


def targets(runs) -> list[str]:
    out = ["## Targets of issue 5", "", "| target | figure | met? |", "|---|---|---|"]
    if not runs:
        return out
    first, last = runs[0], runs[-1]
    for run in runs:
        b, s = _phase(run, BASELINE), _phase(run, CREATE)
        if b and s:
            ok = s["rate"] >= 0.8 * b["rate"] and s["rate"] >= 800 and s["errors"] == 0
            out.append(f"| EiCreateTender >= 0.8 x baseline and >= 800 req/s ({_scale(run['extra']['scale'])}) | "
                       f"{s['rate']:.0f} req/s = {s['rate'] / b['rate']:.2f} x {b['rate']:.0f} | {_met(ok)} |")
    for run in runs:
        d = _phase(run, DISTINCT)
        if d:
            out.append(f"| EiCreateTransaction uncontended >= 500 req/s ({_scale(run['extra']['scale'])}) | "
                       f"{d['rate']:.0f} req/s | {_met(d['rate'] >= 500 and d['errors'] == 0)} |")
    exact = [p["exactness"]["exact"] for run in runs for p in run["phases"] if "exactness" in p]
    out.append(f"| Under contention, exact (every contended run, 1 and 2 servers) | {sum(exact)} of {len(exact)} exact | "
               f"{_met(exact and all(exact))} |")
    for name, label in (("EiRequestTender (100 of the party's) at half peak", "EiRequestTender"),
                        ("EiRequestTransaction (100 of the party's) at half peak", "EiRequestTransaction")):
        p = _phase(last, name)
        if p:
            out.append(f"| {label}, 100 items of {_scale(last['extra']['scale'])}: p99 <= 20 ms at half peak | "
                       f"p99 {_ms(p['p99_ms'])} ms at {p['rate']:.0f} req/s, {p['items']:.0f} items | "
                       f"{_met(p['p99_ms'] <= 20 and p['errors'] == 0)} |")
    p = next((p for run in runs for p in run["phases"] if p["name"].startswith("EiRequestPosition pos-0 at half")), None)
    if p:
        out.append(f"| Position profile (288 steps) from 10^5 transactions: p99 <= 50 ms | p99 {_ms(p['p99_ms'])} ms "
                   f"at {p['rate']:.0f} req/s, {p['items']:.0f} steps | {_met(p['p99_ms'] <= 50 and p['errors'] == 0)} |")
    if len(runs) > 1:
        for name in MAIN_OPS:
            a, b = _phase(first, name), _phase(last, name)
            if a and b and a["rate"]:
                ratio = b["rate"] / a["rate"]
                out.append(f"| Throughput at {_scale(last['extra']['scale'])} within 10 % of {_scale(first['extra']['scale'])}: "
                           f"{name} | {b['rate']:.0f} / {a['rate']:.0f} = {ratio:.2f} | {_met(ratio >= 0.9)} |")
    errors = sum(p["errors"] for run in runs for p in run["phases"])
    out.append(f"| Error count 0 | {errors} errors in all phases | {_met(errors == 0)} |")
    return out


if __name__ == "__main__":
    path = Path(sys.argv[1])
    path.with_suffix(".md").write_text(render(json.loads(path.read_text())))

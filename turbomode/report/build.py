"""Collect the report's data (one read pass over the database) and render it into the template."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from html import escape
from importlib import resources
from string import Template
from typing import Any

from turbomode import __version__
from turbomode.clock import iso, parse_iso
from turbomode.report.charts import equity_svg


RECENT_RUNS = 25


@dataclass
class ReportData:
    generated_at: str
    data_source: str
    freshness_hours: int
    signals: list[dict[str, Any]]
    last_update: str | None  # newest open signal, as `turbomode signals` reports it
    stale: bool
    sample: bool
    jobs: list[dict[str, Any]]  # `turbomode status` per-job facts
    problems: list[str]  # what `turbomode status` says is unhealthy
    runs: list[dict[str, Any]]
    sector_stats: list[dict[str, Any]]
    backtest: dict[str, Any] | None
    drift: dict[str, Any] | None
    calibration: dict[str, Any] | None = None  # the champions' test-window calibration (calibration_facts)
    warnings: list[str] | None = None  # what `turbomode status` warns about (a one-sided signal mix, ...)
    freshness: dict[str, Any] | None = None  # what the page needs to judge staleness when it is opened


def collect(ctx, now: datetime) -> ReportData:
    """Everything the page shows. Freshness and sample-data flags are `turbomode signals`' own."""
    from turbomode.store import backtests
    from turbomode.store import drift as drift_store
    from turbomode.store import signals as signal_store
    from turbomode.tasks import status
    from turbomode.tasks.signals_view import view

    conn = ctx.connect()
    cfg = ctx.config
    v = view(ctx, now)
    health = status.collect(ctx, now)
    return ReportData(
        generated_at=iso(now),
        data_source=signal_store.data_source(conn) or cfg["data.source"],
        freshness_hours=v.freshness_hours,
        signals=v.rows,
        last_update=v.updated_at,
        stale=v.stale,
        sample=v.sample,
        jobs=health["jobs"],
        problems=health["problems"],
        warnings=health["warnings"],
        runs=status.history(ctx, None, RECENT_RUNS),
        sector_stats=signal_store.sector_stats(conn),
        backtest=backtests.load(conn),
        drift=drift_store.latest(conn),
        calibration=calibration_facts(conn),
        freshness=_freshness_facts(conn, now, v),
    )


def calibration_facts(conn) -> dict[str, Any] | None:
    """The champions' test-window calibration over all sectors, and each champion's own (stored with
    the model version: model_metadata metrics of its ensemble).

    The latest training run's pooled figures are the champions' only when every champion is of that
    run's version: a `train --sector` run pooled its one sector, and a run whose versions stayed
    challengers pooled models that make no signal. Otherwise the champions' own tables are pooled
    (ml.metrics.pool_side_calibration: exact for the ECE, the Brier score and the bins), each on its
    own test window."""
    import json

    from turbomode.ml.metrics import pool_side_calibration
    from turbomode.store import models as model_store

    run = model_store.latest_training_run(conn)
    sectors = {}
    champions = model_store.champion_files(conn)
    for sector, (version, files) in champions.items():
        ens = next((f for f in files if f["model_type"] == "ensemble"), None)
        metrics = json.loads(ens["metrics"]) if ens and ens.get("metrics") else {}
        test = metrics.get("test") or {}
        if test.get("reliability"):
            sectors[sector] = {"version": version, "window": [ens.get("test_start"), ens.get("test_end")], **test}
    versions = sorted({v for v, _ in champions.values()})
    if run is not None and versions in ([], [run.get("version")]):  # no champion yet: the run is all there is
        pooled, version = ((run.get("metrics") or {}).get("test") or {}), run.get("version")
    else:
        pooled = pool_side_calibration(list(sectors.values())) if sectors else {}
        version = ", ".join(sorted({s["version"] for s in sectors.values()}))
    if not pooled.get("reliability") and not sectors:
        return None
    return {"version": version, "pooled": pooled, "sectors": sectors}


# Sessions embedded in the page, so that it judges staleness by the same rule when opened later
# (store.state.signal_freshness); a page opened after the last one is simply stale.
PAGE_SESSIONS_AHEAD_DAYS = 120


def _freshness_facts(conn, now: datetime, v) -> dict[str, Any]:
    from datetime import timedelta

    from turbomode.store.sessions import closes_between

    days = [d for d in (v.session, v.scan_session) if d] + [(now - timedelta(days=10)).date().isoformat()]
    sessions = closes_between(conn, min(days), (now + timedelta(days=PAGE_SESSIONS_AHEAD_DAYS)).date().isoformat())
    return {"generated_at": iso(now), "updated_at": v.updated_at and iso(parse_iso(v.updated_at)),
            "newest_session": v.session, "last_scan_at": v.scan_at, "last_scan_session": v.scan_session,
            "limit_hours": v.freshness_hours, "sessions": sessions}


# --- formatting ------------------------------------------------------------------------------

def fmt_time(text: str | None) -> str:
    if not text:
        return "never"
    try:
        return parse_iso(text).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return text


def fmt_age(now: datetime, text: str | None) -> str:
    if not text:
        return ""
    try:
        secs = (now - parse_iso(text)).total_seconds()
    except ValueError:
        return ""
    if secs < 0:
        return "in the future"
    if secs < 3600:
        return f"{secs / 60:.0f} min ago"
    if secs < 48 * 3600:
        return f"{secs / 3600:.0f} h ago"
    return f"{secs / 86400:.0f} days ago"


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt_num(v: Any, digits: int = 2) -> str:
    return f"{v:,.{digits}f}" if _finite(v) else "–"


def fmt_pct(v: Any, digits: int = 1) -> str:
    return f"{v * 100:.{digits}f}%" if _finite(v) else "–"


def e(v: Any) -> str:
    from turbomode.redact import redact

    return escape(redact("" if v is None else str(v)))


def badge(status: str | None) -> str:
    s = status or "none"
    return f'<span class="badge {e(s)}">{e(s)}</span>'


# --- sections ----------------------------------------------------------------------------------

SIGNAL_HEADERS = [  # key, label, numeric
    ("symbol", "Symbol", False),
    ("signal_type", "Type", False),
    ("confidence", "Confidence", True),
    ("entry_price", "Entry", True),
    ("target_price", "Target", True),
    ("stop_loss", "Stop", True),
    ("sector", "Sector", False),
    ("market_date", "Session", False),
    ("expiry_date", "Expires", False),
]


def signal_headers() -> str:
    out = []
    for key, label, num in SIGNAL_HEADERS:
        cls = ' class="num"' if num else ""
        out.append(f'<th{cls} data-key="{key}"{" data-num" if num else ""} aria-sort="none">'
                   f'<button type="button">{label}<span class="arrow">\u25b4\u25be</span></button></th>')
    return "".join(out)


def signal_rows(signals: list[dict[str, Any]]) -> str:
    from turbomode.store.signals import expiry_of, session_of

    out = []
    for s in signals:
        typ = (s.get("signal_type") or "").upper()
        session = session_of(s) or ""
        expires = expiry_of(s) or ""
        conf = s.get("confidence")
        width = max(0, min(60, round((conf or 0) * 60)))
        search = f"{s.get('symbol') or ''} {s.get('sector') or ''}".lower()
        cells = [
            f'<td data-key="symbol"><strong>{e(s.get("symbol"))}</strong></td>',
            f'<td data-key="signal_type"><span class="type {e(typ)}">{e(typ)}</span></td>',
            f'<td class="num" data-key="confidence" data-num data-v="{conf if _finite(conf) else ""}">'
            f'<span class="bar" style="width:{width}px"></span>{fmt_pct(conf)}</td>',
        ]
        for key in ("entry_price", "target_price", "stop_loss"):
            v = s.get(key)
            # before the fill bar exists the entry is the session's close (the fill follows at the next open)
            tag = (' <small class="muted" title="reference close: fills at the next open">ref</small>'
                   if key == "entry_price" and s.get("price_basis") == "close" else "")
            cells.append(f'<td class="num" data-key="{key}" data-num data-v="{v if _finite(v) else ""}">'
                         f'{fmt_num(v)}{tag}</td>')
        cells += [
            f'<td data-key="sector">{e(s.get("sector"))}</td>',
            f'<td data-key="market_date">{e(session)}</td>',
            f'<td data-key="expiry_date">{e(expires)}</td>',
        ]
        out.append(f'<tr class="signal" data-type="{e(typ)}" data-sector="{e(s.get("sector"))}" '
                   f'data-search="{e(search)}">{"".join(cells)}</tr>')
    return "\n".join(out)


def banners(d: ReportData, now: datetime) -> str:
    out = []
    if d.stale:
        if d.last_update:
            why = (f"Signals were last updated {fmt_time(d.last_update)} ({fmt_age(now, d.last_update)}), "
                   f"older than the {d.freshness_hours} h freshness limit.")
        else:
            why = "No scan has succeeded for the last session yet."
        out.append(f'<div class="banner stale" id="stale-banner" role="alert">STALE<small>{e(why)} '
                   "Run <code>turbomode catchup</code> (or <code>turbomode scan</code>) to refresh them."
                   "</small></div>")
    if d.problems:
        items = "".join(f"<li>{e(p)}</li>" for p in d.problems)
        out.append(f'<div class="banner attention" id="health-banner">Needs attention<small><ul>{items}</ul>'
                   "</small></div>")
    if d.warnings:
        items = "".join(f"<li>{e(w)}</li>" for w in d.warnings)
        out.append(f'<div class="banner attention" id="warning-banner">Worth a look<small><ul>{items}</ul>'
                   "</small></div>")
    if d.sample:
        out.append('<div class="banner sample" id="sample-banner">SAMPLE DATA<small>These signals come '
                   "from the synthetic sample market, not real prices. Do not trade on them.</small></div>")
    return "\n".join(out)


def cards(d: ReportData, now: datetime) -> str:
    n_buy = sum(1 for s in d.signals if (s.get("signal_type") or "").upper() == "BUY")
    n_sell = sum(1 for s in d.signals if (s.get("signal_type") or "").upper() == "SELL")
    items = [
        ("Active signals", f"{len(d.signals)}", f"{n_buy} BUY · {n_sell} SELL"),
        ("Last updated", f'<span id="age-last-updated">{fmt_age(now, d.last_update) or "never"}</span>',
         fmt_time(d.last_update)),
    ]
    bt = d.backtest
    if bt:
        overall = _overall(bt)
        items.append(("Backtest Sharpe", fmt_num(overall.get("sharpe")),
                      f"hit rate {fmt_pct(overall.get('hit_rate'))} · {overall.get('trades') or 0} trades"))
    if d.drift:
        items.append(("Drift", e(d.drift.get("level") or "none"), fmt_time(d.drift.get("created_at"))))
    failed = [j["name"] for j in d.jobs if j["last_status"] in ("failed", "abandoned", "blocked")]
    late = [j["name"] for j in d.jobs if j["overdue"]]
    items.append(("Jobs failing / late", f"{len(failed)} / {len(late)}",
                  ", ".join(failed + [f"{n} (late)" for n in late]) or "all on schedule"))
    return "".join(f'<div class="card"><div class="k">{k}</div><div class="v">{v}</div>'
                   f'<div class="muted">{e(sub)}</div></div>' for k, v, sub in items)


def job_rows(d: ReportData, now: datetime) -> str:
    out = []
    for j in d.jobs:
        note = "disabled" if not j["enabled"] else (j.get("last_error") or (j["reason"] if j["overdue"] else ""))
        status = "running" if j["running"] else j["last_status"] or "never"
        missed = (f'{j["missed"]}{"+" if j.get("missed_capped") else ""} missed' if j["missed"] else "")
        if j["overdue"]:
            missed = (missed + " · " if missed else "") + "overdue"
        out.append(
            f'<tr><td><strong>{e(j["name"])}</strong></td>'
            f'<td class="wrap"><code>{e(j["schedule"])}</code> <span class="muted">{e(j.get("schedule_words") or "")}</span></td>'
            f'<td>{badge(status)}</td>'
            f'<td>{fmt_time(j["last_success"])} <span class="muted">{fmt_age(now, j["last_success"])}</span></td>'
            f'<td>{fmt_time(j["next_run"]) if j["next_run"] else "–"}</td><td>{e(missed)}</td>'
            f'<td class="err" title="{e(note)}">{e(note)}</td></tr>')
    return "\n".join(out)


def _duration(r: dict[str, Any]) -> str:
    secs = r.get("duration_seconds")
    if secs is None:
        return ""
    return f"{secs:.0f} s" if secs < 120 else f"{secs / 60:.1f} min"


def run_rows(d: ReportData) -> str:
    if not d.runs:
        return '<tr><td colspan="7" class="empty">No runs recorded yet.</td></tr>'
    return "\n".join(
        f'<tr><td class="num">{e(r["id"])}</td><td>{e(r["job"])}</td><td>{e(r["trigger"])}</td>'
        f'<td>{badge(r["status"])}</td><td>{fmt_time(r["started_at"])}</td><td class="num">{_duration(r)}</td>'
        f'<td class="err" title="{e(r.get("error"))}">{e(r.get("error"))}</td></tr>' for r in d.runs)


def sector_stats_html(d: ReportData) -> str:
    if not d.sector_stats:
        return '<p class="note">No closed signals yet.</p>'
    rows = "\n".join(
        f'<tr><td>{e(s["sector"])}</td><td><span class="type {e(s["signal_type"])}">{e(s["signal_type"])}</span>'
        f'</td><td class="num">{e(s["total_signals"])}</td><td class="num">{fmt_pct(s["hit_rate"])}</td>'
        f'<td class="num">{fmt_pct(s["avg_return"], 2)}</td></tr>' for s in d.sector_stats)
    return ('<div class="scroll"><table id="sector-stats"><thead><tr><th>Sector</th><th>Type</th>'
            '<th class="num">Closed</th><th class="num">Hit rate</th><th class="num">Mean return</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>")


SLICE_ORDER = {"overall": 0, "ensemble": 1, "benchmark": 2, "buy_hold": 2, "model": 3, "sector": 4, "fold": 5}


def _overall(bt: dict[str, Any]) -> dict[str, Any]:
    for r in bt.get("results") or []:
        if r["slice_kind"] == "overall":
            return r
    return bt.get("metrics") if isinstance(bt.get("metrics"), dict) else {}


def backtest_html(d: ReportData) -> str:
    bt = d.backtest
    if not bt:
        return '<p class="note">No backtest yet: run <code>turbomode backtest</code>.</p>'
    models = bt.get("models")
    models_text = ", ".join(models) if isinstance(models, list) else (models or "")
    meta = (f'Run {fmt_time(bt.get("created_at"))} · test period {e(bt.get("start_date"))} to '
            f'{e(bt.get("end_date"))} · {e(bt.get("folds"))} folds'
            + (f" · models {e(models_text)}" if models_text else "")
            + " · filled at the next open"
            + (' · <strong>sample data</strong>' if (bt.get("data_source") or "") == "sample" else ""))
    bias = (bt.get("params") or {}).get("survivorship_note") or (bt.get("metrics") or {}).get("survivorship_note")
    if bias:
        meta += f'</p><p class="note" id="survivorship"><strong>{e(bias[0].upper() + bias[1:])}</strong>'

    chart = equity_svg(bt.get("equity") or [])
    results = sorted(bt.get("results") or [], key=lambda r: (SLICE_ORDER.get(r["slice_kind"], 9), r["slice"]))
    floor = int(((bt.get("metrics") or {}).get("min_trades")) or 0)

    def evidence(r: dict[str, Any]) -> str:
        """Profit factor and Sharpe, or why there are none: below backtest.min_trades they are not evidence."""
        if r["slice_kind"] != "benchmark" and (r["trades"] or 0) < floor:
            return f'<td class="num muted" colspan="2">too few trades ({e(r["trades"] or 0)})</td>'
        return f'<td class="num">{fmt_num(r["profit_factor"])}</td><td class="num">{fmt_num(r["sharpe"])}</td>'

    if results:
        rows = "\n".join(
            f'<tr><td class="muted">{e(r["slice_kind"])}</td><td><strong>{e(r["slice"])}</strong></td>'
            f'<td class="num">{e(r["trades"])}</td><td class="num">{fmt_pct(r["hit_rate"])}</td>'
            f'<td class="num">{fmt_pct(r["mean_return"], 2)}</td>{evidence(r)}'
            f'<td class="num">{fmt_pct(r["max_drawdown"])}</td>'
            f'<td class="num">{fmt_pct(r["exposure"], 0)}</td><td class="num">{fmt_pct(r["total_return"])}</td></tr>'
            for r in results)
        table = ('<div class="scroll"><table id="backtest-metrics"><thead><tr><th>Slice</th><th></th>'
                 '<th class="num">Trades</th><th class="num">Hit rate</th><th class="num">Mean return</th>'
                 '<th class="num">Profit factor</th><th class="num">Sharpe</th><th class="num">Max drawdown</th>'
                 '<th class="num">Exposure</th><th class="num">Total return</th></tr></thead>'
                 f"<tbody>{rows}</tbody></table></div>")
    else:
        table = '<p class="note">This backtest recorded no per-slice results.</p>'
    return f'<p class="note">{meta}</p>{chart}{table}'


def calibration_html(d: ReportData) -> str:
    """Reliability diagrams of P(BUY) and P(SELL) on the champions' test window: all sectors, and each
    sector's on demand (a <details> per sector)."""
    from turbomode.report.charts import reliability_svg

    c = d.calibration
    if not c:
        return '<p class="note">No calibration recorded yet: run <code>turbomode train</code>.</p>'
    pooled = c.get("pooled") or {}
    head = ""
    if pooled.get("reliability"):
        rows = f"{pooled.get('rows') or 0:,}"
        which = (f'Versions {e(c.get("version"))}, each champion on its own test window (none chose it)'
                 if "," in str(c.get("version")) else f'Version {e(c.get("version"))}, test window (it chose nothing)')
        head = (f'<p class="note">{which}: '
                f'{e(rows)} rows. ECE P(BUY) '
                f'{fmt_num(pooled.get("ece_buy"), 3)}, P(SELL) {fmt_num(pooled.get("ece_sell"), 3)}; Brier '
                f'{fmt_num(pooled.get("brier_buy"), 3)} / {fmt_num(pooled.get("brier_sell"), 3)}. A dot on the '
                'diagonal: signals given that confidence reached their target that often.</p>'
                + reliability_svg(pooled["reliability"], title="Reliability of P(BUY) and P(SELL), all sectors",
                                  ident="rel-all"))
    parts = []
    for i, (sector, t) in enumerate(sorted((c.get("sectors") or {}).items())):
        chart = reliability_svg(t["reliability"], title=f"Reliability of P(BUY) and P(SELL), {sector}",
                                ident=f"rel-{i}")
        parts.append(f'<details class="sector-calibration"><summary>{e(sector)} · ECE BUY '
                     f'{fmt_num(t.get("ece_buy"), 3)}, SELL {fmt_num(t.get("ece_sell"), 3)} · '
                     f'{e(t.get("rows", 0))} rows</summary>{chart}</details>')
    return head + "".join(parts)


def drift_html(d: ReportData) -> str:
    dr = d.drift
    if not dr:
        return '<p class="note">No drift check yet: run <code>turbomode drift</code>.</p>'
    results = dr.get("results") or []
    verdicts = [r for r in results if r["kind"] != "feature"]  # sector feature verdicts, predictions, outcomes
    n_sig = sum(1 for r in verdicts if r["level"] == "significant")
    n_mod = sum(1 for r in verdicts if r["level"] == "moderate")
    head = (f'<p class="note">Checked {fmt_time(dr.get("created_at"))} against model version '
            f'{e(dr.get("model_version") or "–")}: {badge(dr.get("level") or "none")} · '
            f'{n_sig} significant, {n_mod} moderate of {len(verdicts)} verdicts '
            f'({len(results) - len(verdicts)} single features measured).</p>')
    flagged = [r for r in results if r["level"] in ("significant", "moderate")]
    flagged.sort(key=lambda r: (r["kind"] == "feature", r["level"] != "significant"))
    if not flagged:
        return head + '<p class="note">Nothing drifted beyond the moderate level.</p>'
    shown = flagged[:15]

    def value(r: dict[str, Any]) -> str:
        if r["kind"] == "features":
            return e(int(r["value"] or 0))
        return fmt_pct(r["value"]) if r["kind"] == "outcome" else fmt_num(r["value"], 3)

    rows = "\n".join(
        f'<tr><td>{e(r["sector"])}</td><td class="muted">{e(r["kind"])}</td><td>{e(r["name"])}</td>'
        f'<td class="num">{value(r)}</td><td>{badge(r["level"])}</td></tr>' for r in shown)
    more = len(flagged) - len(shown)
    tail = f'<p class="note">… and {more} more (<code>turbomode drift --all</code> lists them).</p>' if more else ""
    return (head + '<div class="scroll"><table id="drift"><thead><tr><th>Sector</th><th>Kind</th><th>Measure</th>'
            f'<th class="num">Value</th><th>Level</th></tr></thead><tbody>{rows}</tbody></table></div>{tail}')


def render(d: ReportData, now: datetime) -> str:
    template = Template(resources.files("turbomode.report").joinpath("template.html").read_text("utf-8"))
    sectors = sorted({s.get("sector") for s in d.signals if s.get("sector")})
    return template.substitute(
        version=e(__version__),
        generated=fmt_time(d.generated_at),
        generated_short=e(d.generated_at[:10]),
        last_updated=f"{fmt_time(d.last_update)}" + (f" ({fmt_age(now, d.last_update)})" if d.last_update else ""),
        data_source=e(d.data_source),
        banners=banners(d, now),
        cards=cards(d, now),
        sector_options="".join(f'<option value="{e(s)}">{e(s)}</option>' for s in sectors),
        signal_count=f"{len(d.signals)} signals",
        signal_headers=signal_headers(),
        signal_rows=signal_rows(d.signals),
        signals_empty='<div class="empty">No active signals.</div>' if not d.signals else "",
        job_rows=job_rows(d, now),
        run_rows=run_rows(d),
        sector_stats=sector_stats_html(d),
        backtest=backtest_html(d),
        drift=drift_html(d),
        calibration=calibration_html(d),
        # JSON inside <script>: "</" is escaped so no value can end the element
        freshness=json.dumps(d.freshness or {}).replace("</", "<\\/"),
    )

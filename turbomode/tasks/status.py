"""``status``: is anything late, failed or stale? One dictionary, the same for the table and ``--json``.

Healthy means: no enabled job is overdue or ended failed/abandoned/blocked, prices reach the last
completed NYSE session, the newest signal is within ``signals.freshness_hours`` (or is for the last
completed session), and a champion model exists. Standard library only (it must start fast).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from turbomode.clock import iso, parse_iso
from turbomode.context import Context
from turbomode.jobs import JOBS, ORDER
from turbomode.ops import runner
from turbomode.schedule import cron, planner
from turbomode.store import prices, state

BAD_RESULTS = ("failed", "abandoned", "blocked")


def _age_s(now: datetime, then: datetime | None) -> int | None:
    return int((now - then).total_seconds()) if then else None


def collect(ctx: Context, now: datetime) -> dict[str, Any]:
    abandoned = runner.sweep(ctx, now)
    conn = ctx.connect()
    cfg = ctx.config
    tzname = cfg["general.timezone"]
    tz = cron.zone(tzname)
    states = runner.read_states(ctx, now)
    last = state.last_runs(conn)
    running = state.running(conn)
    problems: list[str] = []
    warnings: list[str] = []
    jobs = []
    for name in ORDER:
        if name not in JOBS:
            continue
        st = states[name]
        run = last.get(name)
        live = running.get(name)
        is_overdue = planner.overdue(st, now, running=live is not None)
        last_status = run["status"] if run else None
        if st.enabled:
            if is_overdue:
                problems.append(f"{name} is overdue: {st.reason}")
            if last_status in BAD_RESULTS:
                # rows written before the fix carry the status again at the start of their error
                detail = (run["error"] or "no detail").removeprefix(f"{last_status}: ")
                problems.append(f"{name}'s last run {run['id']} {last_status}: {detail}")
        if live is not None and live["heartbeat_at"]:
            quiet = _age_s(now, parse_iso(live["heartbeat_at"])) or 0
            if quiet > cfg["run.stale_heartbeat_minutes"] * 60:
                warnings.append(f"{name} run {live['id']} (pid {live['pid']}) has not beaten its heartbeat for "
                                f"{quiet // 60} minutes; if it is hung, end that process")
        jobs.append({
            "name": name,
            "schedule": st.schedule,
            "schedule_words": cron.describe(st.schedule),
            "enabled": st.enabled,
            "last_success": iso(st.last_success) if st.last_success else None,
            "last_success_age_seconds": _age_s(now, st.last_success),
            "last_status": last_status,
            "last_run_id": run["id"] if run else None,
            "last_error": run["error"] if run and last_status not in ("succeeded",) else None,
            "running": live is not None,
            "running_run_id": live["id"] if live else None,
            "scheduled_for": iso(st.scheduled_for) if st.scheduled_for else None,
            "next_run": iso(st.next_run) if st.next_run and st.enabled else None,
            "missed": st.missed,
            "missed_capped": st.missed_capped,
            "overdue": is_overdue,
            "reason": st.reason,
        })
        if st.clock_moved_back:
            warnings.append(f"{name}: {st.reason}")

    fresh = freshness(ctx, now)
    data, signals, scan = fresh["data"], fresh["signals"], fresh["scan"]
    behind = data["behind"]
    if not data["fresh"]:
        if data["latest_bar"] is None:
            problems.append("no prices stored yet; run `turbomode ingest`")
        elif data["last_session"] and data["latest_bar"] < data["last_session"]:
            problems.append(f"prices end {data['latest_bar']} but the last completed NYSE session is "
                            f"{data['last_session']}; run `turbomode ingest`")
        else:
            problems.append(f"prices of {behind['count']} of {behind['of']} symbols end before the last completed "
                            f"NYSE session {data['last_session']} ({_listed(behind['symbols'])}); check the "
                            "data source for them and run `turbomode ingest`")
    elif behind["count"]:
        warnings.append(f"prices of {behind['count']} of {behind['of']} symbols end before the last completed NYSE "
                        f"session ({_listed(behind['symbols'])})")

    restoring = _restore_in_progress(conn, now, cfg["run.stale_heartbeat_minutes"])
    if restoring is not None:
        warnings.append(f"a backup is being restored into the database (pid {restoring['pid']} since "
                        f"{restoring['acquired_at']}): jobs that start now are skipped; run `turbomode catchup` "
                        "once it has finished")

    from turbomode.store import quarantine

    held = quarantine.summary(conn)
    data["quarantined"] = held["count"]
    if held["count"]:
        names = ", ".join(held["symbols"][:10]) + (" ..." if len(held["symbols"]) > 10 else "")
        warnings.append(f"{held['count']} suspect bar(s) of {names} are quarantined (kept out of features, labels "
                        "and fills); correct the source, or confirm them with `turbomode ingest --full --symbols "
                        f"{held['symbols'][0]}`")

    if not signals["fresh"]:
        problems.append(signals["stale_reason"])
    mix = _open_mix_warning(conn)
    if mix:
        warnings.append(mix)

    models = state.model_state(conn)
    if models.champion is None:
        problems.append(state.no_champion_text(models.challenger))
    unusable = _unusable_models(conn, scan)
    for sector, m in unusable.items():
        if m["using"] is None:
            problems.append(f"{sector} has no usable model (the last scan gave it no signals): {m['problem']}")
        else:
            warnings.append(f"{sector} is served by its previous champion {m['using']}: {m['problem']}")

    from turbomode.redact import redact_obj

    return redact_obj({
        "at": iso(now),
        "timezone": tz.key,
        "timezone_setting": tzname,
        "jobs": jobs,
        "data": data,
        "signals": signals,
        "models": {"champion": models.champion, "champion_created_at": models.champion_created_at,
                   "challenger": models.challenger, "challenger_created_at": models.challenger_created_at,
                   "unusable": {k: v for k, v in unusable.items() if v["using"] is None},
                   "fallback": {k: v for k, v in unusable.items() if v["using"] is not None},
                   "fresh": models.champion is not None and not any(v["using"] is None for v in unusable.values())},
        "abandoned_now": [{"run_id": a.run_id, "job": a.job, "why": a.why} for a in abandoned],
        "problems": problems,
        "warnings": warnings,
        "healthy": not problems,
    })


def _open_mix_warning(conn) -> str | None:
    """The signal-mix rule (ml.metrics.one_sided) on the open signals: what the user sees and acts on."""
    import sqlite3

    from turbomode.ml.metrics import one_sided_text
    from turbomode.store.signals import summary

    try:
        s = summary(conn)
    except sqlite3.Error:  # the seed's table, not migrated (status never writes): freshness speaks for it
        return None
    return one_sided_text(s["buy"], s["sell"], "the {total} open signals")


def _listed(symbols: dict[str, str | None]) -> str:
    shown = [f"{s} {d or 'none'}" for s, d in list(symbols.items())[:10]]
    return ", ".join(shown) + (" ..." if len(symbols) > 10 else "")


def _behind(conn, session: str | None) -> dict[str, Any]:
    """Symbols the last whole ingest fetched whose bars end before ``session`` (re-read now: a later
    ingest of some of them may have caught them up). ``of``: how many that ingest fetched."""
    import json

    from turbomode.store.ledger import SUCCESS

    out: dict[str, Any] = {"count": 0, "of": 0, "symbols": {}}
    marks = ",".join("?" * len(SUCCESS))
    row = conn.execute(f"SELECT summary FROM task_runs WHERE task = 'ingest' AND status IN ({marks})"
                       " AND json_valid(summary) AND COALESCE(json_extract(summary, '$.scope'), '') != ?"
                       " ORDER BY id DESC LIMIT 1", (*SUCCESS, state.SUBSET)).fetchone()
    if row is None or session is None:
        return out
    summary = json.loads(row[0])
    listed = summary.get("behind") or {}
    if not isinstance(listed, dict):
        return out
    now_last = prices.last_dates(conn, list(listed))
    still = {s: (now_last[s].isoformat() if s in now_last else None) for s in listed
             if s not in now_last or now_last[s].isoformat() < session}
    unlisted = max(0, int(summary.get("behind_count") or 0) - len(listed))  # beyond the listed ones
    return {"count": len(still) + unlisted, "of": int(summary.get("fetched_ok") or 0), "symbols": still}


def freshness(ctx: Context, now: datetime) -> dict[str, Any]:
    """Do prices reach the last completed NYSE session, and are the signals fresh? Status's ``data`` and
    ``signals`` (and the last scan), which is all that catchup's staleness alerts need: they skip the
    jobs' cron math and descriptions."""
    conn = ctx.connect()
    bar = prices.latest_bar_date(conn)
    session = state.last_completed_session(conn, now)
    limit_h = ctx.config["signals.freshness_hours"]
    fresh = state.signal_freshness(conn, now, limit_h)  # young enough, or for the last session (weekends)
    sig = fresh.state
    behind = _behind(conn, session)
    few = behind["count"] <= state.BEHIND_SHARE * max(1, behind["of"])
    return {
        "data": {"latest_bar": bar, "last_session": session, "behind": behind,
                 "fresh": bar is not None and (session is None or bar >= session) and few},
        "signals": {"active": sig.active, "newest": iso(sig.newest_created_at) if sig.newest_created_at else None,
                    "newest_market_date": sig.newest_market_date,
                    "age_hours": None if fresh.age_hours is None else round(fresh.age_hours, 1),
                    "limit_hours": limit_h,
                    "last_scan_at": iso(fresh.scan.started_at) if fresh.scan else None,
                    "last_scan_session": fresh.scan.session if fresh.scan else None,
                    "stale_reason": None if fresh.fresh else state.stale_signals_text(fresh),
                    "fresh": fresh.fresh},
        "scan": fresh.scan,
    }


def _unusable_models(conn, scan) -> dict[str, dict[str, Any]]:
    """Sectors whose champion the last scan could not load, while that version is still champion
    (a `train` that replaced it settles the matter before the next scan does)."""
    from turbomode.store.models import champion_versions

    found = (scan.summary.get("model_problems") if scan is not None else None) or {}
    if not isinstance(found, dict) or not found:
        return {}
    current = champion_versions(conn)
    return {sector: m for sector, m in sorted(found.items())
            if isinstance(m, dict) and m.get("champion") is not None and current.get(sector) == m.get("champion")}


def history(ctx: Context, job: str | None, limit: int) -> list[dict[str, Any]]:
    """The ledger newest first, with durations (seconds; None while running)."""
    import json

    from turbomode.store import ledger

    out = []
    for r in ledger.history(ctx.connect(), job, limit):
        started = parse_iso(r["started_at"])
        finished = parse_iso(r["finished_at"]) if r["finished_at"] else None
        try:
            summary = json.loads(r["summary"]) if r["summary"] else None
        except ValueError:
            summary = r["summary"]
        out.append({
            "id": r["id"], "job": r["task"], "trigger": r["trigger"], "status": r["status"],
            "scheduled_for": r["scheduled_for"], "started_at": r["started_at"], "finished_at": r["finished_at"],
            "duration_seconds": round((finished - started).total_seconds(), 3) if finished else None,
            "missed_count": r["missed_count"], "parent_run_id": r["parent_run_id"], "exit_code": r["exit_code"],
            "pid": r["pid"], "host": r["host"], "summary": summary, "error": r["error"],
        })
    from turbomode.redact import redact_obj

    return redact_obj(out)  # rows written before redaction existed


def _restore_in_progress(conn, now, stale_minutes: int):
    """The live restore lock's row (`turbomode restore` between its claim and its clean-up), or None."""
    import sqlite3

    from turbomode.ops import locks
    from turbomode.store import ledger

    try:
        row = conn.execute("SELECT * FROM locks WHERE name = ?", (ledger.RESTORE_LOCK,)).fetchone()
    except sqlite3.Error:  # an old ledger without the locks table
        return None
    return row if row is not None and locks.lock_alive(now, stale_minutes)(row) else None


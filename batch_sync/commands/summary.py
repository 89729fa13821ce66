"""The short table that ``sync`` prints at the end and ``show`` prints for a past run."""

from __future__ import annotations

from typing import Any

# Widths of the terminal summary's columns. Every line except a long path
# then fits an 80-column terminal.
_LABEL_WIDTH = 30
_COUNT_WIDTH = 12


def _summary_row(label: str, value: object, indent: int = 2) -> str:
    return f"{' ' * indent}{label:<{_LABEL_WIDTH - indent}}{value!s:>{_COUNT_WIDTH}}"


def format_summary(summary: dict[str, Any]) -> str:
    """Format the run summary as a short table for the terminal."""
    lines = [f"input: {summary['inputFile']}"]
    if summary.get("sheet"):
        lines.append(f"  sheet: {summary['sheet']}")
    if summary.get("encoding"):
        lines.append(f"  encoding: {summary['encoding']}")
    if summary.get("runId") is not None:
        lines.append(_summary_row("run", summary["runId"]))
    lines.append(_summary_row("rows read", summary["rowsRead"]))
    for label, key in (
        ("synced", "synced"),
        ("unchanged", "unchanged"),
        ("invalid", "invalid"),
        ("failed", "failed"),
        ("not sent", "notSent"),
        ("skipped", "skipped"),
    ):
        lines.append(_summary_row(label, summary.get(key, 0)))

    if summary.get("hiddenRows"):
        lines.append(_summary_row("hidden rows (read)", summary["hiddenRows"]))

    warnings = {name: count for name, count in summary["warnings"].items() if count}
    lines.append(_summary_row("warnings", sum(warnings.values())))
    for name, count in warnings.items():
        lines.append(_summary_row(name, count, indent=4))

    verify = summary.get("verify")
    if verify:
        lines.append(f"  check against e-CROSS ({verify['mode']})")
        if verify.get("error"):
            lines.append(f"    check failed: {verify['error']}")
        lines.append(_summary_row("quantity differs", verify["quantityDiffers"], indent=4))
        lines.append(_summary_row("missing in e-CROSS", verify["missingInEcross"], indent=4))
        if verify["mode"] == "all":
            lines.append(_summary_row("not in the file", verify["notInFile"], indent=4))

    changed_only = summary.get("changedOnly")
    if changed_only:
        lines.append(_summary_row("e-CROSS records compared", changed_only["recordsRead"]))
        if changed_only.get("error"):
            lines.append(f"  reading e-CROSS's records failed, so every row was sent: {changed_only['error']}")

    lines.append(_summary_row("time taken", f"{summary['durationSeconds']:.1f} s"))
    if summary.get("resumedFromRun") is not None:
        lines.append(_summary_row(f"synced by run {summary['resumedFromRun']}", summary["rowsConfirmedEarlier"]))
    if summary.get("requestsSent"):
        lines.append(_summary_row("requests sent", summary["requestsSent"]))
        lines.append(_summary_row("request rate", f"{summary['requestRate']}/s"))
        lines.append(_summary_row("answered 429", summary["http429"]))
    if summary.get("stopReason"):
        lines.append(f"stopped: {summary['stopReason']}")
    lines.append("report:")
    lines.extend(f"  {path}" for path in summary["reports"].values() if path)
    return "\n".join(lines)

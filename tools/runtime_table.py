"""Fill the README's "tiny runtime" column from a recorded `vitok-figures` run, never by hand (issue 25).

Run: python tools/runtime_table.py FIGURES_JSON [--readme README.md] [--check]

FIGURES_JSON is the `figures.json` that `vitok-figures --preset tiny --out DIR` writes: one record per notebook
({"notebook", "preset", "ok", "seconds", ...}). In the README's table whose header ends in "tiny runtime", the last
cell of each row whose first cell is a notebook's name in backticks becomes that notebook's recorded time
("N min S s", or "S s" under a minute, rounded to the second); every other cell stays byte for byte. A row whose
notebook is not in the record, or did not run ok, is left as it is and named; so is a record with no row.

Just under the table (after one blank line, so Markdown ends the table first) one line says where the times came
from: "Runtimes: `vitok-figures --preset tiny` on CPU (N cores), DATE, TOTAL in all, recorded in PATH." It is added
the first time and replaced afterwards. The records carry no machine facts, so they are taken from
DIR/figures_machine.json beside FIGURES_JSON when it exists ({"cpu": str, "cores": int, optional "date"}), else
from the machine running this tool (CPU model from /proc/cpuinfo, else `platform`; core count from os.cpu_count()),
which is right only when the run was made here: the summary says which source was used. DATE is the sidecar's
"date", else the day FIGURES_JSON was last written. TOTAL sums every record's seconds (failed ones too: the run's
time). PATH is FIGURES_JSON relative to the README's folder when it lies inside it.

--check: exit 1 when any table row was left (not in the record or not ok) or a record has no row; the rows that
could be filled are still written.
"""
import argparse
import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

HEADER_END = "tiny runtime"
NOTE_START = "Runtimes: `vitok-figures"
PIPE = re.compile(r"(?<!\\)\|")                      # a cell border; `\|` inside a cell is text


def format_seconds(seconds: float) -> str:
    "59.6 -> '1 min 0 s', 61 -> '1 min 1 s', 3600 -> '60 min 0 s', 7 -> '7 s' (rounded to the second first)."
    total = int(round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def read_records(path: Path) -> dict:
    "The records of figures.json by notebook name; refuses anything that is not a list of notebook records."
    records = json.loads(path.read_text())
    if not isinstance(records, list) or not all(isinstance(r, dict) and "notebook" in r for r in records):
        raise ValueError(f"{path}: not a vitok-figures record (a list of {{'notebook': ..., 'seconds': ...}} objects)")
    presets = {r.get("preset") for r in records}
    if presets != {"tiny"}:
        raise ValueError(f"{path}: preset {', '.join(sorted(map(str, presets)))}, not tiny: the column is the tiny runtime")
    return {r["notebook"]: r for r in records}


def this_machine() -> dict:
    "CPU model (from /proc/cpuinfo, else `platform`) and core count of the machine running this tool."
    cpu = ""
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                    if l.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": cpu or platform.processor() or platform.machine() or "unknown CPU", "cores": os.cpu_count()}


def machine_facts(figures_json: Path) -> tuple[dict, str]:
    "The run's machine and date, and where they came from (the sidecar beside figures.json, else this machine)."
    sidecar = figures_json.parent / "figures_machine.json"
    if sidecar.is_file():
        facts, source = json.loads(sidecar.read_text()), str(sidecar)
        missing = [k for k in ("cpu", "cores") if k not in facts]
        if missing:
            raise ValueError(f"{sidecar}: no {', '.join(missing)}")
    else:
        facts, source = this_machine(), "this machine (no figures_machine.json beside the record)"
    date = facts.get("date") or datetime.date.fromtimestamp(figures_json.stat().st_mtime).isoformat()
    return {"cpu": facts["cpu"], "cores": facts["cores"], "date": date}, source


def table_span(lines: list[str]) -> tuple[int, int]:
    "Indexes of the runtime table's header line and of the line just after its last row."
    for i, line in enumerate(lines):
        cells = [c.strip() for c in PIPE.split(line.strip())[1:-1]]
        if line.lstrip().startswith("|") and cells and cells[-1] == HEADER_END:
            end = i + 1
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            return i, end
    raise ValueError(f"no table whose header ends in '{HEADER_END}'")


def row_notebook(line: str) -> str | None:
    "The notebook a row names: its first cell's `name` in backticks, else None."
    cells = PIPE.split(line.rstrip("\r\n"))
    first = cells[1].strip() if len(cells) > 2 else ""
    m = re.fullmatch(r"`([^`]+)`", first)
    return m.group(1) if m else None


def with_last_cell(line: str, text: str) -> str:
    "The row with its last cell's text replaced; every other byte (borders, other cells, line ending) kept."
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    stripped = body.rstrip()
    borders = [m.start() for m in PIPE.finditer(stripped)]
    if stripped.endswith("|") and len(borders) >= 2:      # | a | b |: the last cell lies between the last two borders
        start, stop = borders[-2] + 1, borders[-1]
    else:                                                 # | a | b  (no closing border)
        start, stop = borders[-1] + 1, len(stripped)
    return body[:start] + f" {text} " + body[stop:] + ending


def provenance_line(preset: str, machine: dict, total: float, where: str, updated: int, rows: int) -> str:
    "The one line under the table that says where the runtimes came from."
    share = "" if updated == rows else f" ({updated} of {rows} rows)"
    return (f"{NOTE_START} --preset {preset}` on {machine['cpu']} ({machine['cores']} cores), {machine['date']}, "
            f"{format_seconds(total)} in all, recorded in `{where}`{share}.")


def update_readme(text: str, records: dict, machine: dict, where: str) -> tuple[str, dict]:
    "The README with the runtime column and provenance line filled in, and what was done (updated / left rows)."
    lines = text.splitlines(keepends=True)
    header, end = table_span(lines)
    updated, missing, failed, seen = [], [], [], set()
    for i in range(header + 2, end):                      # past the header and its --- line
        name = row_notebook(lines[i])
        if name is None:
            continue
        seen.add(name)
        rec = records.get(name)
        if rec is None:
            missing.append(name)
        elif not rec.get("ok") or not isinstance(rec.get("seconds"), (int, float)):
            failed.append(name)
        else:
            lines[i] = with_last_cell(lines[i], format_seconds(rec["seconds"]))
            updated.append(name)
    total = sum(r.get("seconds") or 0 for r in records.values())
    nl = "\r\n" if lines[end - 1].endswith("\r\n") else "\n"   # the README's own line ending
    note = provenance_line("tiny", machine, total, where, len(updated), len(seen)) + nl
    if not lines[end - 1].endswith("\n"):
        lines[end - 1] += nl
    if end + 1 < len(lines) and lines[end].strip() == "" and lines[end + 1].startswith(NOTE_START):
        lines[end + 1] = note                             # replace the line an earlier run wrote
    else:
        lines[end:end] = [nl, note] + ([nl] if end < len(lines) and lines[end].strip() else [])
    report = {"updated": updated, "missing": missing, "failed": failed,
              "no_row": sorted(set(records) - seen), "total": total}
    return "".join(lines), report


def shown_path(figures_json: Path, readme: Path) -> str:
    "figures.json relative to the README's folder when inside it, else its absolute path."
    full = figures_json.resolve()
    try:
        return str(full.relative_to(readme.resolve().parent))
    except ValueError:
        return str(full)


def summary(report: dict, records: dict, source: str, readme: Path) -> str:
    "What was done, in a few lines: rows updated, rows left and why, total time, the slowest five."
    ran = sorted((r for r in records.values() if r.get("ok") and isinstance(r.get("seconds"), (int, float))),
                 key=lambda r: -r["seconds"])
    out = [f"{readme}: {len(report['updated'])} runtime rows updated; total {format_seconds(report['total'])}",
           f"machine facts from {source}"]
    for key, why in (("missing", "not in the record"), ("failed", "did not run ok"), ("no_row", "in the record, no table row")):
        if report[key]:
            out.append(f"left ({why}): {', '.join(report[key])}")
    out.append("slowest: " + ", ".join(f"{r['notebook']} {format_seconds(r['seconds'])}" for r in ran[:5]))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("figures_json", type=Path, help="figures.json from `vitok-figures --preset tiny --out DIR`")
    p.add_argument("--readme", type=Path, default=Path(__file__).resolve().parents[1] / "README.md")
    p.add_argument("--check", action="store_true", help="exit 1 if a table row was left or a record has no row")
    args = p.parse_args(argv)
    records = read_records(args.figures_json)
    machine, source = machine_facts(args.figures_json)
    old = args.readme.read_bytes().decode("utf-8")          # bytes: line endings kept as they are
    new, report = update_readme(old, records, machine, shown_path(args.figures_json, args.readme))
    if new != old:
        args.readme.write_bytes(new.encode("utf-8"))
    print(summary(report, records, source, args.readme))
    incomplete = report["missing"] or report["failed"] or report["no_row"]
    return 1 if args.check and incomplete else 0


if __name__ == "__main__":
    sys.exit(main())

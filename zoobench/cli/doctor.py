"""`zoobench doctor`: what on this machine can skew a latency, and how to fix each (read-only)."""

from __future__ import annotations

from zoobench.cli.common import Format, Output, app
from zoobench.output import formats, views


@app.command()
def doctor(fmt: Format = None, output: Output = None) -> None:
    """What can skew a latency here: governor, turbo, SMT, load, OpenMP/MKL variables, huge pages, runtime.

    Reads /proc and /sys only and changes nothing; each row says how to fix what it found. `zoobench bench`
    records the same rows in every result's environment.
    """
    from zoobench import environment

    formats.preflight(fmt, output)
    rows = environment.doctor()
    formats.emit(
        rows,
        views.DOCTOR_COLUMNS,
        fmt=fmt,
        output=output,
        title="zoobench doctor: what can skew a latency on this machine",
        md=lambda r: formats.markdown_with_notes(r, views.DOCTOR_COLUMNS, views.DOCTOR_NOTES),
        json_extra={"notes": views.DOCTOR_NOTES},
        schema_kind="doctor",
    )

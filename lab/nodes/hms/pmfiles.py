"""The HMS's check of an uploaded PM file: is it a TS 32.435 measCollec XML document?

The reader is lab.pmfile's (the one strict reader of the format; see there for what it
checks). This module turns its verdict into the fields the HMS reports in the "file.rx"
event and in GET /api/files?check=1.
"""

from __future__ import annotations

from typing import Any

from lab.pmfile import MAX_SIZE, MeasFileError, parse_meas_collec

MAX_CHECKED = MAX_SIZE  # larger uploads are stored but not parsed


def check_fields(data: bytes) -> dict[str, Any]:
    """The check as event/API fields: meas_ok, and the summary (sender, begin_time,
    end_time, gran_period_s, meas_types, values) or meas_problem."""
    if len(data) > MAX_CHECKED:
        return {"meas_ok": None, "meas_problem": f"not checked: over {MAX_CHECKED} bytes"}
    try:
        meas = parse_meas_collec(data)
    except MeasFileError as exc:
        return {"meas_ok": False, "meas_problem": str(exc)}
    return {"meas_ok": True, **meas.summary()}

"""The HMS's check of an uploaded PM file: is it a TS 32.435 measCollec XML document?

The reader is lab.pmfile's (the one strict reader of the format; see there for what it
checks). This module turns its verdict into the fields the HMS reports in the "file.rx"
event and in GET /api/files?check=1.
"""

from __future__ import annotations

import os
from typing import Any

from lab.pmfile import MAX_SIZE, MeasFileError, parse_meas_collec


def check_fields(data: bytes) -> dict[str, Any]:
    """The check as event/API fields: meas_ok, and the summary (sender, begin_time,
    end_time, gran_period_s, meas_types, values) or meas_problem."""
    try:
        meas = parse_meas_collec(data)
    except MeasFileError as exc:
        return {"meas_ok": False, "meas_problem": str(exc)}
    return {"meas_ok": True, **meas.summary()}


def check_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """check_fields of a stored file; one over MAX_SIZE is not read (stored, not parsed)."""
    try:
        size = os.stat(path).st_size
        if size > MAX_SIZE:
            return {"meas_ok": None, "meas_problem": f"not checked: over {MAX_SIZE} bytes"}
        with open(path, "rb") as fh:
            return check_fields(fh.read())
    except OSError as exc:
        return {"meas_ok": False, "meas_problem": f"cannot read the stored file: {exc}"}

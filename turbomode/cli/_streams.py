"""Output streams that never fail on a character they cannot encode.

On Windows a redirected stdout or stderr (`turbomode status > status.txt`, a monitor or Task Scheduler
capturing the output, a pipe) is encoded in the ANSI code page — cp1252 in the US and Western
Europe — which has no ✓ or ✗: printing one raised UnicodeEncodeError at the end of a command that had
otherwise succeeded. Every command's output goes through these streams, so the remedy lives here, at the
CLI's edge, once: a character the stream's encoding lacks is written as a plain stand-in (✓ → +,
✗ → x, • → *, — → -) or, failing that, '?'. UTF-8 streams (Linux, macOS, a Windows console) are
left alone.
"""

from __future__ import annotations

import codecs
import sys

ERRORS = "turbomode.replace"
# Stand-ins of the same width, so status's columns stay aligned.
STAND_INS = {"\u2713": "+", "\u2714": "+", "\u2717": "x", "\u2718": "x", "\u2022": "*", "\u00b7": "-",
             "\u2014": "-", "\u2013": "-", "\u2026": "...", "\u2192": "->", "\u2190": "<-"}


def _stand_in(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    text = exc.object[exc.start:exc.end]
    return "".join(STAND_INS.get(ch, "?") for ch in text), exc.end


codecs.register_error(ERRORS, _stand_in)


def _is_utf(encoding: str | None) -> bool:
    return (encoding or "").lower().replace("-", "").replace("_", "").startswith("utf")


def make_safe(stream):
    """``stream`` set to write stand-ins for what its encoding lacks (in place when it can be)."""
    if stream is None or _is_utf(getattr(stream, "encoding", None)):
        return stream
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors=ERRORS)
        except (ValueError, OSError):  # a closed or detached stream: nothing will be written to it
            pass
    return stream


def make_std_streams_safe() -> None:
    """Apply make_safe to sys.stdout and sys.stderr (a stream that is None stays None)."""
    for name in ("stdout", "stderr"):
        make_safe(getattr(sys, name))

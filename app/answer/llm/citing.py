"""The model's ``[n]`` markers as the text streams: renumbered to the answer's citations, which
list the cited passages first, in the order the answer first cites them; numbers that name no
passage dropped; the fixed refusal recognised before any of it is shown; and nothing shown until
the answer has cited a passage (a reply that never does is not an answer: see ``reader``).

Renumbering can be done piece by piece because the order is that of first mention: when a
marker arrives, its number in the answer is already known. A piece ending inside what may be a
marker (``"… 68.400 tỷ đồng ["``) is held back until the marker is whole.
"""

from __future__ import annotations

import re

from app.answer.llm.prompt import REFUSAL
from app.text.normalize import fold

_ONE = r"\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]"  # [2], [1, 3]
_MARKER = re.compile(rf"(\s*)({_ONE}(?:\s*{_ONE})*)")  # a run of them, with the space before it
_OPEN_TAIL = re.compile(r"\s*\[[\d\s,;]{0,24}$")
_DECORATION = "*_\"'“”`#> \t\r\n"


def _folded(text: str) -> str:
    return " ".join(fold(text).strip(_DECORATION).split())


_REFUSAL = _folded(REFUSAL)


class Citing:
    def __init__(self, passages: int) -> None:
        """``passages``: how many were numbered in the prompt ([1]..[passages])."""
        self.passages = passages
        self.cited: list[int] = []  # 0-based passage indexes, in order of first mention
        self.raw = ""  # what the model wrote
        self.shown = ""  # what has been given out, renumbered
        self._pending = ""
        self._started = False  # the text can no longer turn out to be the refusal

    def feed(self, piece: str) -> str:
        """What of the text so far can be shown now (possibly "")."""
        self.raw += piece
        self._pending += piece
        if not self._started:
            folded = _folded(self.raw)
            if _REFUSAL.startswith(folded) or folded.startswith(_REFUSAL):
                return ""  # still possibly the refusal (or only blank so far), or the refusal itself
            if not self._cites(self.raw):
                # Nothing is shown before the answer has cited a passage: uncited text is not an
                # answer troly gives, and a stream cannot take back what it has shown.
                return ""
            self._started = True
        return self._drain(final=False)

    def _cites(self, text: str) -> bool:
        return any(1 <= int(n) <= self.passages for m in _MARKER.finditer(text) for n in re.findall(r"\d+", m.group(2)))

    def finish(self) -> str:
        """The rest, once the model has stopped ("" for a refusal)."""
        if self.refused or not self._cites(self.raw):
            return ""
        self._started = True
        return self._drain(final=True)

    @property
    def refused(self) -> bool:
        """The reply is the refusal: it opens with it, or names it without citing anything."""
        folded = _folded(self.raw)
        return folded.startswith(_REFUSAL) or (not self.cited and _REFUSAL in folded)

    def _drain(self, final: bool) -> str:
        text, self._pending = self._pending, ""
        if not final:
            # Held back: what may be the start of a marker, and the space before it, which goes
            # with a marker that names no passage ("của Bộ [9]." is "của Bộ.").
            tail = _OPEN_TAIL.search(text)
            cut = tail.start() if tail else len(text.rstrip())
            text, self._pending = text[:cut], text[cut:]
        out = _MARKER.sub(self._renumber, text)
        if not self.shown:
            out = out.lstrip()
        if final:
            out = out.rstrip()
        self.shown += out
        return out

    def _renumber(self, match: re.Match[str]) -> str:
        marks: list[str] = []
        for number in (int(n) for n in re.findall(r"\d+", match.group(2))):
            if not 1 <= number <= self.passages:
                continue  # a passage the prompt never gave
            if number - 1 not in self.cited:
                self.cited.append(number - 1)
            mark = f"[{self.cited.index(number - 1) + 1}]"
            if mark not in marks:
                marks.append(mark)
        return match.group(1) + "".join(marks) if marks else ""

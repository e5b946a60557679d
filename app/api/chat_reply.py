"""An answer as a chat reply: the text a chat front-end shows, cut at ``max_tokens``, and its usage.

troly's readers have no tokenizer of their own (the extractive ones do not generate), so a
"token" here is a word: a run of non-space characters, which in Vietnamese is one syllable.
``usage`` counts those, in the messages sent (prompt) and in the reply (completion).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.domain import Answer, Citation

# What the ask page says when troly abstains.
ABSTAIN = "Chưa tìm thấy thông tin trong cơ sở tri thức."
_WORD = re.compile(r"\S+")
_HEADINGS = ("Nguồn", "Các đoạn gần nhất")


def count_words(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


def cut(text: str, limit: int | None) -> str:
    """``text`` up to the end of its ``limit``-th word (all of it when it has no more)."""
    if limit is None:
        return text
    for n, match in enumerate(_WORD.finditer(text), start=1):
        if n == limit:
            return text[: match.end()]
    return text


def _date(value: str) -> str:
    """As the ask page writes dates: "2024-07" → "tháng 7/2024", "2024-07-15" → "15/7/2024"."""
    parts = value.split("-")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return f"tháng {int(parts[1])}/{parts[0]}"
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{int(parts[2])}/{int(parts[1])}/{parts[0]}"
    return value


def sources(citations: Sequence[Citation], heading: str = "Nguồn") -> str:
    """ "\n\nNguồn:\n[1] title (date)…": the citations numbered in their order (the numbers an
    answer's [n] markers use), one line per document ("[1][3] title" when it holds two of them);
    "" without citations."""
    if not citations:
        return ""
    numbers: dict[str, list[int]] = {}
    first: dict[str, Citation] = {}
    for n, c in enumerate(citations, start=1):
        numbers.setdefault(c.document_id, []).append(n)
        first.setdefault(c.document_id, c)
    lines = []
    for document, c in first.items():
        marks = "".join(f"[{n}]" for n in numbers[document])
        lines.append(f"{marks} {c.title or '(không có tiêu đề)'}" + (f" ({_date(c.date)})" if c.date else ""))
    return f"\n\n{heading}:\n" + "\n".join(lines)


def body(answer: Answer) -> str:
    """The answer's text, or the abstention as the ask page says it."""
    return answer.answer if answer.answer is not None else ABSTAIN


def tail(answer: Answer) -> str:
    """What follows the text: the sources, or for an abstention the nearest passages."""
    return sources(answer.citations, _HEADINGS[0] if answer.answer is not None else _HEADINGS[1])


def content(answer: Answer) -> str:
    return body(answer) + tail(answer)


def strip_sources(reply: str) -> str:
    """One of troly's replies without the sources it listed under it: history for the next question."""
    for heading in _HEADINGS:
        reply = reply.split(f"\n\n{heading}:\n", 1)[0]
    return reply

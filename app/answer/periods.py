"""The periods a text names (years, month/years, quarter/years), and the two abstention signals
built on them: a question about a period answered from another one, or from a document that
never names it, is a false answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
# "6/2023" or "tháng 6 năm 2023"
_MONTH_YEAR = re.compile(
    r"(?<![\d/])(\d{1,2})/((?:19|20)\d{2})(?!\d)|\btháng\s+(\d{1,2})\s+năm\s+((?:19|20)\d{2})(?!\d)"
)
# "6 tháng đầu năm 2021", "7 tháng năm 2023": the months counted from the start of the year,
# reported up to the end of the last one. (A full date is left out: "Từ 15/9/2024 …" in an
# answer would then report on September, against a question that names its meeting's month.)
_MONTHS_INTO = re.compile(r"(?<![\d/])(\d{1,2})\s+tháng\s+(?:đầu\s+)?năm\s+((?:19|20)\d{2})(?!\d)")
_QUARTER_YEAR = re.compile(r"\bquý\s+(iv|i{1,3}|[1-4])\s*(?:/|năm\s+)((?:19|20)\d{2})(?!\d)")
_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
# "tăng 2% so với tháng 6/2023", "… so với 6 tháng đầu năm 2020", "… so với quý II năm 2022":
# a period named only as the point of comparison.
_COMPARISON = re.compile(
    r"so với\s+(?:cùng kỳ\s+)?"
    r"(?:\d{1,2}\s+tháng\s+(?:đầu\s+)?năm\s+|(?:tháng|quý)\s+\w+\s+năm\s+|(?:năm|tháng|quý)?\s*[\w/]*)\d{4}"
)


@dataclass(frozen=True)
class Periods:
    years: frozenset[str]
    months: frozenset[tuple[int, str]]  # (month, year)
    quarters: frozenset[tuple[int, str]]  # (quarter, year)


# The same periods in words, as a paraphrase writes them: "nửa đầu năm 2021" and "sáu tháng
# đầu năm 2021" are "6 tháng đầu năm 2021", "quý đầu năm 2024" is "quý i năm 2024".
# ("Nửa cuối năm" and "giữa năm" name no single month, and are left as they are.)
_COUNTS = {"hai": 2, "ba": 3, "bốn": 4, "năm": 5, "sáu": 6, "bảy": 7, "bẩy": 7, "tám": 8, "chín": 9}
_COUNTED_MONTHS = re.compile(
    r"(?<!mười )\b(nửa|" + "|".join(_COUNTS) + r")(\s+tháng)?(?=\s+đầu\s+năm\s+(?:19|20)\d{2})"
)
# "quý đầu năm 2024", but not "3 quý đầu năm 2024" or "ba quý đầu năm 2024" (nine months).
_FIRST_QUARTER = re.compile(
    r"(\b(?:\d+|" + "|".join(_COUNTS) + r")\s+)?\bquý\s+đầu(?:\s+tiên)?(?:\s+của)?(?=\s+năm\s+(?:19|20)\d{2})"
)


def _in_figures(lowered: str) -> str:
    def months(match: re.Match[str]) -> str:
        word, tháng = match.groups()
        if word == "nửa" and not tháng:
            return "6 tháng"
        return f"{_COUNTS[word]} tháng" if tháng and word in _COUNTS else match.group(0)

    def first_quarter(match: re.Match[str]) -> str:
        return match.group(0) if match.group(1) else "quý i"

    return _FIRST_QUARTER.sub(first_quarter, _COUNTED_MONTHS.sub(months, lowered))


def _periods(text: str) -> Periods:
    lowered = _in_figures(text.lower())
    return Periods(
        frozenset(_YEAR.findall(lowered)),
        frozenset(
            [(int(m or m2), y or y2) for m, y, m2, y2 in _MONTH_YEAR.findall(lowered)]
            + [(int(m), y) for m, y in _MONTHS_INTO.findall(lowered) if 1 <= int(m) <= 12]
        ),
        frozenset((_QUARTERS[q], y) for q, y in _QUARTER_YEAR.findall(lowered)),
    )


def named_periods(text: str) -> Periods:
    """The periods a text reports on: those it names only as the point of comparison
    ("so với cùng kỳ năm 2022") left out, since a report of 2024 compared with 2023 holds
    no 2023 figures."""
    return _periods(_COMPARISON.sub(" ", _in_figures(text.lower())))


def time_conflict(question: str, answer: str, context: str) -> float:
    """1 when the question names a period (year, month, quarter) that its evidence never names while
    the answer speaks of another one: a question about 6/2023 answered from the 7/2023 figure, or
    about 2023 from a 2021 figure, is a false answer. ``context`` is the passage with its title and
    date, where a period often appears once as a heading for the sentences below it."""
    asked, known = _periods(question), _periods(context)
    if (
        (asked.months and asked.months <= known.months)
        or (asked.quarters and asked.quarters <= known.quarters)
        or (asked.years and not asked.months and not asked.quarters and asked.years <= known.years)
    ):
        return 0.0
    said = named_periods(answer)
    for wanted, given in ((asked.months, said.months), (asked.quarters, said.quarters)):
        if wanted and given and not wanted & given:
            return 1.0
    return 1.0 if asked.years and said.years and not asked.years & said.years else 0.0


# Document numbers ("Nghị định 13/2023/NĐ-CP", "Luật 24/2018/QH14") name no period.
_DOCUMENT_NUMBER = re.compile(r"(?<![\d/])\d{1,4}/(?:19|20)\d{2}/[\w-]+")
# What a sentence compares with, to the end of its clause: "so với quý I năm 2022", "gấp đôi năm 2022".
_COMPARED = re.compile(r"\b(?:so với|gấp|cao hơn|thấp hơn|nhiều hơn|ít hơn)\b[^,;.]*")
# A span of years covers each of them: "giai đoạn 2021-2025", "từ năm 2020 đến 2025".
_RANGE = re.compile(r"((?:19|20)\d{2})\s*(?:-|–|đến|tới)\s*(?:năm\s+)?((?:19|20)\d{2})(?!\d)")
# A full date, "15/8/2023": when something happens, inside its month.
_DATE = re.compile(r"(?<![\d/])\d{1,2}/(\d{1,2})/((?:19|20)\d{2})(?!\d)")


def _guarded(text: str) -> Periods:
    """``_periods`` without document numbers, with real months only and every year of a span."""
    lowered = _DOCUMENT_NUMBER.sub(" ", text.lower())
    found = _periods(lowered)
    spans = {str(y) for a, b in _RANGE.findall(lowered) for y in range(int(a), int(b) + 1) if int(b) - int(a) <= 50}
    return Periods(found.years | spans, frozenset(m for m in found.months if 1 <= m[0] <= 12), found.quarters)


def _reported(text: str) -> Periods:
    """``_guarded`` without what the text compares with: the periods it reports on, or asks about."""
    return _guarded(_COMPARED.sub(" ", text.lower()))


def period_clash(question: str, answer: str) -> bool:
    """True when the answer reports on another period than the question asks about and never
    names the asked one, not even as the point of comparison: an answer about 7/2023 to a
    question about 6/2023, about Quý 2 to one about Quý I, about 2014 to one about 2004, answers
    another question however well it scores. Unlike ``time_conflict``, a heading of the passage
    that names the asked period does not excuse it: the answer's own words place it elsewhere.
    Compared at the most precise kind of period both name (months, quarters), else by year.
    (A question *about* time is not for this test: its answer is another period by nature.)"""
    asked, named = _guarded(question), _guarded(answer)
    reported = _reported(answer)
    if asked.months and reported.months:
        return not asked.months & named.months
    if asked.quarters and reported.quarters:
        return not asked.quarters & named.quarters
    return bool(asked.years and reported.years and not asked.years & named.years)


def period_unnamed(question: str, document: Periods) -> float:
    """1 when the question names a period (its most precise one: month, else quarter, else year)
    that the document never names. ``document``: ``named_periods`` of its title, date and text;
    a comparison in the question ("giảm bao nhiêu so với năm 2022") asks about the other period."""
    asked = named_periods(question)
    if asked.months:
        return 0.0 if asked.months <= document.months else 1.0
    if asked.quarters:
        return 0.0 if asked.quarters <= document.quarters else 1.0
    return 0.0 if asked.years <= document.years else 1.0


# A running total to a month ("tính đến hết tháng 7/2023", "tính đến thời điểm tháng 7/2023",
# "lũy kế", "từ đầu năm", "tháng 1 - tháng 7/2023", "từ tháng 1"), a count of months ("7
# tháng"), and what is counted at a month's end rather than over the months (subscribers,
# workers, users, accounts, a rate), where the month's figure is the running figure.
_RUNNING = re.compile(
    r"(?:đến|tới)\s+(?:hết\s+|cuối\s+|thời điểm\s+)?tháng|lũy kế|từ đầu năm"
    r"|tháng\s+0?1\s*(?:-|–|đến|tới)|từ tháng\s+0?1\b"
)
_MONTH_COUNT = re.compile(r"(?<![\d/])\d{1,2}\s+tháng\b")
_A_MONTH = re.compile(r"\btháng\s+\d{1,2}\b")
_STOCK = re.compile(r"\b(?:thuê bao|lao động|người dùng|tài khoản|tỷ lệ|tỷ trọng)\b")


def month_for_running_total(question: str, answer: str) -> bool:
    """True when the question asks about the months so far ("7 tháng đầu năm 2023") and the
    answer gives that last month's own figure: it reports on the month itself ("Doanh thu
    tháng 7/2023 đạt …") or compares it with the month before or the same month a year before
    ("… tăng 2% so với tháng 6/2023", "… so với tháng 7/2022"), and names no count of months
    or running total. The monthly reports give both figures side by side, and the month's is
    a false answer to the question about the months so far. Not for what is counted at a
    month's end (subscribers, workers, a rate): there the month's figure is the running one.
    Meant for questions that ask for a figure (``mismatch.answers_another_question``)."""
    asked = _in_figures(question.lower())
    spans = {(int(n), y) for n, y in _MONTHS_INTO.findall(_COMPARED.sub(" ", asked)) if 2 <= int(n) <= 12}
    # A question that also names a single month ("riêng tháng 7") asks about that month.
    if not spans or _A_MONTH.search(_MONTHS_INTO.sub(" ", asked)) or _STOCK.search(asked):
        return False
    said = _in_figures(answer.lower())
    if _MONTH_COUNT.search(said) or _RUNNING.search(said):
        return False
    own = _reported(said).months
    compared = _guarded(said).months - own
    return any((n, y) in own or (n - 1, y) in compared or (n, str(int(y) - 1)) in compared for n, y in spans)


# "cả năm 2023", "trọn năm 2023", "hết năm 2021", "tính đến cuối năm 2024": the whole year, to
# its end ("6 tháng cuối năm 2021", "những tháng cuối năm" and an event "vào cuối năm 2005"
# are not); "kế hoạch năm", "chỉ tiêu năm": a figure for the whole year.
_WHOLE_YEAR = re.compile(r"(?<!tháng )\b(?:cả|trọn|hết|(?:đến|tới)\s+(?:hết|cuối))\s+năm\s+((?:19|20)\d{2})(?!\d)")
_YEAR_FIGURE = re.compile(r"\b(?:cả|kế hoạch|chỉ tiêu|mục tiêu)\s+năm\b")


def months_for_whole_year(question: str, answer: str) -> bool:
    """True when the question asks about a whole year ("cả năm 2023", "tính đến cuối năm 2024")
    and names no month or quarter, and the answer reports on part of that year only: a month
    other than December or the months so far ("tính đến tháng 06/2024", "6 tháng đầu năm
    2024"), with no figure for the whole year ("kế hoạch năm"). Meant for questions that ask
    for a figure (``mismatch.answers_another_question``)."""
    lowered = _COMPARED.sub(" ", _in_figures(question.lower()))
    years = set(_WHOLE_YEAR.findall(lowered))
    asked = _guarded(lowered)
    if not years or asked.months or asked.quarters or _YEAR_FIGURE.search(answer.lower()):
        return False
    return any(year in years and month < 12 for month, year in _reported(answer).months)


def month_or_quarter_unnamed(question: str, answer: str, document: Periods) -> bool:
    """True when the question names a month (else a quarter) and none of those it names is named
    by the answer or, other than as a point of comparison, by its document: a report on 7/2023
    holds no figure of 8/2023, however well one of its sentences matches. ``document``: as for
    ``period_unnamed``.

    What the question compares with ("… so với 6 tháng đầu năm 2020", "gấp mấy lần tháng
    7/2022") and the numbers of legal documents ("Thông tư 09/2023/TT-BTTTT") are not what it
    asks about. An answer that names the month, even in a comparison ("so với cùng kỳ tháng
    7/2022 (983 cuộc)") or by a date ("ngày 15/8/2023"), may hold what is asked. Years are left
    out on purpose: an article often holds a year's facts without naming the year in the form
    asked ("mùa giải 2015"), and vetoing those cost correct answers on the tuning parts
    (docs/quality.md)."""
    asked = _reported(question)
    said = _periods(answer)
    if asked.months:
        dated = {(int(m), y) for m, y in _DATE.findall(answer.lower())}
        return asked.months.isdisjoint(document.months | said.months | dated)
    return bool(asked.quarters) and asked.quarters.isdisjoint(document.quarters | said.quarters)

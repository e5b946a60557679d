"""Cleaning collected texts (headers, placeholders, captions) and cutting them into passages."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from app.domain import DocumentInput
from app.ingest.cleaning import clean
from app.ingest.loaders import load_file
from app.ingest.pipeline import prepare
from app.ingest.segment import passage_spans
from app.text.sentences import sentence_spans

_TERMINAL = re.compile(r"[.!?…\"”»)]$")


def is_heading(line: str) -> bool:
    """A short line without sentence-final punctuation: a heading, list lead, caption or byline."""
    return len(line.strip()) <= 150 and not _TERMINAL.search(line.strip())


def sentence(n: int, words: int = 12) -> str:
    """A distinct sentence of about ``words`` words."""
    return f"Câu số {n} " + " ".join(f"từ{n}x{i}" for i in range(words)) + "."


def paragraph(first: int, count: int, words: int = 12) -> str:
    return " ".join(sentence(first + i, words) for i in range(count))


def seed_text(seed_files: list[Path], prefix: str) -> str:
    return next(p for p in seed_files if p.name.startswith(prefix)).read_text(encoding="utf-8")


# -- cleaning ----------------------------------------------------------------------------------
def test_date_header_becomes_the_date_and_leaves_the_text() -> None:
    cleaned = clean(" date 2024-07 Vừa qua, Bộ TT&TT đã tổ chức Hội nghị giao ban.\n\nĐoạn hai.")
    assert cleaned.date == "2024-07"
    assert cleaned.text == "Vừa qua, Bộ TT&TT đã tổ chức Hội nghị giao ban.\n\nĐoạn hai."


def test_date_header_with_a_day() -> None:
    cleaned = clean("date 2023-05-21\nHội nghị giao ban quý I.")
    assert cleaned.date == "2023-05-21"
    assert cleaned.text == "Hội nghị giao ban quý I."


def test_text_without_header_has_no_date_and_keeps_a_later_date_word() -> None:
    cleaned = clean("Hội nghị giao ban.\n\nCập nhật date 2024-07 theo lịch.")
    assert cleaned.date is None
    assert "Cập nhật date 2024-07 theo lịch." in cleaned.text


def test_keyword_placeholders_are_removed_without_leaving_empty_paragraphs() -> None:
    cleaned = clean("Đoạn một.\n\n{keywords}\nBộ trưởng chủ trì hội nghị.\n\n{keywords}\n\nĐoạn cuối.")
    assert "{keywords}" not in cleaned.text
    assert cleaned.text == "Đoạn một.\n\nBộ trưởng chủ trì hội nghị.\n\nĐoạn cuối."


@pytest.mark.parametrize(
    "caption",
    [
        "Bộ trưởng Nguyễn Mạnh Hùng phát biểu chỉ đạo tại Hội nghị giao ban quản lý quý I. Ảnh Bộ TT&TT.",
        "Toàn cảnh hội nghị (Ảnh: VGP)",
        "Toàn cảnh hội nghị. Ảnh: Minh Anh",
    ],
)
def test_photo_caption_with_credit_is_removed(caption: str) -> None:
    cleaned = clean(f"Đoạn trước caption.\n\n{caption}\n\nĐoạn sau caption.")
    assert cleaned.text == "Đoạn trước caption.\n\nĐoạn sau caption."


def test_a_line_about_photography_without_credit_is_kept() -> None:
    text = "Đoạn một.\n\nNgười dân chụp ảnh kỷ niệm tại Hội nghị.\n\nĐoạn hai."
    assert clean(text).text == text


def test_a_short_line_starting_with_the_word_anh_huong_is_content_not_a_photo_credit() -> None:
    """'Ảnh hưởng' means 'influence': a sentence or heading that starts with it is not a caption."""
    text = "Đoạn mở đầu.\n\nẢnh hưởng của dịch Covid-19 rất lớn.\n\nĐoạn kết."
    assert clean(text).text == text


def test_seed_defects_are_cleaned(seed_files: list[Path]) -> None:
    header = clean(seed_text(seed_files, "001"))
    assert header.date == "2024-07"
    assert header.text.startswith("Vừa qua, Bộ Thông tin & Truyền thông")
    assert "date 2024-07" not in header.text

    caption = clean(seed_text(seed_files, "002"))
    assert caption.date == "2023-05"
    assert "Ảnh Bộ TT&TT" not in caption.text
    assert "phát biểu chỉ đạo tại Hội nghị giao ban quản lý quý I" not in caption.text
    # The typos are kept as collected.
    assert "Lãnh ddaioj Bộ" in caption.text and "20223" in caption.text

    placeholders = clean(seed_text(seed_files, "004"))
    assert "{" not in placeholders.text and "}" not in placeholders.text
    assert placeholders.date is None


def test_single_newline_and_blank_line_paragraphs_give_the_same_passages(seed_files: list[Path]) -> None:
    single = seed_text(seed_files, "000")
    assert "\n\n" not in single.strip()  # this seed really uses single newlines
    blank = single.replace("\n", "\n\n")
    a = prepare("u", DocumentInput(title="", text=single), 600, 250)
    b = prepare("u", DocumentInput(title="", text=blank), 600, 250)
    assert a.document.text == b.document.text
    assert a.document.content_hash == b.document.content_hash
    assert [p.text for p in a.passages] == [p.text for p in b.passages]
    assert len(a.passages) > 1


# -- passages on the seed reports --------------------------------------------------------------
@pytest.mark.parametrize(("max_chars", "min_chars"), [(600, 250), (300, 100), (150, 0)])
def test_every_seed_passage_is_its_span_of_the_stored_text(
    seed_files: list[Path], max_chars: int, min_chars: int
) -> None:
    for path in seed_files:
        prepared = prepare("bo-tttt", load_file(path), max_chars, min_chars)
        text = prepared.document.text
        assert prepared.passages, path.name
        assert prepared.document.passages == len(prepared.passages)
        for seq, passage in enumerate(prepared.passages):
            assert passage.seq == seq
            assert 0 <= passage.start < passage.end <= len(text), (path.name, passage)
            assert text[passage.start : passage.end] == passage.text
            assert passage.text == passage.text.strip()
            # The cap holds for the passage's body; headings and captions that lead it ride along.
            lines = passage.text.split("\n")
            while len(lines) > 1 and is_heading(lines[0].strip()):
                lines.pop(0)
            body = "\n".join(lines).strip()
            assert len(body) <= max_chars, (path.name, len(body))
        starts = [p.start for p in prepared.passages]
        assert starts == sorted(starts)


def lost_sentences(text: str, spans: list[tuple[int, int]]) -> list[str]:
    """Sentences of ``text`` that no passage touches (a run-on sentence may be spread over several)."""
    return [text[s:e] for s, e in sentence_spans(text) if not any(a < e and s < b for a, b in spans)]


@pytest.mark.parametrize(("max_chars", "min_chars"), [(600, 250), (300, 100), (150, 0)])
def test_no_seed_sentence_is_lost_by_segmentation(seed_files: list[Path], max_chars: int, min_chars: int) -> None:
    """Every line of a report (headings, captions and list lines included) ends up in some passage."""
    for path in seed_files:
        prepared = prepare("bo-tttt", load_file(path), max_chars, min_chars)
        spans = [(p.start, p.end) for p in prepared.passages]
        assert lost_sentences(prepared.document.text, spans) == [], (path.name, max_chars)


def test_no_seed_passage_is_only_captions_or_headings(seed_files: list[Path]) -> None:
    for path in seed_files:
        prepared = prepare("bo-tttt", load_file(path), 600, 250)
        for passage in prepared.passages:
            lines = [line for line in passage.text.split("\n") if line.strip()]
            assert not all(is_heading(line) for line in lines), (path.name, passage.text)
            assert not is_heading(lines[-1]), f"{path.name}: passage ends with a heading: {lines[-1]!r}"


def test_seed_headings_stay_with_what_follows(seed_files: list[Path]) -> None:
    prepared = prepare("bo-tttt", load_file(next(p for p in seed_files if p.name.startswith("001"))), 600, 250)
    holder = [p for p in prepared.passages if "kiểm tra hệ thống trợ lý ảo của Cục Báo chí" in p.text]
    assert len(holder) == 1
    assert "Đối với các lĩnh vực quản lý nhà nước của Bộ" in holder[0].text


# -- passages on constructed texts -------------------------------------------------------------
def test_long_paragraph_is_split_with_one_sentence_of_overlap() -> None:
    text = paragraph(0, 14)  # one paragraph, about 1,400 characters
    spans = passage_spans(text, max_chars=600, min_chars=250)
    assert len(spans) >= 3
    sentences = sentence_spans(text)
    for (_, e1), (s2, e2) in itertools.pairwise(spans):
        assert s2 < e1, "consecutive passages of one paragraph must overlap"
        overlap = (s2, e1)
        assert overlap in sentences, f"the overlap {text[s2:e1]!r} is not exactly one sentence"
        assert e2 > e1
    for s, e in spans:
        assert e - s <= 600


def test_no_overlap_across_a_paragraph_break() -> None:
    text = "\n\n".join(paragraph(i * 10, 3) for i in range(4))  # four paragraphs of ~300 characters
    spans = passage_spans(text, max_chars=600, min_chars=250)
    for (_, e1), (s2, _) in itertools.pairwise(spans):
        assert s2 > e1
    # A passage closes at a paragraph break: every passage starts at a paragraph start.
    paragraph_starts = {0} | {m.end() for m in re.finditer(r"\n\n", text)}
    assert all(s in paragraph_starts for s, _ in spans)


def test_run_on_sentence_is_cut_at_white_space_within_max_chars() -> None:
    run_on = " ".join(f"từ{i}" for i in range(400))  # ~2,300 characters, no sentence end
    spans = passage_spans(run_on, max_chars=300, min_chars=100)
    assert len(spans) > 1
    words = set(run_on.split())
    for s, e in spans:
        assert e - s <= 300
        assert set(run_on[s:e].split()) <= words  # never cut inside a word
    covered = " ".join(run_on[s:e] for s, e in spans)
    assert set(covered.split()) == words


def test_unsplittable_token_is_cut_hard_at_max_chars() -> None:
    token = "https://example.gov.vn/" + "a" * 700
    spans = passage_spans(f"Xem tại {token} nhé.", max_chars=200, min_chars=0)
    assert all(e - s <= 200 for s, e in spans)
    assert "".join(f"Xem tại {token} nhé."[s:e] for s, e in spans).replace(" ", "") == f"Xemtại{token}nhé."


def test_heading_never_stands_alone_or_ends_a_passage() -> None:
    blocks = []
    for i in range(6):
        blocks.append(f"Tiêu đề mục {i} về chuyển đổi số")
        blocks.append(paragraph(i * 10, 3))
    text = "\n\n".join(blocks)
    for max_chars, min_chars in [(600, 250), (400, 100), (350, 0)]:
        for s, e in passage_spans(text, max_chars=max_chars, min_chars=min_chars):
            lines = [line for line in text[s:e].split("\n") if line]
            assert not is_heading(lines[-1]), (max_chars, text[s:e])
            assert not all(is_heading(line) for line in lines)


def test_heading_goes_to_the_next_passage_when_the_current_one_is_full() -> None:
    text = paragraph(0, 5) + "\n\nTiêu đề mục hai\n\n" + paragraph(50, 5)
    spans = passage_spans(text, max_chars=600, min_chars=250)
    holder = [text[s:e] for s, e in spans if "Tiêu đề mục hai" in text[s:e]]
    assert len(holder) == 1
    assert holder[0].startswith("Tiêu đề mục hai\n\n")


def test_trailing_byline_does_not_become_a_passage_of_its_own() -> None:
    """News reports end with the author's name ('Duy Vũ' in a seed report): it is not a passage."""
    text = paragraph(0, 3) + "\n\nDuy Vũ"
    spans = passage_spans(text, max_chars=600, min_chars=250)
    assert all(not is_heading(text[s:e]) for s, e in spans), [text[s:e] for s, e in spans]


def test_list_lines_before_a_long_paragraph_are_neither_lost_nor_left_alone() -> None:
    """Default sizes. A list lead and list lines without final punctuation, then a long paragraph."""
    intro = " ".join(
        [
            "Bộ trưởng chủ trì hội nghị giao ban quản lý nhà nước tháng 7 với sự tham dự của lãnh đạo các cơ quan, "
            "đơn vị thuộc Bộ và đại diện các doanh nghiệp."
        ]
        * 2
    )
    long_sentence = (
        "Năm 2023 là năm tạo ra thay đổi căn bản để đánh giá của Liên minh Viễn thông Thế giới về chính phủ điện tử, "
        "chính phủ số Việt Nam được chính xác, thông qua việc cung cấp đầy đủ thông tin cũng như cải thiện các thành "
        "phần đang có điểm thấp để thứ hạng Việt Nam được công bố vào năm 2024 sẽ tăng ít nhất 10 hạng, từ 86 xuống "
        "dưới 75, đồng thời bảo đảm kết nối, chia sẻ dữ liệu giữa các hệ thống thông tin của các bộ, ngành, địa "
        "phương và nâng cao chất lượng dịch vụ công trực tuyến cho người dân và doanh nghiệp trên phạm vi cả nước."
    )
    text = (
        f"{intro}\n\nChính phủ số:\n\n- Tỷ lệ DVCTT toàn trình: 90,66%\n\n"
        f"- Tỷ lệ hồ sơ DVCTT toàn trình: 46,55%\n\n{long_sentence}"
    )
    assert len(long_sentence) < 600
    spans = passage_spans(text, max_chars=600, min_chars=250)
    assert lost_sentences(text, spans) == []
    assert all(not is_heading(text[s:e]) for s, e in spans), [text[s:e] for s, e in spans]


def test_short_paragraphs_are_packed_together() -> None:
    text = "\n\n".join(sentence(i, 5) for i in range(10))  # ten ~50-character paragraphs
    spans = passage_spans(text, max_chars=600, min_chars=250)
    assert len(spans) < 10
    assert all(e - s >= 250 for s, e in spans[:-1])


# -- sentences ---------------------------------------------------------------------------------
def test_sentence_split_keeps_abbreviations_and_numbers() -> None:
    text = (
        "Đại diện Văn phòng Bộ tại TP. Hồ Chí Minh, Đà Nẵng tham dự. "
        "Google đã gỡ 1.052 videos vi phạm trên Youtube (tỷ lệ 91%). "
        "Doanh thu đạt 2.030.729 tỷ đồng! Tại sao? Vì 4,4 triệu khách hàng."
    )
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == [
        "Đại diện Văn phòng Bộ tại TP. Hồ Chí Minh, Đà Nẵng tham dự.",
        "Google đã gỡ 1.052 videos vi phạm trên Youtube (tỷ lệ 91%).",
        "Doanh thu đạt 2.030.729 tỷ đồng!",
        "Tại sao?",
        "Vì 4,4 triệu khách hàng.",
    ]


def test_line_breaks_end_sentences_and_offsets_point_into_the_text() -> None:
    text = "Viễn thông:\n\n- Tỷ lệ đạt 78%.\n- Tốc độ 93,44 Mbps"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Viễn thông:", "- Tỷ lệ đạt 78%.", "- Tốc độ 93,44 Mbps"]
    assert sentence_spans(text, 13, 29) == [(13, 29)]

"""Benchmark corpora built from the seed reports: varied passages, their tokens, and questions.

Passages are runs of consecutive seed sentences with one sentence swapped in from elsewhere,
so no two are identical while each still reads like a report. Tokens are computed once per
seed sentence with the production tokenizer and concatenated per passage: building 100k
passages then costs seconds, not the minutes pyvi would take on every passage.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from app.domain import DocumentInput
from app.ingest.cleaning import clean
from app.ingest.loaders import iter_folder, load_file
from app.text.normalize import normalize
from app.text.sentences import sentence_spans
from app.text.tokens import index_tokens

# Real questions civil servants ask about the five seed reports (and a few the corpus cannot answer).
QUESTIONS: tuple[str, ...] = (
    "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?",
    "Bộ TT&TT có bao nhiêu đơn vị phải xây dựng trợ lý ảo?",
    "Từ ngày nào doanh nghiệp viễn thông phải chịu trách nhiệm toàn bộ nếu phát hiện SIM rác?",
    "Khi nào tắt sóng 2G?",
    "Năm nào là năm thương mại hóa 5G trên phạm vi toàn quốc?",
    "Có khoảng bao nhiêu doanh nghiệp bưu chính đang hoạt động?",
    "Các nhà mạng cần cân nhắc tham gia đấu thầu tần số nào?",
    "Doanh thu ngành TT&TT 6 tháng đầu năm 2024 ước đạt bao nhiêu?",
    "Lợi nhuận ngành TT&TT 6 tháng đầu năm 2024 tăng bao nhiêu phần trăm?",
    "Đóng góp vào GDP của ngành TT&TT ước đạt bao nhiêu tỷ đồng?",
    "Tổng số lao động ngành TT&TT tính đến tháng 6/2024 là bao nhiêu?",
    "Vụ Pháp chế đã rà soát bao nhiêu văn bản?",
    "Ai trao Giấy phép thiết lập mạng viễn thông công cộng cho Viettel và VNPT?",
    "Thứ hạng chính phủ điện tử của Việt Nam cần tăng ít nhất bao nhiêu hạng?",
    "Bao nhiêu phần trăm hồ sơ phải được xử lý trực tuyến toàn trình?",
    "Nghị định 73 quy định về vấn đề gì?",
    "Băng tần 3800-3900 MHz sẽ được đấu giá để làm gì?",
    "Doanh thu thuần ngành bưu chính 6 tháng đầu năm 2021 đạt bao nhiêu?",
    "Ngành bưu chính tăng trưởng bao nhiêu phần trăm trong 6 tháng đầu năm 2021?",
    "Năm 2023 là năm gì đối với dữ liệu?",
    "Cục Báo chí chủ trì xây dựng kế hoạch triển khai chỉ thị nào?",
    "Ai là Phó Giám đốc Sở TT&TT Ninh Bình?",
    "Bộ trưởng yêu cầu gì về an toàn thông tin mạng?",
    "Chất lượng dịch vụ mạng 4G hiện nay ra sao?",
    "Nộp ngân sách nhà nước của ngành TT&TT giảm bao nhiêu phần trăm?",
    "Các sàn thương mại điện tử nào giúp nông dân tiêu thụ sản phẩm?",
    "Hội nghị giao ban quản lý nhà nước tháng 6/2024 do ai chủ trì?",
    "Bộ trưởng giao Vụ Kinh tế số và Xã hội số nhiệm vụ gì?",
    "Giá vé máy bay từ Hà Nội đi Đà Nẵng là bao nhiêu?",
    "Thủ tục đăng ký kết hôn cần những giấy tờ gì?",
    "Năm 2021 Bộ đặt mục tiêu gì với SIM rác?",
    "Tỉnh mẫu về Trung tâm điều hành thông minh IOC được công bố khi nào?",
)


@dataclass(frozen=True)
class SyntheticPassage:
    sentences: tuple[int, ...]  # indices into SeedText.sentences
    text: str


@dataclass(frozen=True)
class SeedText:
    """The seed reports cut into normalised sentences (grouped by report) and their tokens."""

    documents: tuple[tuple[int, ...], ...]  # sentence indices of each report, in reading order
    sentences: tuple[str, ...]

    @classmethod
    def load(cls, folder: Path, limit_documents: int | None = None) -> SeedText:
        """``limit_documents``: only the first N reports (a quicker set-up for smoke runs)."""
        documents: list[tuple[int, ...]] = []
        sentences: list[str] = []
        for path in list(iter_folder(folder))[:limit_documents]:
            text = clean(load_file(path).text).text
            spans = [(s, e) for s, e in sentence_spans(text) if e - s >= 20]
            documents.append(tuple(range(len(sentences), len(sentences) + len(spans))))
            sentences.extend(normalize(text[s:e]) for s, e in spans)
        if not sentences:
            raise ValueError(f"{folder} holds no seed text")
        return cls(tuple(documents), tuple(sentences))

    @cached_property
    def tokens(self) -> tuple[tuple[str, ...], ...]:
        """Production tokens (pyvi words plus syllables) of every sentence, computed once."""
        return tuple(tuple(index_tokens(s)) for s in self.sentences)

    def passages(
        self, count: int, seed: int = 0, max_chars: int = 560, with_text: bool = True
    ) -> Iterator[SyntheticPassage]:
        """``count`` distinct passages: a run of a report's sentences with one foreign sentence swapped in.

        ``with_text=False`` yields the sentence indices only (index-only measurements at 1M).
        """
        rng = random.Random(seed)
        seen: set[tuple[int, ...]] = set()
        produced = 0
        while produced < count:
            doc = self.documents[rng.randrange(len(self.documents))]
            start = rng.randrange(len(doc))
            chosen: list[int] = []
            size = 0
            for index in doc[start:]:
                if chosen and size + len(self.sentences[index]) > max_chars:
                    break
                chosen.append(index)
                size += len(self.sentences[index]) + 1
            chosen[rng.randrange(len(chosen))] = rng.randrange(len(self.sentences))
            if len(chosen) > 1 and rng.random() < 0.5:
                rng.shuffle(chosen)
            key = tuple(chosen)
            if key in seen:
                # Long runs repeat quickly at 1M passages: vary by one more random sentence.
                key = (*key, rng.randrange(len(self.sentences)))
                if key in seen:
                    continue
            seen.add(key)
            produced += 1
            yield SyntheticPassage(key, " ".join(self.sentences[i] for i in key) if with_text else "")

    def passage_tokens(self, passage: SyntheticPassage) -> list[str]:
        return [t for i in passage.sentences for t in self.tokens[i]]


def documents(seed: SeedText, passages: int, per_document: int = 8, seed_value: int = 0) -> list[DocumentInput]:
    """Documents for ingestion through the real pipeline: paragraphs of generated passages."""
    generated = list(seed.passages(passages, seed=seed_value))
    out: list[DocumentInput] = []
    for n in range(0, len(generated), per_document):
        chunk = generated[n : n + per_document]
        out.append(
            DocumentInput(
                title=f"Báo cáo tổng hợp số {n // per_document + 1}",
                text="\n\n".join(p.text for p in chunk),
                source=f"bench-{seed_value}-{n // per_document}",
            )
        )
    return out


_PREFIXES = ("", "Cho tôi hỏi: ", "Xin hỏi, ", "Anh/chị cho biết: ", "Tôi muốn biết ", "Vui lòng cho biết ")
_SUFFIXES = ("", " Xin cảm ơn.", " Trả lời ngắn gọn giúp tôi.", " Cảm ơn trợ lý.")


def question_variants(seed: int = 0) -> list[str]:
    """Every question under every polite prefix and suffix, shuffled: 768 distinct strings.

    Requests never repeat a string within a load level, so no cache keyed on the question
    text could flatter the figures.
    """
    out = [f"{p}{q[0].lower() + q[1:] if p else q}{s}" for q in QUESTIONS for p in _PREFIXES for s in _SUFFIXES]
    random.Random(seed).shuffle(out)
    return out

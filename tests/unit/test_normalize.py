"""The one normaliser for documents and questions: NFC, one tone placement, tidy white space."""

from __future__ import annotations

import random
import unicodedata

import pytest

from app.ingest.cleaning import clean
from app.text.normalize import fold, normalize
from app.text.tokens import question_tokens, syllables


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize(
    "text",
    ["Nguyễn Mạnh Hùng", "Bộ Thông tin và Truyền thông", "trợ lý ảo phải trả lời được 90% câu hỏi", "Đồng Tháp"],
)
def test_decomposed_input_equals_composed(text: str) -> None:
    decomposed = nfd(text)
    assert decomposed != text  # the input really is decomposed
    assert normalize(decomposed) == normalize(text) == unicodedata.normalize("NFC", text)


@pytest.mark.parametrize(
    ("new_style", "traditional"),
    [
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("tuỳ", "tùy"),
        ("Hoà Bình", "Hòa Bình"),
        ("HOÀ", "HÒA"),
        ("hoạ sĩ", "họa sĩ"),
        ("lan toả", "lan tỏa"),
        ("thương mại hoá", "thương mại hóa"),
    ],
)
def test_tone_placement_is_canonicalised(new_style: str, traditional: str) -> None:
    assert normalize(new_style) == traditional
    assert normalize(nfd(new_style)) == traditional
    assert normalize(traditional) == traditional


@pytest.mark.parametrize(
    "word",
    ["quý", "giữa", "người", "chuyện", "Nguyễn", "TT&TT", "quỳnh", "giường", "khuya", "ngoài", "mùa", "thuở", "gì"],
)
def test_correctly_placed_tones_and_non_words_are_left_alone(word: str) -> None:
    assert normalize(word) == word
    assert normalize(nfd(word)) == word


def test_document_and_question_normalise_the_same_way() -> None:
    document = clean(nfd("Tỉnh Hoà Bình phát triển thuỷ sản và giữ sức khoẻ cho người dân."))
    question = normalize("Tỉnh Hòa Bình phát triển thủy sản thế nào?")
    assert "Tỉnh Hòa Bình phát triển thủy sản" in document.text
    assert question.startswith("Tỉnh Hòa Bình phát triển thủy sản")
    # The tokens BM25 compares are identical whichever convention each side used.
    assert set(question_tokens("hoà bình thuỷ sản")) == set(question_tokens("hòa bình thủy sản"))
    assert set(syllables(normalize("HOÀ BÌNH"))) <= set(syllables(document.text))


def test_white_space_is_tidied_and_lines_kept() -> None:
    text = "  Hội\u00a0\u00a0nghị \t giao   ban\u2003tháng 6  \r\n\r\n  Bộ\u202fTT&TT  "
    assert normalize(text) == "Hội nghị giao ban tháng 6\n\nBộ TT&TT"


def test_zero_width_and_soft_hyphen_characters_are_removed() -> None:
    text = "trợ\u200b lý\u200c ảo\u200d\u2060 chuyển\u00ad đổi số\ufeff"
    assert normalize(text) == "trợ lý ảo chuyển đổi số"
    assert normalize("\ufeffBộ TT&TT") == "Bộ TT&TT"


def test_carriage_returns_become_newlines() -> None:
    assert normalize("a\r\nb\rc") == "a\nb\nc"


def test_fold_is_normalise_then_lowercase() -> None:
    assert fold(nfd("Hoà BÌNH")) == "hòa bình"


_SYLLABLES = (
    "hoà hòa thuỷ thủy khoẻ khỏe tuỳ tùy quý giữa người chuyện Nguyễn Việt Nam tiếng số hoá lý ảo "
    "Bộ TT&TT Đà Nẵng TP. HCM 1.052 90% 15/9/2024 Hội nghị giao ban trợ Lãnh ddaioj 20223 OTP 3800-3900 MHz"
).split()
_SEPARATORS = [
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r\n",
    "\u00a0",
    "\u2003",
    "\u200b",
    "\ufeff",
    "\u00ad",
    ", ",
    ". ",
    "? ",
]


def _random_texts(count: int, seed: int = 20240715) -> list[str]:
    """Texts made of real syllables in every encoding (NFC, NFD, either tone placement, any case)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 12)):
            word = rng.choice(_SYLLABLES)
            word = rng.choice([word, word.upper(), word.capitalize(), nfd(word)])
            parts.append(word + rng.choice(_SEPARATORS))
        texts.append(rng.choice(["", " ", "\ufeff"]) + "".join(parts))
    return texts


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hoà thuỷ khoẻ tuỳ",
        nfd("Thứ trưởng Nguyễn Thanh Lâm, Bộ TT&TT"),
        "\u0301\u0300 dấu đứng một mình",
        "a\u0301\u0300 hai dấu",
        "Lãnh ddaioj Bộ, năm 20223",
        "x\u200b\n\n\n  y\r\n",
    ],
)
def test_normalise_is_idempotent_on_examples(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


def test_normalise_is_idempotent_on_generated_texts() -> None:
    for text in _random_texts(2000):
        once = normalize(text)
        assert normalize(once) == once, repr(text)
        assert unicodedata.is_normalized("NFC", once), repr(text)
        assert "\u200b" not in once and "\ufeff" not in once and "\r" not in once
        assert once == once.strip()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A soft hyphen / zero-width space left between a letter and its combining marks
        # (decomposed text out of a word processor): once it is gone the marks must compose.
        ("Nguye\u00ad\u0302\u0303n", "Nguyễn"),
        ("chuye\u200b\u0302\u0309n", "chuyển"),
        ("a\ufeff\u0300", "à"),
    ],
)
def test_invisible_character_inside_a_decomposed_letter_still_gives_nfc(raw: str, expected: str) -> None:
    once = normalize(raw)
    assert once == expected
    assert unicodedata.is_normalized("NFC", once)
    assert normalize(once) == once


@pytest.mark.parametrize("raw", ["tie\u0301\u0302ng", "chuye\u0300\u0302n", "to\u0301\u0302i"])
def test_tone_mark_typed_before_the_vowel_mark_gives_a_stable_nfc_result(raw: str) -> None:
    """Decomposed input with the tone mark ahead of the circumflex (same combining class, so NFC
    keeps that order): whatever the result, it must be NFC and a fixed point."""
    once = normalize(raw)
    assert unicodedata.is_normalized("NFC", once)
    assert normalize(once) == once

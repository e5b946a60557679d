"""The one normaliser applied to documents and questions alike.

Vietnamese text arrives in several equivalent encodings: precomposed or decomposed
(NFC/NFD) characters, and two conventions for where the tone mark sits in a vowel
cluster ("hoà" vs "hòa", "thuỷ" vs "thủy"). Retrieval compares strings, so every
text is brought to NFC and to a single tone placement: the traditional one ("hòa",
"thủy", "khỏe"), which most Vietnamese text and keyboards use.
"""

from __future__ import annotations

import re
import unicodedata

_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_SHAPED = frozenset("ăâêôơư")
# Letters and combining marks: decomposed input keeps its marks inside the word.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff\u00ad]")
# A text that normalizes to something, as a pattern: it holds one character that is neither white
# space (str.isspace) nor removed as invisible. The HTTP API publishes it (JSON Schema, Python and
# Rust read it alike) for the texts it refuses when empty: a question, a unit's name, a document.
VISIBLE_PATTERN = r"[^\t-\r\x1c-\x20\x85\xa0\xad\u1680\u2000-\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff]"


def _tone_position(letters: str) -> int | None:
    """Index in ``letters`` (lowercase, toneless) of the vowel that carries the tone."""
    vowels = [i for i, ch in enumerate(letters) if ch in _VOWELS]
    if not vowels:
        return None
    # "qu" and "gi" + vowel: the u/i belongs to the initial consonant.
    if len(vowels) > 1 and vowels[0] == 1 and letters[:2] in ("qu", "gi"):
        vowels = vowels[1:]
    # Only the first contiguous run of vowels is the syllable's nucleus.
    run = [vowels[0]]
    for i in vowels[1:]:
        if i != run[-1] + 1:
            break
        run.append(i)
    shaped = [i for i in run if letters[i] in _SHAPED]
    if shaped:
        return shaped[-1]
    if len(run) == 1:
        return run[0]
    has_final = run[-1] < len(letters) - 1
    if has_final:
        return run[-1]
    # Open syllable: the first of two vowels ("hòa", "mùa"), the middle of three ("ngoài").
    return run[0] if len(run) == 2 else run[1]


def _place_tone(match: re.Match[str]) -> str:
    word = match.group(0)
    decomposed = unicodedata.normalize("NFD", word)
    tones = [ch for ch in decomposed if ch in _TONES]
    if len(tones) != 1:
        return unicodedata.normalize("NFC", word)  # untoned, or not a Vietnamese syllable
    bare = unicodedata.normalize("NFC", "".join(ch for ch in decomposed if ch not in _TONES))
    position = _tone_position(bare.lower())
    if position is None:
        return word
    toned = bare[: position + 1] + tones[0] + bare[position + 1 :]
    return unicodedata.normalize("NFC", toned)


def normalize(text: str) -> str:
    """NFC, one tone placement, tidy white space; line structure is kept."""
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _WORD.sub(_place_tone, text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines).strip()


def fold(text: str) -> str:
    """Case-folded form used for matching (not for display)."""
    return normalize(text).lower()

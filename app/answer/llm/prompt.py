"""What the LLM is told, in Vietnamese: the people asking are Vietnamese civil servants, the
passages are Vietnamese, and small models follow instructions best in the language they answer in.

Why each rule is there (docs/llm.md): answers must be checkable, so every claim carries the
number of its passage; a question about 2023 answered with a 2021 figure is a false answer, so
the model is told that another year or another subject is no answer; and abstaining is a
result, so there is one fixed refusal that troly recognises.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.answer.llm.client import Message
from app.domain import PassageHit, Turn

# The fixed refusal. The model is asked to write exactly this when the passages hold no answer.
REFUSAL = "KHÔNG CÓ THÔNG TIN"

ANSWER_RULES = "\n".join(
    (
        "Bạn là trợ lý ảo của một cơ quan nhà nước Việt Nam. Hãy trả lời câu hỏi CHỈ dựa trên các đoạn trích "
        "được đánh số, không dùng hiểu biết bên ngoài.",
        "Quy tắc:",
        "1. Trả lời ngắn gọn, chính xác, bằng tiếng Việt.",
        "2. Sau mỗi ý, ghi số của đoạn trích chứa thông tin đó trong ngoặc vuông, ví dụ [1] hoặc [2][3].",
        "3. Chú ý thời gian, con số và đối tượng: nếu đoạn trích nói về năm, kỳ báo cáo hoặc đối tượng khác với "
        "câu hỏi thì coi như không có thông tin.",
        f"4. Nếu các đoạn trích không chứa câu trả lời, chỉ viết đúng một dòng: {REFUSAL}",
    )
)

REWRITE_RULES = (
    "Viết lại câu hỏi cuối cùng của người dùng thành một câu hỏi đầy đủ, tự hiểu được mà không cần đọc cuộc hội "
    "thoại (nêu rõ đối tượng, đơn vị, thời gian được nhắc tới trước đó). Chỉ viết câu hỏi bằng tiếng Việt, không "
    "trả lời, không giải thích."
)


def _heading(hit: PassageHit) -> str:
    title = hit.title or "(không có tiêu đề)"
    return f"{title} ({hit.date})" if hit.date else title


def answer_messages(question: str, passages: Sequence[PassageHit]) -> list[Message]:
    """The passages numbered from 1 in the order given (retrieval's), then the question."""
    numbered = "\n\n".join(f"[{n}] {_heading(h)}\n{h.passage.text}" for n, h in enumerate(passages, start=1))
    return [
        Message("system", ANSWER_RULES),
        Message("user", f"Các đoạn trích:\n\n{numbered}\n\nCâu hỏi: {question}"),
    ]


def rewrite_messages(question: str, history: Sequence[Turn]) -> list[Message]:
    said = "\n".join(f"{'Người dùng' if t.role == 'user' else 'Trợ lý'}: {t.content}" for t in history)
    return [
        Message("system", REWRITE_RULES),
        Message("user", f"Hội thoại:\n{said}\n\nCâu hỏi cuối: {question}\n\nCâu hỏi đầy đủ:"),
    ]


_LABELS = ("câu hỏi đầy đủ:", "câu hỏi độc lập:", "câu hỏi:")


def standalone(reply: str, question: str, max_chars: int) -> str:
    """The rewritten question from the model's reply: its first line without a label or quotes;
    the question as asked when the reply gives none, or one too long to be a question."""
    line = next((part.strip() for part in reply.splitlines() if part.strip()), "")
    for label in _LABELS:
        if line.lower().startswith(label):
            line = line[len(label) :].strip()
    line = line.strip("\"'“”«» ")
    return line if line and len(line) <= max_chars else question

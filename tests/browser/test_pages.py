"""The three pages in headless Chromium, against the real app, model and indexes over HTTP."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import docx
from live_app import UNIT, Live
from playwright.sync_api import FilePayload, Locator, Page, expect

Q90 = "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?"
UNANSWERABLE = "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?"
ABSTAIN = "Chưa tìm thấy thông tin trong cơ sở tri thức."

FACT_TITLE = "Báo cáo số hóa tài liệu lưu trữ tỉnh Lạng Sơn năm 2024"
FACT_QUESTION = "Trung tâm Lưu trữ lịch sử tỉnh Lạng Sơn đã số hóa được bao nhiêu trang tài liệu trong năm 2024?"
FACT = "1.234.567"
FACT_REPLACED = "2.345.678"


def _report(path: Path, pages: str) -> Path:
    """A real Word document holding one distinctive fact."""
    document = docx.Document()
    document.add_heading("Báo cáo kết quả số hóa tài liệu lưu trữ", level=1)
    document.add_paragraph(
        f"Trong năm 2024, Trung tâm Lưu trữ lịch sử tỉnh Lạng Sơn đã số hóa được {pages} trang tài liệu lưu trữ, "
        "phục vụ tra cứu trực tuyến cho người dân và doanh nghiệp."
    )
    document.add_paragraph(
        "Kinh phí thực hiện là 18 tỷ đồng từ ngân sách tỉnh. Dự kiến đến hết năm 2026, toàn bộ hồ sơ lưu trữ "
        "có giá trị vĩnh viễn của tỉnh sẽ được số hóa và đưa vào cơ sở dữ liệu dùng chung."
    )
    document.save(str(path))
    return path


def _ask(page: Page, question: str, unit: str | None = None) -> None:
    """Asks on the ask page, from the keyboard, and waits for the result to be drawn."""
    if unit is not None:
        page.get_by_label("Đơn vị").select_option(unit)
    box = page.get_by_label("Câu hỏi")
    box.fill(question)
    box.press("Enter")
    expect(page.locator("#result")).to_have_attribute("data-state", "done")


def _citation_titles(page: Page) -> list[str]:
    expect(page.locator("#sources")).to_be_visible()
    return [t.strip() for t in page.locator("#citations .citation-title").all_text_contents()]


def _row(page: Page, title: str) -> Locator:
    return page.locator("#documents tbody tr", has_text=title)


def test_ask_shows_the_answer_with_the_answering_sentence_highlighted(
    page: Page, live: Live, screenshots: Path
) -> None:
    page.goto(live.url + "/")
    expect(page).to_have_title(re.compile("Trợ lý ảo"))
    _ask(page, Q90, UNIT)

    expect(page.locator(".answer-text")).to_contain_text("90%")
    marks = page.locator("#citations mark")
    expect(marks).to_have_count(1)
    expect(marks).to_contain_text("90%")
    cited = page.locator("#citations > li", has=page.locator("mark"))
    expect(cited.locator(".citation-title")).to_contain_text("Hội nghị giao ban quản lý nhà nước tháng 6/2024")
    expect(cited.locator("time")).to_have_text("tháng 7/2024")

    # The mark is exactly the sentence the API points at, and the passage around it is whole.
    reply = live.client.post("/v1/ask", json={"question": Q90, "unit": UNIT, "top_k": 5}).json()
    answering = next(c for c in reply["citations"] if c["highlight"])
    start, end = answering["highlight"]
    assert marks.text_content() == answering["text"][start:end]
    assert cited.locator("blockquote").text_content() == answering["text"]
    page.screenshot(path=str(screenshots / "ask.png"), full_page=True)

    # Keyboard: the question's Tab goes to the button, then past the answer to the feedback.
    page.get_by_label("Câu hỏi").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Hỏi", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Góp ý thêm (không bắt buộc)")).to_be_focused()


# Records what the page has drawn each time it says it drew something (its troly:* events).
_WATCH_DRAWING = """() => {
  window.drawn = [];
  const result = document.getElementById("result");
  for (const name of ["citations", "delta", "done"]) {
    result.addEventListener("troly:" + name, () => window.drawn.push({
      name,
      state: result.dataset.state,
      citations: document.querySelectorAll("#citations > li").length,
      sources: !document.getElementById("sources").hidden,
      answer: (document.querySelector("#answer .answer-text") || {}).textContent || "",
      marks: document.querySelectorAll("#citations mark").length,
      confidence: document.querySelectorAll("#answer .confidence").length,
    }));
  }
}"""


def test_the_ask_page_streams_the_citations_then_the_answer(page: Page, live: Live) -> None:
    page.goto(live.url + "/")
    page.evaluate(_WATCH_DRAWING)
    with page.expect_response(lambda r: r.url.endswith("/v1/ask")) as asked:
        _ask(page, Q90, UNIT)
    response = asked.value
    assert response.headers["content-type"].startswith("text/event-stream")
    assert json.loads(response.request.post_data or "{}")["stream"] is True

    drawn = page.evaluate("window.drawn")
    names = [d["name"] for d in drawn]
    assert names[0] == "citations" and names[-1] == "done" and set(names[1:-1]) == {"delta"}, names
    # The passages show first, unmarked, before any of the answer's text.
    first = drawn[0]
    assert first["sources"] and first["citations"] > 0 and first["answer"] == "" and first["marks"] == 0
    assert first["state"] == "streaming"
    # Each piece is appended to what was shown; the last piece shows the whole answer.
    texts = [d["answer"] for d in drawn[1:-1]]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    final = live.client.post("/v1/ask", json={"question": Q90, "unit": UNIT, "top_k": 5}).json()
    assert texts[-1] == final["answer"] and "90%" in texts[-1]
    assert all(d["confidence"] == 0 for d in drawn[:-1])
    # Then the final answer, with its confidence and the answering sentence marked.
    last = drawn[-1]
    assert (last["state"], last["answer"], last["marks"], last["confidence"]) == ("done", final["answer"], 1, 1)
    assert last["citations"] == len(final["citations"])


def test_ask_page_fits_a_phone(phone: Page, live: Live, screenshots: Path) -> None:
    phone.goto(live.url + "/")
    _ask(phone, Q90, UNIT)
    expect(phone.locator("#citations mark")).to_contain_text("90%")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    button = phone.get_by_role("button", name="Hỏi", exact=True).bounding_box()
    assert button is not None and button["width"] > 300, "the ask button should span a phone's width"
    # The question, the answer and the first cited passage with its mark (the rest is more passages).
    height = phone.locator("#citations > li").first.evaluate("li => li.getBoundingClientRect().bottom + scrollY + 16")
    phone.screenshot(
        path=str(screenshots / "ask-phone.png"), full_page=True, clip={"x": 0, "y": 0, "width": 390, "height": height}
    )


def test_an_abstention_says_so_and_marks_nothing(page: Page, live: Live) -> None:
    page.goto(live.url + "/")
    _ask(page, UNANSWERABLE, UNIT)
    expect(page.locator(".abstain-message")).to_have_text(ABSTAIN)
    expect(page.locator(".answer-text")).to_have_count(0)
    expect(page.locator("#citations-heading")).to_have_text("Các đoạn gần nhất")
    expect(page.locator("#citations mark")).to_have_count(0)


def _feedback(live: Live) -> tuple[int, int]:
    stats = live.stats()
    daily = stats["daily"]
    assert isinstance(daily, list) and isinstance(stats["feedback"], int)
    return stats["feedback"], sum(int(d["helpful"]) for d in daily)


def test_feedback_buttons_post_feedback(page: Page, live: Live) -> None:
    given, helpful = _feedback(live)
    page.goto(live.url + "/")
    _ask(page, Q90, UNIT)
    page.get_by_label("Góp ý thêm (không bắt buộc)").fill("Rõ ràng, có nguồn.")
    page.keyboard.press("Tab")
    good = page.get_by_role("button", name="Có ích", exact=True)
    expect(good).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#feedback-status")).to_have_text("Cảm ơn! Phản hồi của bạn đã được ghi nhận.")
    expect(good).to_have_attribute("aria-pressed", "true")
    assert _feedback(live) == (given + 1, helpful + 1)

    _ask(page, UNANSWERABLE)
    bad = page.get_by_role("button", name="Không có ích", exact=True)
    expect(page.locator("#feedback-status")).to_have_text("")
    bad.click()
    expect(page.locator("#feedback-status")).to_have_text("Cảm ơn! Phản hồi của bạn đã được ghi nhận.")
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")
    assert _feedback(live) == (given + 2, helpful + 1)


def test_maintainer_uploads_replaces_and_deletes_a_document(
    page: Page, live: Live, screenshots: Path, tmp_path: Path
) -> None:
    created = live.client.post("/v1/keys", json={"role": "maintainer", "units": [UNIT]}, headers=live.admin)
    assert created.status_code == 201
    key = created.json()["key"]
    report = _report(tmp_path / "so-hoa-lang-son.docx", FACT)
    page.goto(live.url + "/quan-tri")
    expect(page.locator("#documents tbody tr")).to_have_count(2)  # the seed reports
    expect(_row(page, "Hội nghị giao ban quản lý nhà nước tháng 6/2024")).to_contain_text("tháng 7/2024")

    # Without a key, a write is refused with a readable message.
    page.get_by_label(re.compile("^Tệp")).set_input_files(str(report))
    page.get_by_role("button", name="Tải lên").click()
    expect(page.locator("#messages").get_by_role("alert")).to_contain_text("Thao tác này cần khóa truy cập")
    expect(page.locator("#documents tbody tr")).to_have_count(2)

    # A wrong key is refused at once, and not kept.
    key_box = page.get_by_label("Khóa của quản trị viên hoặc người duy trì đơn vị")
    key_box.fill("khoa-sai")
    key_box.press("Enter")
    expect(page.locator("#key-message").get_by_role("alert")).to_contain_text("Khóa không hợp lệ hoặc đã bị thu hồi")
    assert page.evaluate("sessionStorage.getItem('troly.key')") is None

    key_box.fill(key)
    key_box.press("Enter")
    expect(page.locator("#key-state")).to_have_text("Đã nhập khóa cho phiên làm việc này.")
    expect(page.get_by_label("Khóa của quản trị viên hoặc người duy trì đơn vị")).to_have_value("")
    assert page.evaluate("sessionStorage.getItem('troly.key')") == key
    assert page.evaluate("localStorage.length") == 0 and page.evaluate("document.cookie") == ""

    # A file type the service does not take: a readable message, nothing listed.
    page.get_by_label(re.compile("^Tệp")).set_input_files(
        files=FilePayload(name="setup.exe", mimeType="application/octet-stream", buffer=b"MZ\x90\x00" + bytes(200))
    )
    page.get_by_role("button", name="Tải lên").click()
    expect(page.locator("#messages").get_by_role("alert")).to_contain_text("Định dạng tệp không được hỗ trợ")
    expect(page.locator("#documents tbody tr")).to_have_count(2)

    # The Word report: uploaded with progress, listed with its title and date.
    page.get_by_label(re.compile("^Tệp")).set_input_files(str(report))
    page.get_by_label("Tiêu đề (không bắt buộc)").fill(FACT_TITLE)
    page.get_by_label("Ngày của tài liệu (không bắt buộc)").fill("2024-12")
    page.get_by_role("button", name="Tải lên").click()
    expect(page.locator("#messages .msg.ok")).to_contain_text("Đã thêm “so-hoa-lang-son.docx”")
    expect(page.locator("#upload-progress")).to_have_attribute("data-state", "done")
    expect(page.locator("#progress")).to_have_js_property("value", 100)
    row = _row(page, FACT_TITLE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("tháng 12/2024")
    expect(row).to_contain_text("so-hoa-lang-son.docx")
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    page.screenshot(path=str(screenshots / "maintain.png"), full_page=True)

    # Asked of every unit, the new report is the answer's source.
    page.goto(live.url + "/")
    _ask(page, FACT_QUESTION)
    expect(page.locator(".answer-text")).to_contain_text(FACT)
    assert _citation_titles(page)[0] == FACT_TITLE
    expect(page.locator("#citations > li").first.locator("mark")).to_contain_text(FACT)
    expect(page.locator("#citations > li").first.locator("time")).to_have_text("tháng 12/2024")

    # Replaced: the new figure answers, under the same title.
    page.goto(live.url + "/quan-tri")
    expect(page.locator("#key-state")).to_have_text("Đã nhập khóa cho phiên làm việc này.")
    with page.expect_file_chooser() as chooser:
        _row(page, FACT_TITLE).get_by_role("button", name=re.compile("^Thay thế")).click()
    chooser.value.set_files(str(_report(tmp_path / "so-hoa-lang-son-v2.docx", FACT_REPLACED)))
    expect(page.locator("#messages .msg.ok")).to_contain_text("Đã thay thế nội dung")
    expect(_row(page, FACT_TITLE)).to_contain_text("so-hoa-lang-son-v2.docx")
    page.goto(live.url + "/")
    _ask(page, FACT_QUESTION)
    expect(page.locator(".answer-text")).to_contain_text(FACT_REPLACED)
    assert _citation_titles(page)[0] == FACT_TITLE

    # Deleted (after a confirmation): gone from the list and from the answers.
    page.goto(live.url + "/quan-tri")
    _row(page, FACT_TITLE).get_by_role("button", name=re.compile("^Xóa")).click()
    page.get_by_role("button", name="Xác nhận xóa").click()
    expect(page.locator("#messages .msg.ok")).to_contain_text(f"Đã xóa tài liệu “{FACT_TITLE}”")
    expect(_row(page, FACT_TITLE)).to_have_count(0)
    expect(page.locator("#documents tbody tr")).to_have_count(2)
    listed = live.client.get(f"/v1/units/{UNIT}/documents").json()
    assert FACT_TITLE not in [d["title"] for d in listed]

    page.goto(live.url + "/")
    _ask(page, FACT_QUESTION)
    assert FACT_TITLE not in _citation_titles(page)
    expect(page.locator("#answer")).not_to_contain_text(FACT_REPLACED)
    expect(page.locator("#citations")).not_to_contain_text(FACT_REPLACED)


def _vi_percent(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return text + "%"


def test_dashboard_draws_the_rates_against_the_target_and_the_latest_evaluation(
    page: Page, live: Live, screenshots: Path
) -> None:
    for question in (Q90, UNANSWERABLE, "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?"):
        reply = live.client.post("/v1/ask", json={"question": question, "unit": UNIT})
        assert reply.status_code == 200
    live.client.post(f"/v1/answers/{reply.json()['id']}/feedback", json={"helpful": True}).raise_for_status()
    stats = live.stats()
    assert isinstance(stats["answer_rate"], float) and isinstance(stats["last_eval"], dict)

    page.goto(live.url + "/dashboard")
    page.get_by_label("Đơn vị").select_option(UNIT)
    expect(page.locator("#updated")).to_contain_text("Cập nhật lúc")
    expect(page.locator('[data-figure="questions"]')).to_have_text(str(stats["questions"]))
    expect(page.locator('[data-figure="answered"]')).to_have_text(str(stats["answered"]))
    expect(page.locator('[data-figure="answer_rate"]')).to_contain_text(_vi_percent(stats["answer_rate"]))
    expect(page.locator('[data-figure="answer_rate"]')).to_contain_text("mục tiêu 90%")

    for chart in ("#answer-chart", "#helpful-chart"):
        expect(page.locator(f"{chart} svg")).to_have_count(1)
        expect(page.locator(f"{chart} svg .target-line")).to_have_count(1)
        expect(page.locator(f"{chart} svg .target-label")).to_have_text("Mục tiêu 90%")
    days = stats["daily"]
    assert isinstance(days, list)
    expect(page.locator("#answer-chart circle.point")).to_have_count(len(days))
    expect(page.locator("#helpful-chart circle.point")).to_have_count(sum(1 for d in days if d["feedback"]))

    last = stats["last_eval"]
    expect(page.locator("#eval-meta")).to_contain_text(f"Lần đánh giá số {last['run']}")
    bar = page.locator('#eval-chart svg rect.bar[data-metric="answer_rate"]')
    expect(bar).to_have_count(1)
    expect(page.locator("#eval-chart svg")).to_contain_text(_vi_percent(float(last["answer_rate"])))
    expect(page.locator("#eval-chart svg .target-line")).to_have_count(1)
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

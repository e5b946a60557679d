"""The overview of every unit and the dashboard's evaluations, in headless Chromium against the real
app over HTTP: its question sets, evaluation jobs and scorecards, run on the seed reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from live_app import EMPTY_UNIT, OTHER_UNIT, UNIT, Live
from playwright.sync_api import Page, expect

STATUS = {True: "Đạt", False: "Chưa đạt", None: "Chưa đánh giá"}
# Over the seed reports of the live app: two answered right, one abstained on as it should, and one
# whose expected answer is not what the report says (the report says 90%): a wrong answer, a miss.
QUESTIONS = [
    {"id": "q1", "question": "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", "answers": ["90%"]},
    {"id": "q2", "question": "Tấn công mạng tháng 7/2023 là bao nhiêu cuộc?", "answers": ["836"]},
    {"id": "q3", "question": "Giá vé máy bay từ Hà Nội đi Paris là bao nhiêu?", "answers": []},
    {"id": "q4", "question": "Trợ lý ảo phải trả lời được bao nhiêu phần trăm câu hỏi?", "answers": ["95%"]},
]


def _vi_percent(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return text + "%"


def _overview(live: Live) -> dict[str, Any]:
    response = live.client.get("/v1/overview", params={"days": 30})
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _row_units(page: Page) -> list[str]:
    return [str(u) for u in page.locator("#units tbody tr").evaluate_all("rows => rows.map(r => r.dataset.unit)")]


def _bar_units(page: Page) -> list[str]:
    return [
        str(u) for u in page.locator("#overview-chart rect.bar").evaluate_all("bars => bars.map(b => b.dataset.unit)")
    ]


def test_the_overview_lists_every_unit_sorts_them_and_draws_them_against_the_target(
    page: Page, live: Live, screenshots: Path
) -> None:
    # Some live questions, and feedback on one, for the live columns.
    for unit, question in [
        (UNIT, QUESTIONS[0]["question"]),
        (UNIT, QUESTIONS[2]["question"]),
        (OTHER_UNIT, QUESTIONS[1]["question"]),
    ]:
        reply = live.client.post("/v1/ask", json={"question": question, "unit": unit})
        assert reply.status_code == 200
        if unit == UNIT:
            live.client.post(f"/v1/answers/{reply.json()['id']}/feedback", json={"helpful": True}).raise_for_status()
    data = _overview(live)
    units = {u["id"]: u for u in data["units"]}
    assert {UNIT, OTHER_UNIT, EMPTY_UNIT} <= set(units)
    assert units[UNIT]["questions_asked"] >= 2 and units[UNIT]["helpful_rate"] is not None
    page.goto(live.url + "/tong-quan")
    expect(page).to_have_title(re.compile("^Tổng quan các đơn vị"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Tổng quan các đơn vị")
    expect(page.get_by_role("navigation", name="Các trang").get_by_role("link", name="Tổng quan")).to_have_attribute(
        "aria-current", "page"
    )

    # A row per unit, its figures and its status as the API gives them.
    rows = page.locator("#units tbody tr")
    expect(rows).to_have_count(len(units))
    for unit in units.values():
        row = page.locator(f'#units tbody tr[data-unit="{unit["id"]}"]')
        expect(row.get_by_role("rowheader")).to_have_text(unit["name"])
        expect(row.locator(".badge")).to_have_text(STATUS[unit["meets_target"]])
        expect(row.locator("td").nth(0)).to_have_text(str(unit["documents"]))
        expect(row.locator("td").nth(1)).to_have_text(str(unit["questions_asked"]))
        for cell, rate in ((2, unit["live_answer_rate"]), (3, unit["helpful_rate"])):
            expect(row.locator("td").nth(cell)).to_have_text("—" if rate is None else _vi_percent(rate))
        last = unit["last_eval"]
        if last is not None:
            expect(row.locator("td").nth(4)).to_have_text(_vi_percent(last["answer_rate"]))
            expect(row.locator("td time")).to_have_attribute("datetime", last["at"])
    assert units[OTHER_UNIT]["meets_target"] is False  # the seed: its reports do not hold the answers
    assert units[EMPTY_UNIT]["last_eval"] is None

    # The chart: a bar per evaluated unit, coloured by whether it meets the target, and the target line.
    evaluated = {u["id"]: u for u in units.values() if u["last_eval"] is not None}
    expect(page.locator("#overview-chart rect.bar")).to_have_count(len(evaluated))
    assert sorted(_bar_units(page)) == sorted(evaluated)
    for unit_id, unit in evaluated.items():
        expect(page.locator(f'#overview-chart rect.bar[data-unit="{unit_id}"]')).to_have_class(
            re.compile(r"\bmeets\b" if unit["meets_target"] else r"\bbelow\b")
        )
    expect(page.locator("#overview-chart svg .target-line")).to_have_count(1)
    expect(page.locator("#overview-chart svg .target-label")).to_have_text(re.compile(r"Mục tiêu\s*90%"))
    expect(page.locator("#overview-chart svg")).to_have_attribute("role", "img")
    expect(page.locator("#overview-chart desc")).to_contain_text("1 đơn vị chưa được đánh giá")
    # The line sits at 90% of the way from the 0% axis to the top grid line.
    line_y = float(page.locator("#overview-chart .target-line").get_attribute("y1") or "nan")
    ys = [
        float(y)
        for y in page.locator("#overview-chart line.axis, #overview-chart line.grid").evaluate_all(
            "lines => lines.map(l => l.getAttribute('y1'))"
        )
    ]
    zero, top = max(ys), min(ys)
    assert abs((zero - line_y) / (zero - top) - data["target"]) < 1e-6

    # Sorting: by name at first; by the evaluation's answer rate, up then down (never evaluated last).
    names = page.get_by_role("columnheader", name=re.compile("^Đơn vị"))
    expect(names).to_have_attribute("aria-sort", "ascending")
    by_rate = sorted(evaluated, key=lambda u: (evaluated[u]["last_eval"]["answer_rate"], evaluated[u]["name"]))
    rate_header = page.get_by_role("columnheader", name=re.compile("^Trả lời đúng"))
    rate_header.get_by_role("button").click()
    expect(rate_header).to_have_attribute("aria-sort", "ascending")
    expect(names).not_to_have_attribute("aria-sort", re.compile("."))
    assert _row_units(page)[: len(by_rate)] == by_rate
    assert _row_units(page)[-1] == EMPTY_UNIT or units[_row_units(page)[-1]]["last_eval"] is None
    assert _bar_units(page) == by_rate  # the chart follows the table's order
    rate_header.get_by_role("button").click()
    expect(rate_header).to_have_attribute("aria-sort", "descending")
    assert _row_units(page)[: len(by_rate)] == by_rate[::-1]
    expect(page.locator("#sort-state")).to_have_text("Đã sắp xếp theo cột “Trả lời đúng”, giảm dần.")

    # The status column from the keyboard: worst first (below the target, then never evaluated).
    status_button = page.get_by_role("columnheader", name=re.compile("^Trạng thái")).get_by_role("button")
    status_button.focus()
    page.keyboard.press("Enter")
    statuses = rows.locator(".badge").all_text_contents()
    assert statuses == sorted(statuses, key=["Chưa đạt", "Chưa đánh giá", "Đạt"].index)
    expect(status_button.locator("..")).to_have_attribute("aria-sort", "ascending")
    page.evaluate("document.activeElement.blur()")
    page.mouse.move(0, 0)
    page.screenshot(path=str(screenshots / "overview.png"), full_page=True)

    # Each unit links to its dashboard, which opens on that unit.
    link = page.locator(f'#units tbody tr[data-unit="{OTHER_UNIT}"]').get_by_role("link")
    expect(link).to_have_attribute("href", f"/dashboard?unit={OTHER_UNIT}")
    link.click()
    expect(page).to_have_url(re.compile(rf"/dashboard\?unit={OTHER_UNIT}$"))
    expect(page.get_by_label("Đơn vị", exact=True)).to_have_value(OTHER_UNIT)
    expect(page.locator("#evaluate-unit")).to_have_text(f"Đơn vị: {units[OTHER_UNIT]['name']}.")
    expect(page.locator("#updated")).to_contain_text("Cập nhật lúc")


def test_the_overview_fits_a_phone(phone: Page, live: Live) -> None:
    phone.goto(live.url + "/overview")
    expect(phone.locator("#units tbody tr")).to_have_count(len(_overview(live)["units"]))
    expect(phone.locator("#overview-chart svg .target-line")).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
    # The wide table scrolls inside its own box, which a keyboard can reach.
    expect(phone.get_by_role("region", name=re.compile("^Bảng các đơn vị"))).to_have_attribute("tabindex", "0")


def _jsonl(path: Path, questions: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return path


def test_an_evaluator_uploads_a_question_set_runs_it_and_reads_the_misses(
    page: Page, live: Live, screenshots: Path, tmp_path: Path
) -> None:
    created = live.client.post("/v1/keys", json={"role": "maintainer", "units": [UNIT]}, headers=live.admin)
    assert created.status_code == 201
    key = created.json()["key"]
    questions = _jsonl(tmp_path / "kiem-tra-bo-tttt.jsonl", QUESTIONS)

    page.goto(live.url + f"/dashboard?unit={UNIT}")
    expect(page.get_by_label("Đơn vị", exact=True)).to_have_value(UNIT)
    section = page.locator("#evaluate")
    expect(section.get_by_role("heading", name="Đánh giá", exact=True)).to_be_visible()
    expect(page.locator("#sets-state")).not_to_have_text("Đang tải danh sách bộ câu hỏi…")

    # Without a key, the upload is refused with a readable message, and nothing is stored.
    page.get_by_label("Tệp bộ câu hỏi").set_input_files(str(questions))
    page.get_by_role("button", name="Tải lên bộ câu hỏi").click()
    expect(page.locator("#eval-messages").get_by_role("alert")).to_contain_text("cần khóa truy cập")
    before = live.client.get(f"/v1/units/{UNIT}/question-sets").json()

    key_box = page.get_by_label("Khóa truy cập (của quản trị viên hoặc người duy trì)")
    key_box.fill(key)
    key_box.press("Enter")
    expect(page.locator("#eval-key-state")).to_have_text("Đã nhập khóa cho phiên làm việc này.")
    assert page.evaluate("sessionStorage.getItem('troly.key')") == key

    # The JSONL file, named here: listed with its four questions.
    page.get_by_label("Tệp bộ câu hỏi").set_input_files(str(questions))
    page.get_by_label("Tên bộ câu hỏi (không bắt buộc)").fill("Kiểm tra Bộ TT&TT")
    page.get_by_role("button", name="Tải lên bộ câu hỏi").click()
    expect(page.locator("#eval-messages .msg.ok")).to_have_text("Đã tải lên bộ câu hỏi “Kiểm tra Bộ TT&TT”: 4 câu hỏi.")
    after = live.client.get(f"/v1/units/{UNIT}/question-sets").json()
    assert len(after) == len(before) + 1
    stored = next(s for s in after if s["name"] == "Kiểm tra Bộ TT&TT")
    assert stored["questions"] == len(QUESTIONS)
    row = page.locator(f'#question-sets tbody tr[data-set="{stored["id"]}"]')
    expect(row).to_contain_text("Kiểm tra Bộ TT&TT")
    expect(row.locator("td.num")).to_have_text("4")

    # Run it: the progress bar follows the job to the end, then the figures and the misses show.
    with page.expect_response(
        lambda r: r.url.endswith(f"/v1/units/{UNIT}/evaluations") and r.request.method == "POST"
    ) as started:
        row.get_by_role("button", name="Chạy đánh giá").click()
    assert started.value.status == 202
    job_id = started.value.json()["id"]
    expect(page.locator("#eval-progress-bar")).to_be_visible()
    expect(page.locator("#eval-run")).to_have_attribute("data-job", job_id)
    expect(page.locator("#eval-run")).to_have_attribute("data-state", "done", timeout=120_000)
    expect(page.locator("#eval-progress-bar")).to_have_js_property("value", 100)
    expect(page.locator("#eval-progress-label")).to_have_text("Đã chạy xong bộ câu hỏi “Kiểm tra Bộ TT&TT”")

    job = live.client.get(f"/v1/evaluations/{job_id}").json()
    assert job["status"] == "done" and job["progress"] == 1 and job["question_set_name"] == "Kiểm tra Bộ TT&TT"
    result = job["result"]
    expect(page.locator('[data-eval="answer_rate"]')).to_contain_text(_vi_percent(result["answer_rate"]))
    expect(page.locator('[data-eval="answer_rate"]')).to_contain_text("dưới mục tiêu 90%")
    expect(page.locator('[data-eval="false_answer_rate"]')).to_have_text(_vi_percent(result["false_answer_rate"]))
    expect(page.locator('[data-eval="recall_at_5"]')).to_have_text(_vi_percent(result["recall_at_5"]))
    expect(page.locator("#eval-outcomes")).to_contain_text(f"trả lời sai: {result['outcomes']['wrong answer']}")

    # The misses table is the API's misses, row for row; the wrong one shows what was expected,
    # what was answered and the passage it came from, the answering sentence marked.
    misses = result["misses"]
    assert "q4" in [m["id"] for m in misses]
    assert result["outcomes"]["wrong answer"] >= 1
    miss_rows = page.locator("#misses tbody tr")
    expect(miss_rows).to_have_count(len(misses))
    assert miss_rows.evaluate_all("rows => rows.map(r => r.dataset.question)") == [m["id"] for m in misses]
    wrong = next(m for m in misses if m["id"] == "q4")
    assert wrong["outcome"] == "wrong answer" and wrong["answer"] and "90%" in wrong["answer"]
    row = page.locator('#misses tbody tr[data-question="q4"]')
    expect(row.locator("td").nth(0)).to_contain_text(QUESTIONS[3]["question"])
    expect(row.locator("td").nth(0)).to_contain_text("trả lời sai")
    expect(row.locator("td").nth(1)).to_have_text("95%")
    expect(row.locator("td").nth(2)).to_have_text(wrong["answer"])
    citation = wrong["citation"]
    expect(row.locator(".cited-title")).to_have_text(citation["title"])
    expect(row.locator("blockquote")).to_have_text(citation["text"])
    if citation["highlight"] is not None:
        start, end = citation["highlight"]
        expect(row.locator("blockquote mark")).to_have_text(citation["text"][start:end])
    expect(page.locator("#miss-count")).to_have_text(f"({len(misses)})")
    expect(page.locator(f'#eval-jobs li[data-job="{job_id}"]')).to_contain_text("đã xong")
    page.locator("#evaluate").screenshot(path=str(screenshots / "dashboard-evaluation.png"))

    # Reloaded, the page shows the unit's latest run again, without running anything.
    page.reload()
    expect(page.locator("#eval-run")).to_have_attribute("data-job", job_id)
    expect(page.locator("#misses tbody tr")).to_have_count(len(misses))

    # The JSON format too; and a set is deleted after a confirmation.
    named = tmp_path / "bo-json.json"
    named.write_text(json.dumps({"name": "Bộ JSON", "questions": QUESTIONS[:2]}, ensure_ascii=False), encoding="utf-8")
    page.get_by_label("Tệp bộ câu hỏi").set_input_files(str(named))
    page.get_by_role("button", name="Tải lên bộ câu hỏi").click()
    expect(page.locator("#eval-messages .msg.ok")).to_have_text("Đã tải lên bộ câu hỏi “Bộ JSON”: 2 câu hỏi.")
    json_row = page.locator("#question-sets tbody tr", has_text="Bộ JSON")
    expect(json_row.locator("td.num")).to_have_text("2")
    json_row.get_by_role("button", name="Xóa bộ câu hỏi Bộ JSON").click()
    page.get_by_role("button", name="Xác nhận xóa").click()
    expect(page.locator("#eval-messages .msg.ok")).to_have_text("Đã xóa bộ câu hỏi “Bộ JSON”.")
    expect(json_row).to_have_count(0)
    assert "Bộ JSON" not in [s["name"] for s in live.client.get(f"/v1/units/{UNIT}/question-sets").json()]


def test_the_dashboard_asks_for_a_unit_before_evaluating(page: Page, live: Live) -> None:
    page.goto(live.url + "/dashboard")
    expect(page.get_by_label("Đơn vị", exact=True)).to_have_value("")
    expect(page.locator("#evaluate-unit")).to_have_text("Chọn một đơn vị ở trên để xem và chạy đánh giá của đơn vị đó.")
    expect(page.locator("#evaluate-body")).to_be_hidden()
    page.get_by_label("Đơn vị", exact=True).select_option(EMPTY_UNIT)
    expect(page).to_have_url(re.compile(rf"/dashboard\?unit={EMPTY_UNIT}$"))
    expect(page.locator("#evaluate-body")).to_be_visible()
    expect(page.locator("#sets-state")).to_have_text("Đơn vị này chưa có bộ câu hỏi nào. Hãy tải lên một bộ ở dưới.")
    expect(page.locator("#jobs-state")).to_have_text("Chưa có lần đánh giá nào cho đơn vị này.")

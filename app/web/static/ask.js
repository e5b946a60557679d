/* The ask page: a question to POST /v1/ask, streamed (its cited passages first, then the answer as
 * it comes, then the final answer with its highlights), and feedback. */
"use strict";

(() => {
  const { el, clear } = Troly;
  const form = document.getElementById("ask-form");
  const question = document.getElementById("question");
  const unit = document.getElementById("unit");
  const button = document.getElementById("ask-button");
  const result = document.getElementById("result");
  const answerBox = document.getElementById("answer");
  const sources = document.getElementById("sources");
  const sourcesHeading = document.getElementById("citations-heading");
  const citations = document.getElementById("citations");
  const feedback = document.getElementById("feedback");
  const feedbackButtons = feedback.querySelectorAll("button[data-helpful]");
  const feedbackComment = document.getElementById("feedback-comment");
  const feedbackStatus = document.getElementById("feedback-status");

  const ABSTAIN = "Chưa tìm thấy thông tin trong cơ sở tri thức.";
  let answerId = null;
  let busy = false;  // the button is never disabled while asking: that would drop keyboard focus

  // Enter sends, Shift+Enter starts a new line; never while an input method is composing.
  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const text = question.value.trim();
    if (!text) {
      showAnswer("failed", el("p", { role: "alert" }, "Vui lòng nhập câu hỏi."));
      question.focus();
      return;
    }
    answerId = null;
    result.dataset.state = "loading";
    result.setAttribute("aria-busy", "true");
    busy = true;
    button.setAttribute("aria-disabled", "true");
    feedback.hidden = true;
    sources.hidden = true;
    clear(citations);
    showAnswer("loading", el("p", {}, "Đang tìm câu trả lời…"));
    try {
      const data = await ask({ question: text, unit: unit.value || null, top_k: 5, stream: true });
      render(data);
      result.dataset.state = "done";
      told("done");
    } catch (error) {
      showAnswer("failed", Troly.errorBlock(error, "Không hỏi được."));
      result.dataset.state = "error";
    } finally {
      busy = false;
      button.removeAttribute("aria-disabled");
      result.removeAttribute("aria-busy");
    }
  });

  function showAnswer(kind, ...children) {
    answerBox.className = "answer " + kind;
    answerBox.replaceChildren(...children);
  }

  /** Asks with stream: true, drawing the citations and the answer's pieces as they arrive; resolves
   * to the final answer (the "done" event: the same object a non-streaming ask returns). */
  async function ask(body) {
    let streamed = "";
    let final = null;
    const whole = await Troly.stream("/v1/ask", body, (name, data) => {
      if (name === "citations") {
        showCitations(data, null);
        result.dataset.state = "streaming";
      } else if (name === "delta") {
        streamed += data.text;
        showAnswer("streaming", el("h2", {}, "Câu trả lời"), el("p", { class: "answer-text" }, streamed));
      } else if (name === "done") {
        final = data;
        return;  // drawn by the caller, with the feedback
      } else if (name === "error") {
        const e = (data && data.error) || {};
        throw new Troly.ApiError(500, String(e.code || "internal_error"), String(e.message || ""));
      } else {
        return;
      }
      told(name);
    });
    if (whole !== undefined) return whole;  // not streamed: the answer in one piece
    if (final === null) throw new Troly.ApiError(0, "network", "the answer stream ended before its end");
    return final;
  }

  /** Tells listeners (the browser tests) what was just drawn: troly:citations, troly:delta, troly:done. */
  function told(name) {
    result.dispatchEvent(new CustomEvent("troly:" + name));
  }

  /** answered: true, false (an abstention: the nearest passages), or null while the answer is coming. */
  function showCitations(list, answered) {
    sourcesHeading.textContent = answered === false ? "Các đoạn gần nhất" : "Nguồn trích dẫn";
    const names = Troly.unitNames();
    // The answering sentence is marked only when there is an answer: an abstention has none.
    citations.replaceChildren(...list.map((c) => citation(c, names, answered)));
    sources.hidden = list.length === 0;
  }

  function render(data) {
    answerId = data.id;
    result.dataset.answerId = data.id;
    const answered = Boolean(!data.abstained && data.answer);
    if (answered) {
      showAnswer("answered",
        el("h2", {}, "Câu trả lời"),
        el("p", { class: "answer-text" }, data.answer),
        // A language model's answer has no calibrated confidence: its [n] markers name its sources.
        data.reader === "llm"
          ? el("p", { class: "confidence" }, "Do mô hình ngôn ngữ viết từ các nguồn trích dẫn [1], [2]… bên dưới.")
          : el("p", { class: "confidence" }, "Độ tin cậy: " + Troly.percent(data.confidence)),
        data.rewritten_question
          ? el("p", { class: "rewritten" }, "Đã tìm theo câu hỏi: " + data.rewritten_question) : null,
        data.reader_fallback
          ? el("p", { class: "fallback" }, "Mô hình ngôn ngữ chưa trả lời được; đây là câu trả lời trích xuất.")
          : null);
    } else {
      showAnswer("abstained",
        el("p", { class: "abstain-message" }, ABSTAIN),
        el("p", {}, data.citations.length
          ? "Trợ lý chưa đủ căn cứ để trả lời câu hỏi này. Các đoạn gần nhất được liệt kê dưới đây để bạn tham khảo."
          : "Trợ lý chưa đủ căn cứ để trả lời câu hỏi này."));
    }
    showCitations(data.citations, answered);
    for (const b of feedbackButtons) b.setAttribute("aria-pressed", "false");
    feedbackComment.value = "";
    feedbackStatus.textContent = "";
    feedback.hidden = false;
  }

  function citation(c, names, answered) {
    const highlighted = answered && Array.isArray(c.highlight);
    const meta = el("p", { class: "meta" },
      el("span", {}, "Đơn vị: ", names[c.unit] || c.unit),
      c.date ? el("span", {}, "Ngày: ", el("time", { datetime: c.date }, Troly.formatDate(c.date))) : null);
    return el("li", { class: highlighted ? "citation answering" : "citation", dataset: { document: c.document_id } },
      el("article", {},
        el("h3", { class: "citation-title" }, c.title || "(không có tiêu đề)"),
        meta,
        el("blockquote", { class: "passage" }, ...passage(c.text, highlighted ? c.highlight : null))));
  }

  /** The passage as text nodes, with the answering sentence in a <mark>. Offsets count code points. */
  function passage(text, span) {
    if (!span) return [text];
    const chars = Array.from(text);
    const start = Math.max(0, Math.min(chars.length, span[0]));
    const end = Math.max(start, Math.min(chars.length, span[1]));
    if (end === start) return [text];
    return [
      chars.slice(0, start).join(""),
      el("mark", {}, chars.slice(start, end).join("")),
      chars.slice(end).join(""),
    ].filter((part) => part !== "");
  }

  let sending = false;
  for (const b of feedbackButtons) {
    b.addEventListener("click", async () => {
      if (!answerId || sending) return;
      sending = true;
      const helpful = b.dataset.helpful === "true";
      const comment = feedbackComment.value.trim();
      feedbackStatus.textContent = "Đang gửi phản hồi…";
      try {
        await Troly.api("POST", "/v1/answers/" + encodeURIComponent(answerId) + "/feedback",
          { helpful, comment: comment || null });
        for (const other of feedbackButtons) other.setAttribute("aria-pressed", String(other === b));
        feedbackStatus.textContent = "Cảm ơn! Phản hồi của bạn đã được ghi nhận.";
      } catch (error) {
        feedbackStatus.replaceChildren(Troly.errorBlock(error, "Chưa gửi được phản hồi."));
      } finally {
        sending = false;
      }
    });
  }

  Troly.loadUnits();
  const fromUrl = new URLSearchParams(window.location.search);
  if (fromUrl.get("unit")) unit.value = fromUrl.get("unit");
  if (fromUrl.get("q")) question.value = fromUrl.get("q");
})();

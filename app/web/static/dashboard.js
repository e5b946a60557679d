/* The dashboard: GET /v1/stats for a unit, drawn as figures and inline SVG charts (no library); and
 * the unit's evaluations: its question sets, a run followed to the end, the questions it missed. */
"use strict";

(() => {
  const { el } = Troly;
  const NS = "http://www.w3.org/2000/svg";
  const DAY = 86400000;
  const REFRESH_MS = 30000;

  const form = document.getElementById("dashboard-form");
  const unit = document.getElementById("unit");
  const days = document.getElementById("days");
  const updated = document.getElementById("updated");
  const answerChart = document.getElementById("answer-chart");
  const helpfulChart = document.getElementById("helpful-chart");
  const evalChart = document.getElementById("eval-chart");
  const evalMeta = document.getElementById("eval-meta");
  const dailyBody = document.querySelector("#daily-table tbody");

  let last = null;
  let serial = 0;

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function width(container) {
    return Math.max(300, Math.min(760, Math.round(container.clientWidth || 640)));
  }

  function dayIndex(day, start) {
    const [y, m, d] = day.split("-").map(Number);
    return Math.round((Date.UTC(y, m - 1, d) - start) / DAY);
  }

  function shortDay(ms) {
    const d = new Date(ms);
    return d.getUTCDate() + "/" + (d.getUTCMonth() + 1);
  }

  /** A daily rate over the period, on 0–100%, with the target as a dashed line. */
  function lineChart(container, { kind, title, points, period, target }) {
    const W = width(container);
    const H = 240;
    const m = { l: 46, r: 14, t: 18, b: 32 };
    const today = new Date();
    const end = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
    const start = end - period * DAY;
    const x = (i) => m.l + (period ? (i / period) : 0.5) * (W - m.l - m.r);
    const y = (v) => m.t + (1 - v) * (H - m.t - m.b);
    const id = container.id;
    const present = points.filter((p) => p.value !== null);
    const mean = present.length ? present.reduce((s, p) => s + p.value, 0) / present.length : null;
    const chart = svg("svg", {
      viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", class: "chart-svg " + kind,
      "aria-labelledby": id + "-title " + id + "-desc",
    },
    svg("title", { id: id + "-title" }, title),
    svg("desc", { id: id + "-desc" }, present.length
      ? present.length + " ngày có số liệu; trung bình " + Troly.percent(mean) + "; mục tiêu " + Troly.percent(target) + "."
      : "Chưa có số liệu trong khoảng thời gian này."));
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      chart.append(svg("line", { class: v ? "grid" : "axis", x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      chart.append(svg("text", { class: "tick", x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, Math.round(v * 100) + "%"));
    }
    const ticks = Math.min(period, W < 420 ? 3 : 5);
    for (let k = 0; k <= ticks; k++) {
      const i = Math.round((k / ticks) * period);
      chart.append(svg("text", { class: "tick", x: x(i), y: H - m.b + 16, "text-anchor": k === 0 ? "start" : k === ticks ? "end" : "middle" },
        shortDay(start + i * DAY)));
    }
    chart.append(svg("line", { class: "target-line", x1: m.l, x2: W - m.r, y1: y(target), y2: y(target) }));
    chart.append(svg("text", { class: "target-label", x: W - m.r, y: y(target) - 5, "text-anchor": "end" },
      "Mục tiêu " + Troly.percent(target)));
    if (!present.length) {
      chart.append(svg("text", { class: "empty", x: (m.l + W - m.r) / 2, y: y(0.45), "text-anchor": "middle" },
        "Chưa có số liệu"));
    } else {
      const coords = present.map((p) => [x(Math.max(0, dayIndex(p.day, start))), y(p.value), p]);
      if (coords.length > 1) {
        chart.append(svg("path", { class: "series " + kind, d: coords.map(([px, py], i) => (i ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1)).join(" ") }));
      }
      for (const [px, py, p] of coords) {
        chart.append(svg("circle", { class: "point " + kind, cx: px.toFixed(1), cy: py.toFixed(1), r: 4.5 },
          svg("title", {}, Troly.formatDate(p.day) + ": " + Troly.percent(p.value) + " (" + p.note + ")")));
      }
    }
    const legend = el("p", { class: "legend", "aria-hidden": "true" },
      el("span", {}, el("span", { class: "swatch " + kind }), kind === "answer-rate" ? "Tỉ lệ trả lời" : "Tỉ lệ hữu ích"),
      el("span", {}, el("span", { class: "swatch target" }), "Mục tiêu " + Troly.percent(target)));
    container.replaceChildren(chart, legend);
  }

  /** The latest evaluation's figures as horizontal bars, the answer rate against the target. */
  function evalBars(container, run, target) {
    const metrics = [
      ["answer_rate", "Tỉ lệ trả lời đúng", true],
      ["false_answer_rate", "Trả lời khi lẽ ra phải từ chối", false],
      ["recall_at_1", "Đoạn đúng ở vị trí 1 (Recall@1)", false],
      ["recall_at_5", "Đoạn đúng trong 5 đoạn đầu (Recall@5)", false],
      ["mrr", "MRR", false],
    ].filter(([key]) => typeof run[key] === "number");
    const W = width(container);
    const narrow = W < 520;
    const labelW = narrow ? 0 : 250;
    const rowH = narrow ? 46 : 34;
    const top = 22;
    const H = top + metrics.length * rowH + 8;
    const x0 = labelW + 8;
    const x1 = W - 60;
    const x = (v) => x0 + Math.max(0, Math.min(1, v)) * (x1 - x0);
    const chart = svg("svg", {
      viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", class: "chart-svg eval",
      "aria-labelledby": "eval-chart-title eval-chart-desc",
    },
    svg("title", { id: "eval-chart-title" }, "Kết quả đánh giá gần nhất"),
    svg("desc", { id: "eval-chart-desc" }, metrics.map(([key, label]) => label + ": " + Troly.percent(run[key])).join("; ") + "."));
    metrics.forEach(([key, label, isTarget], i) => {
      const rowTop = top + i * rowH;
      const barY = narrow ? rowTop + 18 : rowTop + 6;
      const value = run[key];
      chart.append(narrow
        ? svg("text", { class: "bar-label", x: x0, y: rowTop + 13 }, label)
        : svg("text", { class: "bar-label", x: labelW, y: barY + 14, "text-anchor": "end" }, label));
      chart.append(svg("rect", { class: "bar-bg", x: x0, y: barY, width: x1 - x0, height: 20, rx: 3 }));
      const cls = isTarget ? (value >= target ? "bar meets" : "bar below") : "bar";
      chart.append(svg("rect", { class: cls, "data-metric": key, x: x0, y: barY, width: Math.max(1, x(value) - x0), height: 20, rx: 3 }));
      chart.append(svg("text", { class: "bar-value", x: x1 + 6, y: barY + 15 }, Troly.percent(value)));
      if (isTarget) {
        chart.append(svg("line", { class: "target-line", x1: x(target), x2: x(target), y1: barY - 6, y2: barY + 26 }));
        chart.append(svg("text", { class: "target-label", x: x(target), y: barY - 9 + (narrow ? 0 : 2), "text-anchor": "middle" },
          "Mục tiêu " + Troly.percent(target)));
      }
    });
    container.replaceChildren(chart);
  }

  function setFigure(name, text, goal) {
    const dd = document.querySelector('[data-figure="' + name + '"]');
    dd.className = "";
    dd.replaceChildren(text);
    if (goal !== undefined && goal.value !== null) {
      const meets = goal.value >= goal.target;
      dd.className = meets ? "meets" : "below";
      dd.append(el("span", { class: "note" }, (meets ? "đạt mục tiêu " : "dưới mục tiêu ") + Troly.percent(goal.target)));
    }
  }

  function render(stats) {
    const target = stats.target;
    setFigure("questions", Troly.number(stats.questions));
    setFigure("answered", Troly.number(stats.answered));
    setFigure("abstained", Troly.number(stats.abstained));
    setFigure("answer_rate", Troly.percent(stats.answer_rate), { value: stats.answer_rate, target });
    setFigure("helpful_rate", Troly.percent(stats.helpful_rate), { value: stats.helpful_rate, target });
    setFigure("feedback", Troly.number(stats.feedback));

    const answerPoints = stats.daily.map((d) => ({
      day: d.day, value: d.questions ? d.answered / d.questions : null, note: d.answered + "/" + d.questions + " câu hỏi",
    }));
    const helpfulPoints = stats.daily.map((d) => ({
      day: d.day, value: d.feedback ? d.helpful / d.feedback : null, note: d.helpful + "/" + d.feedback + " phản hồi",
    }));
    lineChart(answerChart, { kind: "answer-rate", title: "Tỉ lệ trả lời theo ngày", points: answerPoints, period: stats.days, target });
    lineChart(helpfulChart, { kind: "helpful-rate", title: "Tỉ lệ hữu ích theo ngày", points: helpfulPoints, period: stats.days, target });

    dailyBody.replaceChildren(...stats.daily.slice().reverse().map((d) => el("tr", {},
      el("td", {}, Troly.formatDate(d.day)),
      el("td", { class: "num" }, Troly.number(d.questions)),
      el("td", { class: "num" }, Troly.number(d.answered)),
      el("td", { class: "num" }, Troly.percent(d.questions ? d.answered / d.questions : null)),
      el("td", { class: "num" }, Troly.number(d.feedback)),
      el("td", { class: "num" }, Troly.percent(d.feedback ? d.helpful / d.feedback : null)))));
    if (!stats.daily.length) {
      dailyBody.replaceChildren(el("tr", {}, el("td", { colspan: "6" }, "Chưa có câu hỏi nào trong khoảng thời gian này.")));
    }

    const run = stats.last_eval;
    if (!run) {
      evalMeta.textContent = "Chưa có lần đánh giá nào. Chạy “troly eval” để đánh giá trên một bộ câu hỏi.";
      evalChart.replaceChildren();
    } else {
      const questions = String(run.questions || "").split("/").pop();
      evalMeta.replaceChildren(
        "Lần đánh giá số " + run.run + ", lúc " + Troly.formatDateTime(run.at),
        questions ? ", bộ câu hỏi “" + questions + "”" : "",
        run.embedder ? ", mô hình " + run.embedder : "", ".");
      evalBars(evalChart, run, target);
    }
  }

  async function refresh() {
    const mine = ++serial;
    const query = new URLSearchParams({ days: days.value });
    if (unit.value) query.set("unit", unit.value);
    try {
      const stats = await Troly.api("GET", "/v1/stats?" + query.toString());
      if (mine !== serial) return;  // a newer request was sent meanwhile
      last = stats;
      render(stats);
      document.body.dataset.loaded = "true";
      updated.textContent = "Cập nhật lúc " + new Date().toLocaleTimeString("vi-VN") + ".";
    } catch (error) {
      if (mine !== serial) return;
      updated.replaceChildren(Troly.errorBlock(error, "Không tải được số liệu."));
    }
  }

  // -- evaluations: question sets, a run followed to the end, its misses ---------------------------------
  const evaluation = (() => {
    const POLL_MS = 500;
    const section = document.getElementById("evaluate");
    const unitState = document.getElementById("evaluate-unit");
    const body = document.getElementById("evaluate-body");
    const keyForm = document.getElementById("eval-key-form");
    const keyInput = document.getElementById("eval-key");
    const keyForget = document.getElementById("eval-key-forget");
    const keyState = document.getElementById("eval-key-state");
    const setsBody = document.querySelector("#question-sets tbody");
    const setsState = document.getElementById("sets-state");
    const setCount = document.getElementById("set-count");
    const setForm = document.getElementById("set-form");
    const setFile = document.getElementById("set-file");
    const setFileName = document.getElementById("set-file-name");
    const setName = document.getElementById("set-name");
    const setUpload = document.getElementById("set-upload");
    const messages = document.getElementById("eval-messages");
    const runBox = document.getElementById("eval-run");
    const runHeading = document.getElementById("eval-run-heading");
    const progressBox = document.getElementById("eval-progress");
    const progressLabel = document.getElementById("eval-progress-label");
    const progressBar = document.getElementById("eval-progress-bar");
    const progressText = document.getElementById("eval-progress-text");
    const resultBox = document.getElementById("eval-result");
    const outcomesLine = document.getElementById("eval-outcomes");
    const missesBody = document.querySelector("#misses tbody");
    const missCount = document.getElementById("miss-count");
    const missesState = document.getElementById("misses-state");
    const jobsList = document.getElementById("eval-jobs");
    const jobsState = document.getElementById("jobs-state");

    const OUTCOMES = {
      "correct answer": "trả lời đúng",
      "wrong answer": "trả lời sai",
      "false abstention": "từ chối nhầm (có đáp án)",
      "correct abstention": "từ chối đúng",
      "false answer": "trả lời nhầm (lẽ ra phải từ chối)",
    };
    const STATUS = { queued: "đang chờ", running: "đang chạy", done: "đã xong", failed: "thất bại" };

    let current = "";      // the unit shown
    let sets = [];
    let following = 0;     // bumped to stop following a run
    let running = false;   // a run of this unit is queued or running

    function unitPath(tail) { return "/v1/units/" + encodeURIComponent(current) + tail; }
    function say(...nodes) { messages.replaceChildren(...nodes); }
    function outcomeLabel(key) {
      const norm = String(key).toLowerCase().replace(/_/g, " ");
      return OUTCOMES[norm] || String(key);
    }
    function target() { return last && typeof last.target === "number" ? last.target : 0.9; }

    /** A write refused for want of a key says where to give one: here, on this page. */
    function failure(error, prefix) {
      if (error instanceof Troly.ApiError && (error.status === 401 || error.status === 403)) {
        const text = error.status === 403
          ? "Khóa này không có quyền với đơn vị này (cần khóa của quản trị viên hoặc người duy trì đơn vị)."
          : Troly.getKey() ? "Khóa truy cập không hợp lệ hoặc đã bị thu hồi: hãy nhập lại khóa ở trên."
            : "Thao tác này cần khóa truy cập: hãy nhập khóa ở trên.";
        return el("p", { class: "msg error", role: "alert" }, prefix ? prefix + " " : "", text,
          error.detail ? el("span", { class: "detail" }, "Chi tiết: ", error.detail) : null);
      }
      return Troly.errorBlock(error, prefix);
    }

    // -- the key: the same one as the maintainer page's (sessionStorage only) --------------------------
    function showKeyState() {
      const has = Boolean(Troly.getKey());
      keyState.textContent = has
        ? "Đã nhập khóa cho phiên làm việc này."
        : "Cần khóa để tải lên, xóa bộ câu hỏi hoặc chạy đánh giá; xem kết quả thì không cần.";
      keyForget.hidden = !has;
    }

    keyForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const key = keyInput.value.trim();
      if (!key) {
        say(el("p", { class: "msg error", role: "alert" }, "Hãy nhập khóa truy cập."));
        keyInput.focus();
        return;
      }
      keyState.textContent = "Đang kiểm tra khóa…";
      try {
        await Troly.api("GET", "/v1/units", undefined, { key });  // a wrong key is refused on any request
      } catch (error) {
        showKeyState();
        say(error.status === 401
          ? el("p", { class: "msg error", role: "alert" }, "Khóa không hợp lệ hoặc đã bị thu hồi.",
            el("span", { class: "detail" }, "Chi tiết: ", error.detail))
          : Troly.errorBlock(error, "Không kiểm tra được khóa."));
        keyInput.select();
        return;
      }
      Troly.setKey(key);
      keyInput.value = "";
      showKeyState();
      say(el("p", { class: "msg ok" }, "Đã nhận khóa. Bạn có thể tải lên bộ câu hỏi và chạy đánh giá."));
    });

    keyForget.addEventListener("click", () => {
      Troly.forgetKey();
      say();
      showKeyState();
      keyInput.focus();
    });

    // -- question sets ------------------------------------------------------------------------------
    async function loadSets() {
      const mine = current;
      setsState.textContent = "Đang tải danh sách bộ câu hỏi…";
      try {
        const listed = await Troly.api("GET", unitPath("/question-sets"));
        if (mine !== current) return;
        sets = listed.slice().sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
      } catch (error) {
        if (mine !== current) return;
        sets = [];
        setsBody.replaceChildren();
        setsState.replaceChildren(Troly.errorBlock(error, "Không tải được danh sách bộ câu hỏi."));
        return;
      }
      drawSets();
    }

    function drawSets() {
      setsBody.replaceChildren(...sets.map(setRow));
      setCount.textContent = "(" + sets.length + ")";
      setsState.textContent = sets.length ? "" : "Đơn vị này chưa có bộ câu hỏi nào. Hãy tải lên một bộ ở dưới.";
    }

    function setRow(set) {
      const run = el("button", { type: "button", class: "small primary", "data-action": "run",
        "aria-label": "Chạy đánh giá bộ câu hỏi " + set.name, disabled: running }, "Chạy đánh giá");
      const remove = el("button", { type: "button", class: "small danger", "aria-label": "Xóa bộ câu hỏi " + set.name },
        "Xóa");
      const actions = el("div", { class: "actions" }, run, remove);
      run.addEventListener("click", () => start(set));
      remove.addEventListener("click", () => confirmDelete(set, actions, remove));
      return el("tr", { dataset: { set: set.id } },
        el("td", { class: "title", "data-label": "Tên" }, set.name),
        el("td", { class: "num", "data-label": "Số câu hỏi" }, Troly.number(set.questions)),
        el("td", { "data-label": "Tải lên lúc" }, set.created_at ? Troly.formatDateTime(set.created_at) : "—"),
        el("td", { class: "row-actions" }, actions));
    }

    function confirmDelete(set, actions, remove) {
      const yes = el("button", { type: "button", class: "small danger confirm" }, "Xác nhận xóa");
      const no = el("button", { type: "button", class: "small" }, "Hủy");
      const before = Array.from(actions.childNodes);
      actions.replaceChildren(el("span", { class: "visually-hidden" }, "Xóa hẳn bộ câu hỏi " + set.name + "?"), yes, no);
      yes.focus();
      const restore = () => { actions.replaceChildren(...before); remove.focus(); };
      no.addEventListener("click", restore);
      actions.addEventListener("keydown", (event) => { if (event.key === "Escape") restore(); });
      yes.addEventListener("click", async () => {
        try {
          await Troly.api("DELETE", unitPath("/question-sets/" + encodeURIComponent(set.id)));
          say(el("p", { class: "msg ok" }, "Đã xóa bộ câu hỏi “" + set.name + "”."));
          await loadSets();
        } catch (error) {
          say(failure(error, "Không xóa được bộ câu hỏi “" + set.name + "”."));
          restore();
        }
      });
    }

    /** A .json file (an object with its questions, or a list of them) is sent as JSON; anything else
     * (JSONL, one question per line) as the file itself, for the server to read. */
    async function uploadSet(file, name) {
      const text = await file.text();
      const trimmed = text.trim();
      const isJson = /\.json$/i.test(file.name) || (trimmed.startsWith("[") && trimmed.endsWith("]"));
      if (isJson) {
        let parsed;
        try {
          parsed = JSON.parse(trimmed);
        } catch (error) {
          throw new Troly.ApiError(400, "invalid_input", "Tệp .json không đúng cú pháp JSON: " + error.message);
        }
        const questions = Array.isArray(parsed) ? parsed : parsed && parsed.questions;
        if (!Array.isArray(questions)) {
          throw new Troly.ApiError(400, "invalid_input", "Tệp .json phải là một danh sách câu hỏi hoặc {\"name\", \"questions\": […]}.");
        }
        const fallback = (!Array.isArray(parsed) && parsed.name) || file.name.replace(/\.[^.]+$/, "");
        return Troly.api("POST", unitPath("/question-sets"), { name: name || fallback, questions });
      }
      const form = new FormData();
      form.append("file", file, file.name);
      if (name) form.append("name", name);
      return Troly.upload("POST", unitPath("/question-sets"), form);
    }

    setFile.addEventListener("change", () => {
      const file = setFile.files && setFile.files[0];
      setFileName.textContent = file ? "Đã chọn: " + file.name : "Chưa chọn tệp nào.";
      setFileName.classList.toggle("chosen", Boolean(file));
    });

    setForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const file = setFile.files && setFile.files[0];
      if (!file) {
        say(el("p", { class: "msg error", role: "alert" }, "Hãy chọn một tệp bộ câu hỏi (.jsonl hoặc .json)."));
        setFile.focus();
        return;
      }
      setUpload.disabled = true;
      say(el("p", { class: "msg" }, "Đang tải lên “" + file.name + "”…"));
      try {
        const created = await uploadSet(file, setName.value.trim());
        say(el("p", { class: "msg ok" }, "Đã tải lên bộ câu hỏi “" + created.name + "”: "
          + Troly.number(created.questions) + " câu hỏi."));
        setForm.reset();
        setFileName.textContent = "Chưa chọn tệp nào.";
        setFileName.classList.remove("chosen");
        await loadSets();
        const row = setsBody.querySelector('tr[data-set="' + CSS.escape(String(created.id)) + '"]');
        if (row) row.classList.add("fresh");
      } catch (error) {
        say(failure(error, "Không tải lên được bộ câu hỏi “" + file.name + "”:"));
      } finally {
        setUpload.disabled = false;
      }
    });

    // -- runs -----------------------------------------------------------------------------------------------
    function setRunning(value) {
      running = value;
      for (const button of setsBody.querySelectorAll('button[data-action="run"]')) button.disabled = value;
    }

    async function start(set) {
      if (running) return;
      setRunning(true);
      say();
      try {
        const job = await Troly.api("POST", unitPath("/evaluations"), { question_set: set.id });
        follow(job.id, set.name, true);
        loadJobs(false);
      } catch (error) {
        setRunning(false);
        if (error instanceof Troly.ApiError && error.code === "evaluation_running") {
          say(el("p", { class: "msg" }, "Đơn vị này đang có một lần đánh giá chưa chạy xong; đang theo dõi lần đó."));
          loadJobs(true);
          return;
        }
        say(failure(error, "Không chạy được đánh giá bộ câu hỏi “" + set.name + "”."));
      }
    }

    function showProgress(job, name) {
      const share = Math.max(0, Math.min(1, Number(job.progress) || 0));
      const setName = job.question_set_name || name || "";
      progressBox.dataset.state = job.status;
      runBox.dataset.job = job.id;
      runBox.dataset.state = job.status;
      progressBar.value = job.status === "done" ? 100 : Math.round(share * 100);
      const label = {
        queued: "Đang chờ chạy bộ câu hỏi “" + setName + "”",
        running: "Đang chạy bộ câu hỏi “" + setName + "”",
        done: "Đã chạy xong bộ câu hỏi “" + setName + "”",
        failed: "Lần chạy bộ câu hỏi “" + setName + "” thất bại",
      }[job.status] || setName;
      progressLabel.textContent = label;
      progressText.textContent = job.status === "done" ? "100%" : Math.round(share * 100) + "%";
    }

    /** Polls GET /v1/evaluations/{id} until the run is done or failed, then shows its result. */
    async function follow(id, name, announce) {
      const mine = ++following;
      runBox.hidden = false;
      resultBox.hidden = true;
      showProgress({ id, status: "queued", progress: 0 }, name);
      if (announce) runHeading.focus();
      let errors = 0;
      for (;;) {
        let job;
        try {
          job = await Troly.api("GET", "/v1/evaluations/" + encodeURIComponent(id));
          errors = 0;
        } catch (error) {
          if (mine !== following) return;
          errors += 1;
          if (error.status === 404 || errors >= 5) {
            setRunning(false);
            say(Troly.errorBlock(error, "Không theo dõi được lần đánh giá."));
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, POLL_MS * 4));
          continue;
        }
        if (mine !== following) return;
        showProgress(job, name);
        if (job.status === "done" || job.status === "failed") {
          setRunning(false);
          showResult(job);
          if (announce) {
            loadJobs(false);
            refresh();  // the latest evaluation above may be this one
          }
          return;
        }
        setRunning(true);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (mine !== following) return;
      }
    }

    function showResult(job) {
      runBox.hidden = false;
      showProgress(job);
      if (job.status === "failed" || !job.result) {
        resultBox.hidden = true;
        say(el("p", { class: "msg error", role: "alert" }, "Lần đánh giá thất bại.",
          job.error ? el("span", { class: "detail" }, "Chi tiết: ", job.error) : null));
        return;
      }
      const result = job.result;
      const goal = target();
      for (const dd of resultBox.querySelectorAll("[data-eval]")) {
        const key = dd.dataset.eval;
        dd.className = "";
        dd.replaceChildren(Troly.percent(result[key]));
        if (key === "answer_rate" && typeof result[key] === "number") {
          const meets = result[key] >= goal;
          dd.className = meets ? "meets" : "below";
          dd.append(el("span", { class: "note" }, (meets ? "đạt mục tiêu " : "dưới mục tiêu ") + Troly.percent(goal)));
        }
      }
      const outcomes = Object.entries(result.outcomes || {});
      outcomesLine.replaceChildren(...(outcomes.length ? [el("span", { class: "label" }, "Kết quả từng câu: ")] : []),
        ...outcomes.map(([key, n], i) => el("span", { class: "outcome" }, (i ? " · " : ""), outcomeLabel(key) + ": " + Troly.number(n))));
      const misses = result.misses || [];
      missesBody.replaceChildren(...misses.map(missRow));
      missCount.textContent = "(" + misses.length + ")";
      missesState.textContent = misses.length ? "" : "Không có câu nào bị trả lời sai, từ chối nhầm hay trả lời nhầm.";
      resultBox.hidden = false;
    }

    function passage(citation) {
      if (!citation) return "—";
      const text = citation.text || "";
      const h = citation.highlight;
      const quote = el("blockquote", {});
      if (Array.isArray(h) && h.length === 2 && h[0] >= 0 && h[1] > h[0] && h[1] <= text.length) {
        quote.append(text.slice(0, h[0]), el("mark", {}, text.slice(h[0], h[1])), text.slice(h[1]));
      } else {
        quote.append(text);
      }
      return [el("span", { class: "cited-title" }, citation.title || "(không có tiêu đề)"), quote];
    }

    function missRow(miss) {
      const expected = miss.expected && miss.expected.length
        ? el("ul", { class: "expected" }, ...miss.expected.map((a) => el("li", {}, a)))
        : el("span", { class: "none" }, "Không có đáp án: lẽ ra phải từ chối trả lời");
      const answer = miss.answer === null || miss.answer === undefined
        ? el("span", { class: "none" }, "Từ chối trả lời (“Chưa tìm thấy thông tin”)")
        : miss.answer;
      return el("tr", { dataset: { question: miss.id, outcome: miss.outcome } },
        el("td", { class: "question", "data-label": "Câu hỏi" },
          el("span", { class: "question-text" }, miss.question),
          el("span", { class: "miss-meta" }, el("span", { class: "question-id" }, miss.id), " · ",
            el("span", { class: "badge below" }, outcomeLabel(miss.outcome)))),
        el("td", { class: "expected-cell", "data-label": "Đáp án mong đợi" }, expected),
        el("td", { class: "answer-cell", "data-label": "Đã trả lời" }, answer),
        el("td", { class: "passage", "data-label": "Đoạn được trích dẫn" }, passage(miss.citation)));
    }

    // -- the unit's recent runs --------------------------------------------------------------------------
    async function loadJobs(followRunning) {
      const mine = current;
      let jobs;
      try {
        jobs = await Troly.api("GET", unitPath("/evaluations"));
      } catch (error) {
        if (mine !== current) return;
        jobsState.replaceChildren(Troly.errorBlock(error, "Không tải được các lần đánh giá."));
        return;
      }
      if (mine !== current) return;
      jobsState.textContent = jobs.length ? "" : "Chưa có lần đánh giá nào cho đơn vị này.";
      jobsList.replaceChildren(...jobs.slice(0, 10).map(jobItem));
      if (!followRunning) return;
      const live = jobs.find((j) => j.status === "queued" || j.status === "running");
      if (live) follow(live.id, live.question_set_name, false);
      else if (jobs.length && runBox.hidden) view(jobs[0], false);
    }

    /** A finished run of the list, read whole (the list need not carry the misses). */
    async function view(job, focus) {
      const mine = ++following;
      let whole = job;
      try {
        whole = await Troly.api("GET", "/v1/evaluations/" + encodeURIComponent(job.id));
      } catch (error) {
        if (mine !== following) return;
        say(Troly.errorBlock(error, "Không tải được kết quả lần đánh giá."));
        return;
      }
      if (mine !== following) return;
      showResult(whole);
      if (focus) runHeading.focus();
    }

    function jobItem(job) {
      const share = job.result && typeof job.result.answer_rate === "number"
        ? ": trả lời đúng " + Troly.percent(job.result.answer_rate) : "";
      const status = STATUS[job.status] || job.status;
      const item = el("li", { dataset: { job: job.id, state: job.status } },
        el("span", {}, Troly.formatDateTime(job.created_at), " · “", job.question_set_name || job.question_set, "” · ",
          status, job.status === "running" ? " " + Troly.percent(job.progress) : "", share));
      if (job.status === "done" || job.status === "failed") {
        const button = el("button", { type: "button", class: "small", "aria-label": "Xem kết quả lần đánh giá lúc "
          + Troly.formatDateTime(job.created_at) }, "Xem kết quả");
        button.addEventListener("click", () => view(job, true));
        item.append(" ", button);
      }
      return item;
    }

    function unitChanged() {
      following += 1;  // stop following the previous unit's run
      setRunning(false);
      say();
      current = unit.value;
      runBox.hidden = true;
      resultBox.hidden = true;
      if (!current) {
        body.hidden = true;
        unitState.textContent = "Chọn một đơn vị ở trên để xem và chạy đánh giá của đơn vị đó.";
        return;
      }
      const name = unit.options[unit.selectedIndex] ? unit.options[unit.selectedIndex].textContent : current;
      unitState.textContent = "Đơn vị: " + name + ".";
      body.hidden = false;
      section.dataset.unit = current;
      showKeyState();
      setsBody.replaceChildren();
      jobsList.replaceChildren();
      loadSets();
      loadJobs(true);
    }

    return { unitChanged };
  })();

  // The unit in the address (/dashboard?unit=bo-tttt, as the overview links) is the one shown, and
  // choosing another keeps the address in step, so that a reload or a shared link shows the same.
  // Read at once: loading the units by key (Troly.loadUnits) fires a change that rewrites the address.
  const wanted = new URLSearchParams(window.location.search).get("unit");
  function unitFromAddress() {
    if (wanted && Array.from(unit.options).some((o) => o.value === wanted)) unit.value = wanted;
    keepAddress();
  }

  function keepAddress() {
    const url = new URL(window.location.href);
    if (unit.value) url.searchParams.set("unit", unit.value);
    else url.searchParams.delete("unit");
    window.history.replaceState(null, "", url.pathname + url.search + url.hash);
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  unit.addEventListener("change", () => { keepAddress(); refresh(); evaluation.unitChanged(); });
  days.addEventListener("change", refresh);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (last) render(last); }, 150);
  });
  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });

  Troly.loadUnits().then(() => {
    unitFromAddress();
    refresh();
    evaluation.unitChanged();
  });
})();

/* The dashboard: GET /v1/stats for a unit, drawn as figures and inline SVG charts (no library). */
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

  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  unit.addEventListener("change", refresh);
  days.addEventListener("change", refresh);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (last) render(last); }, 150);
  });
  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, REFRESH_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });

  Troly.loadUnits().then(refresh);
})();

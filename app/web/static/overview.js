/* The overview: GET /v1/overview, every unit in a sortable table and its last evaluation as a bar
 * against the target (inline SVG, no library). */
"use strict";

(() => {
  const { el } = Troly;
  const NS = "http://www.w3.org/2000/svg";

  const form = document.getElementById("overview-form");
  const days = document.getElementById("days");
  const daysLabel = document.getElementById("days-label");
  const updated = document.getElementById("updated");
  const summary = document.getElementById("summary");
  const chart = document.getElementById("overview-chart");
  const table = document.getElementById("units");
  const tbody = table.querySelector("tbody");
  const unitCount = document.getElementById("unit-count");
  const sortState = document.getElementById("sort-state");
  const headers = Array.from(table.querySelectorAll("th[data-sort]"));

  const collator = new Intl.Collator("vi", { sensitivity: "base", numeric: true });
  const STATUS = {
    meets: { label: "Đạt", rank: 2 },
    below: { label: "Chưa đạt", rank: 0 },
    none: { label: "Chưa đánh giá", rank: 1 },
  };

  let data = null;
  let sortKey = "name";
  let sortDir = "ascending";
  let serial = 0;

  function status(unit) {
    if (!unit.last_eval || unit.meets_target === null || unit.meets_target === undefined) return "none";
    return unit.meets_target ? "meets" : "below";
  }

  /** The value a column sorts by: a number or a string, or null (always last, in either direction). */
  function value(unit, key) {
    const last = unit.last_eval;
    switch (key) {
      case "name": return unit.name || unit.id;
      case "status": return STATUS[status(unit)].rank;
      case "eval_answer_rate": return last ? last.answer_rate : null;
      case "eval_false_answer_rate": return last ? last.false_answer_rate : null;
      case "eval_at": return last && last.at ? Date.parse(last.at) : null;
      case "eval_set": return last && last.question_set ? setName(last.question_set) : null;
      default: return unit[key] === undefined ? null : unit[key];
    }
  }

  function compare(a, b) {
    const va = value(a, sortKey);
    const vb = value(b, sortKey);
    if (va === null || vb === null || Number.isNaN(va) || Number.isNaN(vb)) {
      const na = va === null || Number.isNaN(va);
      const nb = vb === null || Number.isNaN(vb);
      if (na !== nb) return na ? 1 : -1;
    } else {
      const order = typeof va === "string" ? collator.compare(va, vb) : va - vb;
      if (order) return sortDir === "ascending" ? order : -order;
    }
    return collator.compare(a.name || a.id, b.name || b.id);  // ties: by name, always ascending
  }

  function setName(path) {
    return String(path).split("/").pop();
  }

  function day(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return iso || "";
    return date.toLocaleDateString("vi-VN", { day: "numeric", month: "numeric", year: "numeric" });
  }

  function dashboardLink(unit) {
    return Troly.root + "/dashboard?unit=" + encodeURIComponent(unit.id);
  }

  // -- the table ---------------------------------------------------------------------------------
  function row(unit) {
    const last = unit.last_eval;
    const state = status(unit);
    const rate = (v) => el("td", { class: "num" }, Troly.percent(v));
    return el("tr", { dataset: { unit: unit.id, status: state } },
      el("th", { scope: "row", class: "unit-name" }, el("a", { href: dashboardLink(unit) }, unit.name || unit.id)),
      el("td", { class: "num" }, Troly.number(unit.documents)),
      el("td", { class: "num" }, Troly.number(unit.questions_asked)),
      rate(unit.live_answer_rate),
      rate(unit.helpful_rate),
      rate(last ? last.answer_rate : null),
      rate(last ? last.false_answer_rate : null),
      el("td", {}, last && last.at ? el("time", { datetime: last.at }, day(last.at)) : "—"),
      el("td", { class: "set-name" }, last && last.question_set ? setName(last.question_set) : "—"),
      el("td", {}, el("span", { class: "badge " + state }, STATUS[state].label)));
  }

  function drawTable() {
    const units = data.units.slice().sort(compare);
    tbody.replaceChildren(...units.map(row));
    if (!units.length) {
      tbody.replaceChildren(el("tr", {}, el("td", { colspan: "10" }, "Chưa có đơn vị nào.")));
    }
    // aria-sort on the sorted column's header only, as ARIA asks.
    for (const th of headers) {
      if (th.dataset.sort === sortKey) th.setAttribute("aria-sort", sortDir);
      else th.removeAttribute("aria-sort");
    }
    return units;
  }

  function sortBy(key) {
    if (key === sortKey) sortDir = sortDir === "ascending" ? "descending" : "ascending";
    else { sortKey = key; sortDir = "ascending"; }
    if (!data) return;
    const units = drawTable();
    drawChart(units);
    const th = headers.find((h) => h.dataset.sort === key);
    sortState.textContent = "Đã sắp xếp theo cột “" + th.textContent.trim() + "”, "
      + (sortDir === "ascending" ? "tăng dần" : "giảm dần") + ".";
  }

  // Each sortable header holds a button: the column's name, and an arrow that shows the order.
  for (const th of headers) {
    const button = el("button", { type: "button", class: "sort" }, ...th.childNodes,
      el("span", { class: "sort-arrow", "aria-hidden": "true" }));
    th.replaceChildren(button);
    button.addEventListener("click", () => sortBy(th.dataset.sort));
  }

  // -- the chart ------------------------------------------------------------------------------------
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(NS, tag);
    for (const [name, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) node.setAttribute(name, String(v));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function shorten(text, max) {
    return text.length <= max ? text : text.slice(0, Math.max(1, max - 1)).trimEnd() + "…";
  }

  /** A name in lines of at most ``width`` characters, at most ``count`` lines (the last cut short). */
  function wrap(text, width, count) {
    const lines = [];
    let line = "";
    for (const word of text.split(/\s+/)) {
      if (line && (line + " " + word).length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line ? line + " " + word : word;
      }
    }
    if (line) lines.push(line);
    if (lines.length <= count) return lines.map((l) => shorten(l, width));
    return [...lines.slice(0, count - 1), shorten(lines.slice(count - 1).join(" "), width)];
  }

  /** One bar per evaluated unit (its last evaluation's answer rate), in the table's order, on 0–100%,
   * with the target as a dashed horizontal line. */
  function drawChart(units) {
    const target = data.target;
    const evaluated = units.filter((u) => u.last_eval && typeof u.last_eval.answer_rate === "number");
    const missing = units.length - evaluated.length;
    const W = Math.max(300, Math.min(900, Math.round(chart.clientWidth || 640)));
    const n = Math.max(1, evaluated.length);
    const m = { l: 44, r: 62, t: 22 };  // the right margin holds the target's label, clear of the bars
    const slot = (W - m.l - m.r) / n;
    // Names under their bars, wrapped on up to three lines; tilted when the bars are too narrow for that.
    const rotate = slot < 64;
    const labels = evaluated.map((u) => (rotate ? [shorten(u.name || u.id, 20)]
      : wrap(u.name || u.id, Math.max(6, Math.floor((slot - 6) / 6.6)), 3)));
    m.b = rotate ? 96 : 16 + 14 * Math.max(1, ...labels.map((l) => l.length));
    const H = 250 + m.b;
    const y = (v) => m.t + (1 - Math.max(0, Math.min(1, v))) * (H - m.t - m.b);
    const barW = Math.min(64, slot * 0.62);

    const described = evaluated.map((u) => (u.name || u.id) + ": " + Troly.percent(u.last_eval.answer_rate)
      + " (" + STATUS[status(u)].label.toLowerCase() + ")");
    const desc = (evaluated.length
      ? evaluated.length + " đơn vị đã được đánh giá. " + described.join("; ") + "."
      : "Chưa có đơn vị nào được đánh giá.")
      + (missing ? " " + missing + " đơn vị chưa được đánh giá." : "")
      + " Mục tiêu " + Troly.percent(target) + ".";
    const root = svg("svg", {
      viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", class: "chart-svg overview",
      "aria-labelledby": "overview-chart-title overview-chart-desc",
    },
    svg("title", { id: "overview-chart-title" }, "Tỉ lệ trả lời đúng trong lần đánh giá gần nhất của từng đơn vị"),
    svg("desc", { id: "overview-chart-desc" }, desc));
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      root.append(svg("line", { class: v ? "grid" : "axis", x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      root.append(svg("text", { class: "tick", x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, Math.round(v * 100) + "%"));
    }
    if (!evaluated.length) {
      root.append(svg("text", { class: "empty", x: (m.l + W - m.r) / 2, y: y(0.5), "text-anchor": "middle" },
        "Chưa có đơn vị nào được đánh giá"));
    }
    evaluated.forEach((unit, i) => {
      const rate = unit.last_eval.answer_rate;
      const cx = m.l + slot * (i + 0.5);
      const name = unit.name || unit.id;
      const group = svg("g", { class: "unit-bar", "data-unit": unit.id },
        svg("title", {}, name + ": " + Troly.percent(rate)));
      group.append(svg("rect", {
        class: "bar " + (unit.meets_target ? "meets" : "below"), "data-unit": unit.id,
        x: (cx - barW / 2).toFixed(1), y: y(rate).toFixed(1), width: barW.toFixed(1),
        height: Math.max(1, y(0) - y(rate)).toFixed(1), rx: 3,
      }));
      group.append(svg("text", { class: "bar-value", x: cx.toFixed(1), y: (y(rate) - 6).toFixed(1), "text-anchor": "middle" },
        Troly.percent(rate)));
      group.append(rotate
        ? svg("text", { class: "bar-label", x: cx.toFixed(1), y: y(0) + 14, "text-anchor": "end",
          transform: "rotate(-35 " + cx.toFixed(1) + " " + (y(0) + 14) + ")" }, labels[i][0])
        : svg("text", { class: "bar-label", x: cx.toFixed(1), y: y(0) + 18, "text-anchor": "middle" },
          ...labels[i].map((line, k) => svg("tspan", { x: cx.toFixed(1), dy: k ? 14 : 0 }, line))));
      root.append(group);
    });
    // The target line over the bars, so that it shows across them.
    root.append(svg("line", { class: "target-line", x1: m.l, x2: W - m.r, y1: y(target), y2: y(target) }));
    root.append(svg("text", { class: "target-label", x: W - m.r + 6, y: y(target) - 3 },
      svg("tspan", { x: W - m.r + 6 }, "Mục tiêu"),
      svg("tspan", { x: W - m.r + 6, dy: 13 }, Troly.percent(target))));
    chart.replaceChildren(root);
  }

  // -- loading -----------------------------------------------------------------------------------------
  function render() {
    const counts = { meets: 0, below: 0, none: 0 };
    for (const unit of data.units) counts[status(unit)] += 1;
    unitCount.textContent = "(" + data.units.length + ")";
    summary.replaceChildren(
      el("span", { class: "badge meets" }, counts.meets + " đạt mục tiêu"), " ",
      el("span", { class: "badge below" }, counts.below + " chưa đạt"), " ",
      el("span", { class: "badge none" }, counts.none + " chưa đánh giá"), " ",
      "trên " + data.units.length + " đơn vị; mục tiêu: trả lời đúng " + Troly.percent(data.target) + " câu hỏi.");
    const units = drawTable();
    drawChart(units);
  }

  async function refresh() {
    const mine = ++serial;
    const period = days.value;
    try {
      const overview = await Troly.api("GET", "/v1/overview?" + new URLSearchParams({ days: period }).toString());
      if (mine !== serial) return;
      data = overview;
      daysLabel.textContent = days.options[days.selectedIndex].textContent;
      render();
      document.body.dataset.loaded = "true";
      updated.textContent = "Cập nhật lúc " + new Date().toLocaleTimeString("vi-VN") + ".";
    } catch (error) {
      if (mine !== serial) return;
      updated.replaceChildren(Troly.errorBlock(error, "Không tải được số liệu tổng quan."));
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  days.addEventListener("change", refresh);
  let resizeTimer = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (data) drawChart(data.units.slice().sort(compare)); }, 150);
  });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") refresh(); });

  refresh();
})();

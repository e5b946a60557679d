/* troly: helpers shared by the pages. Plain JavaScript, no library, no build step.
 * Untrusted text (answers, passages, titles, server messages) only ever becomes text nodes. */
"use strict";

const Troly = (() => {
  const root = document.body.dataset.root || "";
  const KEY_NAME = "troly.key";

  // -- the key: sessionStorage only, never localStorage or a cookie ----------------------
  function getKey() {
    try { return window.sessionStorage.getItem(KEY_NAME) || ""; } catch (_) { return ""; }
  }
  function setKey(key) { window.sessionStorage.setItem(KEY_NAME, key); }
  function forgetKey() { window.sessionStorage.removeItem(KEY_NAME); }

  function headers(extra) {
    const result = Object.assign({ Accept: "application/json" }, extra || {});
    const key = getKey();
    if (key) result.Authorization = "Bearer " + key;
    return result;
  }

  // -- calling the API --------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, detail) {
      super(detail || code);
      this.status = status;
      this.code = code;
      this.detail = detail || "";
    }
  }

  function parse(status, text) {
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (status >= 200 && status < 300) return data;
    if (data && data.error && typeof data.error === "object") {
      throw new ApiError(status, String(data.error.code || "error"), String(data.error.message || ""));
    }
    throw new ApiError(status, status ? "http_" + status : "network", (text || "").slice(0, 300));
  }

  async function api(method, path, body, options) {
    const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (options && options.key !== undefined) {
      if (options.key) init.headers.Authorization = "Bearer " + options.key;
      else delete init.headers.Authorization;
    }
    let response;
    try {
      response = await fetch(root + path, init);
    } catch (error) {
      throw new ApiError(0, "network", String(error && error.message ? error.message : error));
    }
    return parse(response.status, await response.text());
  }

  /** POSTs ``body`` and reads the server-sent events of the reply as they come: onEvent(name, data)
   * for each, data parsed from JSON; resolves to undefined. An error status throws an ApiError as api()
   * does, and a reply that is not a stream resolves to its JSON. */
  async function stream(path, body, onEvent) {
    const init = {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify(body),
    };
    let response;
    try {
      response = await fetch(root + path, init);
    } catch (error) {
      throw new ApiError(0, "network", String(error && error.message ? error.message : error));
    }
    // An error status, or a server (or proxy) that answered in one piece: as api() would.
    const kind = response.headers.get("content-type") || "";
    if (!response.ok || !response.body || !kind.startsWith("text/event-stream")) {
      return parse(response.status, await response.text());
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new ApiError(0, "network", String(error && error.message ? error.message : error));
      }
      if (chunk.done) break;
      buffer += chunk.value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onEvent(name, JSON.parse(data.join("\n")));
      }
    }
  }

  /** A multipart request with upload progress (fetch cannot report it): onProgress(sent, total). */
  function upload(method, path, form, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(method, root + path);
      const h = headers();
      for (const name of Object.keys(h)) xhr.setRequestHeader(name, h[name]);
      xhr.upload.onprogress = (event) => {
        if (onProgress && event.lengthComputable) onProgress(event.loaded, event.total);
      };
      xhr.upload.onload = () => { if (onProgress) onProgress(1, 1); };
      xhr.onload = () => {
        try { resolve(parse(xhr.status, xhr.responseText)); } catch (error) { reject(error); }
      };
      xhr.onerror = () => reject(new ApiError(0, "network", ""));
      xhr.onabort = () => reject(new ApiError(0, "aborted", ""));
      xhr.send(form);
    });
  }

  // -- readable error messages ----------------------------------------------------------------
  const MESSAGES = {
    network: "Không kết nối được với máy chủ. Hãy kiểm tra mạng rồi thử lại.",
    aborted: "Yêu cầu đã bị hủy.",
    forbidden: "Khóa này không có quyền thực hiện thao tác này (chỉ được thay đổi tài liệu của đơn vị được giao).",
    unsupported_format: "Định dạng tệp không được hỗ trợ. Chỉ nhận tệp .txt, .md, .html, .docx hoặc .pdf.",
    too_large: "Tệp quá lớn để tải lên.",
    empty_document: "Tài liệu không có nội dung văn bản nào để đưa vào cơ sở tri thức.",
    invalid_input: "Dữ liệu gửi lên không hợp lệ.",
    unit_not_found: "Không tìm thấy đơn vị này.",
    document_not_found: "Không tìm thấy tài liệu (có thể đã bị xóa).",
    answer_not_found: "Không tìm thấy câu trả lời để ghi nhận phản hồi.",
    not_found: "Không tìm thấy dữ liệu yêu cầu.",
    conflict: "Thao tác bị từ chối vì trùng với dữ liệu đã có (ví dụ: một tài liệu khác đã có nội dung này).",
    unit_exists: "Đơn vị này đã tồn tại.",
    question_set_not_found: "Không tìm thấy bộ câu hỏi này (có thể đã bị xóa).",
    evaluation_not_found: "Không tìm thấy lần đánh giá này.",
    evaluation_running: "Đơn vị này đang có một lần đánh giá chưa chạy xong: mỗi lúc chỉ chạy một lần.",
    evaluation_queue_full: "Đang có quá nhiều lần đánh giá chờ chạy. Hãy thử lại khi một lần đã xong.",
    embedder_mismatch: "Chỉ mục được xây dựng bằng một mô hình khác; hãy liên hệ quản trị hệ thống.",
    internal_error: "Máy chủ gặp lỗi. Vui lòng thử lại sau.",
  };

  /** {message, detail}: the Vietnamese explanation, and the server's own words for the record. */
  function describe(error) {
    if (!(error instanceof ApiError)) {
      return { message: "Đã xảy ra lỗi không mong muốn.", detail: String(error && error.message ? error.message : error) };
    }
    let message = MESSAGES[error.code];
    if (error.code === "unauthorized" || error.status === 401) {
      message = getKey()
        ? "Khóa truy cập không hợp lệ hoặc đã bị thu hồi. Hãy nhập lại khóa ở trang Quản trị tài liệu."
        : "Thao tác này cần khóa truy cập. Hãy nhập khóa ở trang Quản trị tài liệu.";
    }
    if (!message) {
      message = error.status >= 500 ? MESSAGES.internal_error : "Yêu cầu không thực hiện được (mã lỗi " + error.status + ").";
    }
    return { message, detail: error.detail };
  }

  // -- DOM ------------------------------------------------------------------------------------------
  /** el("p", {class: "x", "aria-live": "polite"}, "text", node, ...): children become text nodes or nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) { node.replaceChildren(); return node; }

  /** An error as a readable block: role=alert, the message, the server's detail in small print. */
  function errorBlock(error, prefix) {
    const { message, detail } = describe(error);
    return el("p", { class: "msg error", role: "alert" },
      prefix ? prefix + " " : "", message,
      detail ? el("span", { class: "detail" }, "Chi tiết: ", detail) : null);
  }

  // -- formats ----------------------------------------------------------------------------------------
  const percentFormat = new Intl.NumberFormat("vi-VN", { style: "percent", maximumFractionDigits: 1 });
  const numberFormat = new Intl.NumberFormat("vi-VN");

  function percent(value) { return value === null || value === undefined ? "—" : percentFormat.format(value); }
  function number(value) { return value === null || value === undefined ? "—" : numberFormat.format(value); }

  /** "2024-07" → "tháng 7/2024", "2024-07-15" → "15/7/2024"; anything else as given. */
  function formatDate(value) {
    if (!value) return "";
    const m = /^(\d{4})-(\d{2})(?:-(\d{2}))?$/.exec(value);
    if (!m) return value;
    const month = Number(m[2]);
    return m[3] ? Number(m[3]) + "/" + month + "/" + m[1] : "tháng " + month + "/" + m[1];
  }

  function formatDateTime(iso) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso || "";
    return date.toLocaleString("vi-VN", {
      hour: "2-digit", minute: "2-digit", day: "numeric", month: "numeric", year: "numeric",
    });
  }

  // -- units ---------------------------------------------------------------------------------------------
  /** When asking needs a key, the server renders no unit names: fetch them with the key. */
  async function loadUnits() {
    if (document.body.dataset.loadUnits !== "true") return;
    const selects = document.querySelectorAll("select[data-units]");
    let units;
    try {
      units = await api("GET", "/v1/units");
    } catch (error) {
      for (const select of selects) select.after(errorBlock(error, "Không tải được danh sách đơn vị."));
      return;
    }
    for (const select of selects) {
      const keep = select.dataset.all ? [el("option", { value: "" }, select.dataset.all)] : [];
      select.replaceChildren(...keep, ...units.map((u) => el("option", { value: u.id }, u.name)));
      select.dispatchEvent(new Event("change"));
    }
  }

  function unitNames() {
    const names = {};
    const select = document.querySelector("select[data-units]");
    if (select) for (const option of select.options) if (option.value) names[option.value] = option.textContent;
    return names;
  }

  return {
    root, getKey, setKey, forgetKey, ApiError, api, stream, upload, describe,
    el, append, clear, errorBlock, percent, number, formatDate, formatDateTime, loadUnits, unitNames,
  };
})();

/* The maintainer page: a key (sessionStorage only), the unit's documents, upload, replace, delete. */
"use strict";

(() => {
  const { el } = Troly;
  const keyForm = document.getElementById("key-form");
  const keyInput = document.getElementById("key");
  const keyState = document.getElementById("key-state");
  const keyForget = document.getElementById("key-forget");
  const keyMessage = document.getElementById("key-message");
  const unit = document.getElementById("unit");
  const uploadForm = document.getElementById("upload-form");
  const fileInput = document.getElementById("file");
  const fileNames = document.getElementById("file-names");
  const dropZone = document.getElementById("drop-zone");
  const titleInput = document.getElementById("title");
  const dateInput = document.getElementById("date");
  const progressBox = document.getElementById("upload-progress");
  const progressLabel = document.getElementById("progress-label");
  const progressBar = document.getElementById("progress");
  const progressText = document.getElementById("progress-text");
  const messages = document.getElementById("messages");
  const tbody = document.querySelector("#documents tbody");
  const count = document.getElementById("document-count");
  const listState = document.getElementById("documents-state");
  const replaceInput = document.getElementById("replace-file");

  const DATE = /^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$/;
  let busy = false;
  let replacing = null;  // the document whose content the next chosen file replaces

  // -- the key ------------------------------------------------------------------------------
  function showKeyState() {
    const has = Boolean(Troly.getKey());
    keyState.textContent = has
      ? "Đã nhập khóa cho phiên làm việc này."
      : "Chưa nhập khóa: chỉ xem được danh sách tài liệu.";
    keyForget.hidden = !has;
  }

  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) {
      keyMessage.replaceChildren(el("p", { class: "msg error", role: "alert" }, "Hãy nhập khóa truy cập."));
      keyInput.focus();
      return;
    }
    keyState.textContent = "Đang kiểm tra khóa…";
    keyMessage.replaceChildren();
    try {
      await Troly.api("GET", "/v1/units", undefined, { key });  // a wrong key is refused on any request
    } catch (error) {
      showKeyState();
      const invalid = error.status === 401;
      keyMessage.replaceChildren(invalid
        ? el("p", { class: "msg error", role: "alert" }, "Khóa không hợp lệ hoặc đã bị thu hồi.",
          el("span", { class: "detail" }, "Chi tiết: ", error.detail))
        : Troly.errorBlock(error, "Không kiểm tra được khóa."));
      keyInput.select();
      return;
    }
    Troly.setKey(key);
    keyInput.value = "";
    showKeyState();
    keyMessage.replaceChildren(el("p", { class: "msg ok" }, "Đã nhận khóa. Bạn có thể tải lên, thay thế và xóa tài liệu."));
  });

  keyForget.addEventListener("click", () => {
    Troly.forgetKey();
    keyMessage.replaceChildren();
    showKeyState();
    keyInput.focus();
  });

  // -- messages ------------------------------------------------------------------------------
  function say(...nodes) { messages.replaceChildren(...nodes); }
  function add(node) { messages.append(node); }

  // -- the documents -----------------------------------------------------------------------
  let documents = [];

  async function loadDocuments(fresh) {
    if (!unit.value) {
      tbody.replaceChildren();
      listState.textContent = "Chưa có đơn vị nào.";
      count.textContent = "";
      return;
    }
    listState.textContent = "Đang tải danh sách tài liệu…";
    try {
      documents = await Troly.api("GET", "/v1/units/" + encodeURIComponent(unit.value) + "/documents");
    } catch (error) {
      tbody.replaceChildren();
      listState.replaceChildren(Troly.errorBlock(error, "Không tải được danh sách tài liệu."));
      return;
    }
    documents.sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
    tbody.replaceChildren(...documents.map((d) => row(d, fresh && fresh.has(d.id))));
    count.textContent = "(" + documents.length + ")";
    listState.textContent = documents.length ? "" : "Đơn vị này chưa có tài liệu.";
  }

  function row(doc, fresh) {
    const title = doc.title || "(không có tiêu đề)";
    const replace = el("button", { type: "button", class: "small", "aria-label": "Thay thế tài liệu " + title },
      "Thay thế");
    const remove = el("button", { type: "button", class: "small danger", "aria-label": "Xóa tài liệu " + title },
      "Xóa");
    const actions = el("div", { class: "actions" }, replace, remove);
    const tr = el("tr", { class: fresh ? "fresh" : null, dataset: { id: doc.id } },
      el("td", { class: "title", "data-label": "Tiêu đề" }, title),
      el("td", { "data-label": "Ngày" }, doc.date ? el("time", { datetime: doc.date }, Troly.formatDate(doc.date)) : "—"),
      el("td", { class: "source", "data-label": "Tệp nguồn" }, doc.source || "—"),
      el("td", { class: "num", "data-label": "Số đoạn" }, Troly.number(doc.passages)),
      el("td", { "data-label": "Thêm lúc" }, Troly.formatDateTime(doc.created_at)),
      el("td", { class: "row-actions" }, actions));
    replace.addEventListener("click", () => {
      if (busy) return;
      replacing = doc;
      replaceInput.value = "";
      replaceInput.click();
    });
    remove.addEventListener("click", () => confirmDelete(doc, actions, remove));
    return tr;
  }

  function confirmDelete(doc, actions, remove) {
    const title = doc.title || "(không có tiêu đề)";
    const yes = el("button", { type: "button", class: "small danger confirm" }, "Xác nhận xóa");
    const no = el("button", { type: "button", class: "small" }, "Hủy");
    const before = Array.from(actions.childNodes);
    actions.replaceChildren(el("span", { class: "visually-hidden" }, "Xóa hẳn tài liệu " + title + "?"), yes, no);
    yes.focus();
    const restore = () => { actions.replaceChildren(...before); remove.focus(); };
    no.addEventListener("click", restore);
    actions.addEventListener("keydown", (event) => { if (event.key === "Escape") restore(); });
    yes.addEventListener("click", async () => {
      if (busy) return;
      busy = true;
      try {
        await Troly.api("DELETE", path(doc.id));
        say(el("p", { class: "msg ok", tabindex: "-1" }, "Đã xóa tài liệu “" + title + "”. Tài liệu không còn được dùng để trả lời."));
        await loadDocuments();
        messages.firstChild.focus();
      } catch (error) {
        say(Troly.errorBlock(error, "Không xóa được “" + title + "”."));
        restore();
      } finally {
        busy = false;
      }
    });
  }

  function path(id) {
    return "/v1/units/" + encodeURIComponent(unit.value) + "/documents" + (id ? "/" + encodeURIComponent(id) : "");
  }

  // -- uploads --------------------------------------------------------------------------------
  function progress(label, sent, total) {
    progressBox.hidden = false;
    progressBox.dataset.state = "sending";
    progressLabel.textContent = label;
    const share = total ? sent / total : 0;
    progressBar.value = Math.round(share * 100);
    progressText.textContent = share >= 1 ? "100% · đang xử lý…" : Math.round(share * 100) + "% · " + size(sent) + " / " + size(total);
  }

  function finished(label, ok) {
    progressLabel.textContent = label;
    progressBox.dataset.state = ok ? "done" : "failed";
    if (ok) progressBar.value = 100;
    progressText.textContent = ok ? "100%" : "";
  }

  function size(bytes) {
    return bytes < 1024 * 1024 ? Troly.number(Math.ceil(bytes / 1024)) + " KB"
      : new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 1 }).format(bytes / 1024 / 1024) + " MB";
  }

  async function send(method, target, file, title, date, label) {
    const form = new FormData();
    form.append("file", file, file.name);
    if (title) form.append("title", title);
    if (date) form.append("date", date);
    progress(label, 0, file.size);
    return Troly.upload(method, target, form, (sent, total) => progress(label, sent, total));
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    const files = Array.from(fileInput.files || []);
    const date = dateInput.value.trim();
    if (!files.length) {
      say(el("p", { class: "msg error", role: "alert" }, "Hãy chọn ít nhất một tệp để tải lên."));
      fileInput.focus();
      return;
    }
    if (date && !DATE.test(date)) {
      say(el("p", { class: "msg error", role: "alert" }, "Ngày phải có dạng năm-tháng (2024-07) hoặc năm-tháng-ngày (2024-07-15)."));
      dateInput.focus();
      return;
    }
    const title = files.length === 1 ? titleInput.value.trim() : "";
    busy = true;
    say();
    const fresh = new Set();
    let failed = 0;
    try {
      for (const [i, file] of files.entries()) {
        const label = "Đang tải lên “" + file.name + "”" + (files.length > 1 ? " (" + (i + 1) + "/" + files.length + ")" : "");
        try {
          const created = await send("POST", path(), file, title, date, label);
          fresh.add(created.document_id);
          add(el("p", { class: "msg ok" }, created.created
            ? "Đã thêm “" + file.name + "”: " + created.passages + " đoạn văn đã vào cơ sở tri thức."
            : "“" + file.name + "” trùng nội dung với một tài liệu đã có; không thêm lần nữa."));
        } catch (error) {
          failed += 1;
          add(Troly.errorBlock(error, "Không tải lên được “" + file.name + "”:"));
        }
      }
    } finally {
      busy = false;
      finished(failed ? "Có tệp chưa tải lên được" : "Đã tải lên xong", !failed);
    }
    if (!failed) uploadForm.reset();
    await loadDocuments(fresh);
  });

  replaceInput.addEventListener("change", async () => {
    const file = replaceInput.files && replaceInput.files[0];
    const doc = replacing;
    replacing = null;
    if (!file || !doc || busy) return;
    const title = doc.title || "(không có tiêu đề)";
    busy = true;
    say();
    try {
      // The title and date stay those of the document being replaced.
      const replaced = await send("PUT", path(doc.id), file, doc.title, doc.date, "Đang thay thế “" + title + "” bằng “" + file.name + "”");
      say(el("p", { class: "msg ok" }, "Đã thay thế nội dung của “" + title + "” bằng “" + file.name + "”: " + replaced.passages + " đoạn văn."));
      finished("Đã thay thế xong", true);
      await loadDocuments(new Set([doc.id]));
    } catch (error) {
      finished("Chưa thay thế được", false);
      say(Troly.errorBlock(error, "Không thay thế được “" + title + "”:"));
    } finally {
      busy = false;
    }
  });

  // -- choosing files: the button, or dropping them on the zone ----------------------------------
  function showChosen() {
    const files = Array.from(fileInput.files || []);
    fileNames.textContent = files.length
      ? "Đã chọn: " + files.map((f) => f.name + " (" + size(f.size) + ")").join(", ")
      : "Chưa chọn tệp nào. Có thể kéo thả tệp vào đây.";
    fileNames.classList.toggle("chosen", files.length > 0);
  }
  fileInput.addEventListener("change", showChosen);
  uploadForm.addEventListener("reset", () => setTimeout(showChosen));
  for (const name of ["dragenter", "dragover"]) {
    dropZone.addEventListener(name, (event) => { event.preventDefault(); dropZone.classList.add("dragging"); });
  }
  for (const name of ["dragleave", "drop"]) {
    dropZone.addEventListener(name, () => dropZone.classList.remove("dragging"));
  }
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      showChosen();
    }
  });

  unit.addEventListener("change", () => { say(); loadDocuments(); });

  showKeyState();
  Troly.loadUnits().then(() => loadDocuments());
})();

/* Two staff pages of wangge: access-request approvals (/app/approvals) and the
 * register import (/app/import). Plain JavaScript, no build step; loaded after app.js on
 * these two pages only, it registers them in window.wangge.pages and uses app.js's
 * signed-in API client.
 *
 * Approvals (community head, street department; not the admin: duties separated): GET /access-requests lists every
 * request to an approver; each pending one shows the requester, the record asked for as the
 * API shows it to the approver (ID number masked), the purpose and the time; "批准" posts
 * /access-requests/{id}/approve with the hours it stays valid, "驳回" posts .../reject with
 * the reason (required here). The API refuses one's own request (403); its message is shown
 * in the row. Decided requests are listed below (newest first).
 *
 * Import (community head, admin): a register file (XLSX or CSV) of a community goes to
 * POST /imports/{kind}; a 422 lists every rejected value (row, column, value, reason) and
 * nothing was written, a 201 says how many rows were imported (houses: how many have no
 * grid). The blank template comes from GET /imports/{kind}/template.
 *
 * Other roles see "没有权限" (the API answers them 403; any 403 met later says so too).
 * window.wangge.staffAdmin exposes what is drawn (for scripts and tests).
 */
(function () {
  "use strict";

  var W = window.wangge;
  var STATUS_ZH = {requested: "待审批", approved: "已批准", rejected: "已驳回", expired: "已过期"};
  var KIND_ZH = {houses: "房屋", residents: "人口", staff: "人员"};
  var PAGE_SIZE = 1000;  // the API's cap on limit
  var DECIDED_SHOWN = 50;
  var MAX_HOURS = 720;  // AccessDecision.valid_hours: 0 < hours <= 720

  var admin = {pending: [], decided: [], subjects: {}, seq: 0, lastImport: null};

  var $ = W.$, $$ = W.$$, tid = W.tid, fromTemplate = W.fromTemplate, everyPage = W.everyPage;

  function shanghai(iso) { return W.shanghaiTime(iso, false); }
  function me() { return W.state.user || {}; }

  function userLabel(id, username) {
    if (id == null) return "—";
    return (username || "用户 #" + id) + (id === me().id ? "（本人）" : "");
  }

  // ------------------------------------------------------------------ approvals

  function initApprovals() {
    if (!W.roleAllowed($("#page-approvals"))) { W.denyPage("approvals", "审批查阅申请"); return; }
    loadApprovals();
  }

  /* The newest PAGE_SIZE requests (ordered by id): the decided ones are taken from these. */
  function newestRequests() {
    return W.api("GET", "/access-requests?limit=" + PAGE_SIZE).then(function (page) {
      if (page.count <= PAGE_SIZE) return page.data;
      return W.api("GET", "/access-requests?limit=" + PAGE_SIZE + "&offset=" +
        (page.count - PAGE_SIZE)).then(function (last) { return last.data; });
    });
  }

  function loadApprovals() {
    var seq = ++admin.seq;
    tid("approvals").removeAttribute("data-loaded");
    return Promise.all([everyPage("/access-requests", "status=requested"), newestRequests()])
      .then(function (r) {
        if (seq !== admin.seq) return;
        admin.pending = r[0];
        admin.decided = r[1].filter(function (q) { return q.status !== "requested"; })
          .sort(function (a, b) {
            return (b.approved_at || "") < (a.approved_at || "") ? -1 : 1;
          });
        renderPending();
        renderDecided();
        tid("approvals").setAttribute("data-loaded", String(admin.pending.length));
      }).catch(function (err) {
        if (seq !== admin.seq) return;
        if (err.status === 403) W.denyPage("approvals", "审批查阅申请", err);
        else if (err.status !== 401) W.message(err.message, "error");
      });
  }

  /* What a request covers, as the API shows it to the approver (masked), into NODE. */
  function describeSubject(request, node) {
    var key, load;
    if (request.resident_id != null) {
      key = "r" + request.resident_id;
      load = function () {
        return W.api("GET", "/residents/" + request.resident_id).then(function (p) {
          return "居民 " + (p.name || "") + "，身份证 " + (p.id_number || "—") +
            (p.grid_code ? "，网格 " + p.grid_code : "") + "（#" + p.id + "）";
        });
      };
    } else if (request.house_id != null) {
      key = "h" + request.house_id;
      load = function () {
        return W.api("GET", "/houses/" + request.house_id).then(function (f) {
          var p = f.properties || {};
          return "房屋 " + (p.address || p.house_key || "") +
            (p.grid_code ? "，网格 " + p.grid_code : "") + "（#" + request.house_id + "）的全部居民";
        });
      };
    } else {
      node.textContent = "网格 " + request.grid_code + " 的全部居民";
      return;
    }
    if (!admin.subjects[key]) {
      admin.subjects[key] = load().catch(function (err) {
        return (request.resident_id != null ? "居民 #" + request.resident_id :
          "房屋 #" + request.house_id) + "（无法读取：" + err.message + "）";
      });
    }
    node.textContent = "读取中……";
    admin.subjects[key].then(function (text) { node.textContent = text; });
  }

  function renderPending() {
    var list = $("#approvals-pending");
    list.innerHTML = "";
    // the longest waiting first
    admin.pending.slice().sort(function (a, b) { return a.id - b.id; }).forEach(function (q) {
      list.appendChild(pendingRow(q));
    });
    $("#approvals-empty").hidden = admin.pending.length > 0;
    tid("approvals-count").textContent = "待审批 " + admin.pending.length + " 件";
  }

  function pendingRow(q) {
    var li = fromTemplate("approval-row-template");
    li.setAttribute("data-request-id", q.id);
    li.setAttribute("data-requester-id", q.requester_id);
    if (q.requester_id === me().id) li.classList.add("own");
    tid("approval-requester", li).textContent = userLabel(q.requester_id, q.requester_username);
    describeSubject(q, tid("approval-subject", li));
    tid("approval-reason", li).textContent = q.reason;
    tid("approval-time", li).textContent = shanghai(q.requested_at) + "（#" + q.id + "）";
    $$("button[data-action]", li).forEach(function (button) {
      button.addEventListener("click", function () {
        decide(q, li, button.getAttribute("data-action"));
      });
    });
    $("form", li).addEventListener("submit", function (e) { e.preventDefault(); });
    return li;
  }

  function clearRowErrors(li) {
    $$(".field-error", li).forEach(function (n) { n.textContent = ""; });
    $$(".invalid", li).forEach(function (n) { n.classList.remove("invalid"); });
    tid("approval-error", li).textContent = "";
  }

  function fieldError(li, name, text) {
    var slot = tid("approval-error-" + name, li);
    slot.textContent = text;
    slot.parentNode.classList.add("invalid");
  }

  function decide(q, li, action) {
    var form = $("form", li);
    clearRowErrors(li);
    var note = form.note.value.trim();
    var body;
    if (action === "reject") {
      if (!note) { fieldError(li, "note", "驳回须填写理由。"); return; }
      body = {note: note};
    } else {
      var hours = Number(form.valid_hours.value);
      if (!form.valid_hours.value || !(hours > 0 && hours <= MAX_HOURS)) {
        fieldError(li, "hours", "有效时长须大于 0、不超过 " + MAX_HOURS + " 小时。");
        return;
      }
      body = {valid_hours: hours, note: note || null};
    }
    var buttons = $$("button", li);
    buttons.forEach(function (b) { b.disabled = true; });
    W.api("POST", "/access-requests/" + q.id + "/" + action, body).then(function (done) {
      W.message("申请 #" + done.id + " " + STATUS_ZH[done.status] +
        (done.expires_at ? "，有效至 " + shanghai(done.expires_at) : "") + "。", "ok");
      return loadApprovals();
    }).catch(function (err) {
      buttons.forEach(function (b) { b.disabled = false; });
      var rest = [];
      (err.body.errors || []).forEach(function (e) {
        var field = String(e.field || "").replace(/^body\./, "");
        var text = e.reason_zh || e.reason_en || "";
        if (field === "valid_hours") fieldError(li, "hours", text);
        else if (field === "note") fieldError(li, "note", text);
        else rest.push(text);
      });
      tid("approval-error", li).textContent = rest.length ? rest.join("；") : err.message;
    });
  }

  /* approved, but past expires_at: expired */
  function effectiveStatus(q) {
    if (q.status === "approved" && q.expires_at && Date.parse(q.expires_at) <= Date.now()) {
      return "expired";
    }
    return q.status;
  }

  function renderDecided() {
    var list = $("#approvals-decided");
    list.innerHTML = "";
    admin.decided.slice(0, DECIDED_SHOWN).forEach(function (q) {
      var li = fromTemplate("approval-decided-template");
      var status = effectiveStatus(q);
      li.setAttribute("data-request-id", q.id);
      li.setAttribute("data-status", status);
      li.classList.add(status);
      tid("approval-state", li).textContent = "#" + q.id + " " + (STATUS_ZH[status] || status);
      var facts = tid("approval-decided-facts", li);
      var subject = document.createElement("span");
      var requester = userLabel(q.requester_id, q.requester_username);
      facts.appendChild(document.createTextNode(" 申请人 " + requester + "；"));
      facts.appendChild(subject);
      facts.appendChild(document.createTextNode("；用途：" + q.reason + "；审批 " +
        shanghai(q.approved_at) + " " + userLabel(q.approved_by, q.approver_username) +
        (q.status === "approved" ? "，有效至 " + shanghai(q.expires_at) : "") +
        (q.decision_note ? "；意见：" + q.decision_note : "")));
      describeSubject(q, subject);
      list.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ import

  function initImport() {
    if (!W.roleAllowed($("#page-import"))) { W.denyPage("import", "导入登记表"); return; }
    var form = $("#import-form");
    form.kind.addEventListener("change", kindChanged);
    form.addEventListener("submit", upload);
    kindChanged();
    everyPage("/communities", "").then(function (rows) {
      var select = form.community;
      select.innerHTML = "";
      rows.forEach(function (c) { select.appendChild(new Option(c.name + "（" + c.code + "）", c.code)); });
      // the user's own community (by the grids they serve) when listed, else the first
      var codes = me().grid_codes || [];
      var own = rows.filter(function (c) {
        return codes.some(function (g) { return g.indexOf(c.code) === 0; });
      })[0];
      if (own) select.value = own.code;
    }).catch(function (err) {
      if (err.status === 403) W.denyPage("import", "导入登记表", err);
      else if (err.status !== 401) W.message(err.message, "error");
    });
  }

  function kindChanged() {
    var form = $("#import-form");
    var kind = form.kind.value;
    var link = tid("import-template");
    link.href = (window.WANGGE_APP.root || "") + "/imports/" + kind + "/template";
    link.textContent = "下载" + KIND_ZH[kind] + "登记表空白模板（XLSX）";
    $("#import-crs-label").hidden = kind !== "houses";
    clearImport();
  }

  function clearImport() {
    var form = $("#import-form");
    $$(".field-error", form).forEach(function (n) { n.textContent = ""; });
    $$(".invalid", form).forEach(function (n) { n.classList.remove("invalid"); });
    tid("import-error").textContent = "";
    var result = tid("import-result");
    result.hidden = true;
    result.textContent = "";
    ["data-imported", "data-rows", "data-outside", "data-written"].forEach(function (a) {
      result.removeAttribute(a);
    });
    $("#import-rejected").hidden = true;
    $("#import-error-rows").innerHTML = "";
  }

  function upload(event) {
    event.preventDefault();
    var form = event.target;
    clearImport();
    var file = form.file.files[0];
    var slot = tid("import-error-file");
    if (!file) { slot.textContent = "请选择文件。"; slot.parentNode.classList.add("invalid"); return; }
    if (!/\.(xlsx|csv)$/i.test(file.name)) {
      slot.textContent = "须为 XLSX 或 CSV 文件。";
      slot.parentNode.classList.add("invalid");
      return;
    }
    if (!form.community.value) { tid("import-error").textContent = "请选择社区。"; return; }
    var kind = form.kind.value;
    var data = new FormData();
    data.append("file", file, file.name);
    data.append("community", form.community.value);
    data.append("only_good_rows", form.only_good_rows.checked ? "true" : "false");
    if (kind === "houses") data.append("input_crs", form.input_crs.value);
    var button = $("[type=submit]", form);
    button.disabled = true;
    W.api("POST", "/imports/" + kind, data).then(function (result) {
      admin.lastImport = result;
      showImported(result, file.name);
    }).catch(function (err) {
      var errors = err.body.errors || [];
      if (err.status === 422 && errors.length && errors[0].row !== undefined) {
        admin.lastImport = err.body;
        showRejected(errors, "文件 " + file.name + " 有 " + rowsOf(errors).length +
          " 行错误，未导入任何数据。请更正后重新上传，或勾选“只导入无误的行”。");
      } else if (err.status === 403) {
        tid("import-error").textContent = "没有权限：" + err.message;
      } else {
        tid("import-error").textContent = err.message;
      }
    }).finally(function () { button.disabled = false; });
  }

  function rowsOf(errors) {
    var seen = {};
    errors.forEach(function (e) { seen[e.row] = true; });
    return Object.keys(seen);
  }

  function showImported(r, name) {
    var result = tid("import-result");
    var text = "已导入 " + r.imported + " 行（文件 " + name + " 共 " + r.rows + " 行，" +
      KIND_ZH[r.kind] + "，社区 " + r.community + "）。";
    if (r.kind === "houses") {
      text += r.outside ? "其中 " + r.outside + " 处房屋不在任何网格内（未定位或在网格外），未分配网格。" :
        "每处房屋都已分配网格。";
    }
    if ((r.ignored_columns || []).length) text += "未识别、已忽略的列：" + r.ignored_columns.join("、") + "。";
    result.textContent = text;
    result.setAttribute("data-imported", r.imported);
    result.setAttribute("data-rows", r.rows);
    result.setAttribute("data-outside", r.outside);
    result.setAttribute("data-written", r.written);
    result.hidden = false;
    if ((r.errors || []).length) {
      showRejected(r.errors, "以下 " + r.rejected_rows.length + " 行有错误，已跳过（未导入）：");
    }
  }

  function showRejected(errors, summary) {
    tid("import-rejected-summary").textContent = summary;
    var body = $("#import-error-rows");
    body.innerHTML = "";
    errors.forEach(function (e) {
      var tr = fromTemplate("import-error-row-template");
      tr.setAttribute("data-row", e.row);
      tr.setAttribute("data-field", e.field || "");
      $("[data-cell=row]", tr).textContent = e.row;
      $("[data-cell=column]", tr).textContent = e.column || e.field || "—";
      $("[data-cell=value]", tr).textContent = e.value == null ? "（空）" : String(e.value);
      var reason = $("[data-cell=reason]", tr);
      reason.textContent = e.reason_zh || e.reason_en || "";
      if (e.reason_en) reason.title = e.reason_en;
      body.appendChild(tr);
    });
    $("#import-rejected").hidden = false;
  }

  W.pages.approvals = initApprovals;
  W.pages["import"] = initImport;
  W.staffAdmin = admin;
})();

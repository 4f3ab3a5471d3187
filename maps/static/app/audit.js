/* The audit-log page of wangge (/app/audit): the auditor only (not the admin: duties separated). Plain JavaScript, no build
 * step; loaded after app.js on this page only, it registers in window.wangge.pages and uses
 * app.js's signed-in API client.
 *
 * GET /audit?order=desc gives the append-only log newest first, PAGE_SIZE rows at a time
 * ("加载更多" fetches the next page with offset); the form filters by action, user name
 * (exact) and a range of Asia/Shanghai dates (both included). Each row: the time in
 * Asia/Shanghai, the user, the action in Chinese with its code, the table and record, and the
 * detail in words (e.g. the access request that allowed an unmasked read).
 *
 * Other roles see "没有权限" (the API answers them 403; any 403 met later says so too).
 * window.wangge.audit exposes what is drawn (for scripts and tests).
 */
(function () {
  "use strict";

  var W = window.wangge;
  var PAGE_SIZE = 50;
  // every action the API writes (grep "audit(" in api/); unknown ones are shown by their code
  var ACTION_ZH = {
    unmask_read: "查看完整居民信息",
    unmask_export: "导出未遮蔽台账",
    access_request: "提交查阅申请",
    access_approved: "批准查阅申请",
    access_rejected: "驳回查阅申请",
    login: "登录",
    login_failed: "登录失败",
    login_locked: "登录被限制",
    login_second_factor: "等待动态验证码",
    password_changed: "修改密码",
    totp_enrolled: "绑定动态验证码",
    user_create: "新建用户",
    user_update: "修改用户"
  };
  var TABLE_ZH = {residents: "居民", access_requests: "查阅申请", users: "用户", houses: "房屋"};
  var FIELD_ZH = {id_number: "身份证号码", phone: "联系电话", password: "密码", role: "角色",
    grid_codes: "负责网格", active: "启用状态", staff_id: "人员档案"};

  var audit = {rows: [], count: 0, query: "", seq: 0};

  var $ = W.$, tid = W.tid;

  function shanghai(iso) { return W.shanghaiTime(iso, true); }

  function deny(err) { W.denyPage("audit", "查看审计日志", err); }

  function initAudit() {
    if (!W.roleAllowed($("#page-audit"))) {
      deny();
      return;
    }
    var form = $("#audit-form");
    Object.keys(ACTION_ZH).forEach(function (code) {
      form.elements.action.appendChild(new Option(ACTION_ZH[code] + "（" + code + "）", code));
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); search(); });
    $("#audit-clear").addEventListener("click", function () { form.reset(); search(); });
    $("#audit-more").addEventListener("click", function () { load(false); });
    search();
  }

  /* The filters of the form as a query (without limit and offset), or null if refused. */
  function filters() {
    var form = $("#audit-form");
    var slot = tid("audit-error-end");
    slot.textContent = "";
    slot.parentNode.classList.remove("invalid");
    var q = new URLSearchParams();
    q.set("order", "desc");
    if (form.elements.action.value) q.set("action", form.elements.action.value);
    var name = form.username.value.trim();
    if (name) q.set("username", name);
    if (form.start.value) q.set("start", form.start.value);
    if (form.end.value) q.set("end", form.end.value);
    if (form.start.value && form.end.value && form.end.value < form.start.value) {
      slot.textContent = "截止日期不能早于起始日期。";
      slot.parentNode.classList.add("invalid");
      return null;
    }
    return q.toString();
  }

  function search() {
    var query = filters();
    if (query === null) return;
    audit.query = query;
    load(true);
  }

  function load(reset) {
    var seq = ++audit.seq;
    var section = tid("audit");
    var offset = reset ? 0 : audit.rows.length;
    section.removeAttribute("data-loaded");
    tid("audit-error").textContent = "";
    $("#audit-more").disabled = true;
    return W.api("GET", "/audit?" + audit.query + "&limit=" + PAGE_SIZE + "&offset=" + offset)
      .then(function (page) {
        if (seq !== audit.seq) return;
        if (reset) { audit.rows = []; $("#audit-rows").innerHTML = ""; }
        audit.rows = audit.rows.concat(page.data);
        audit.count = page.count;
        page.data.forEach(function (r) { $("#audit-rows").appendChild(row(r)); });
        draw();
        section.setAttribute("data-query", audit.query);
        section.setAttribute("data-count", String(audit.count));
        section.setAttribute("data-loaded", String(audit.rows.length));
      }).catch(function (err) {
        if (seq !== audit.seq) return;
        if (err.status === 403) deny(err);
        else if (err.status !== 401) tid("audit-error").textContent = err.message;
      }).finally(function () { $("#audit-more").disabled = false; });
  }

  function draw() {
    var shown = audit.rows.length;
    tid("audit-count").textContent = "共 " + audit.count + " 条" +
      (shown < audit.count ? "，已显示 " + shown + " 条" : "");
    $("#audit-empty").hidden = audit.count > 0;
    $("#audit-more").hidden = shown >= audit.count;
  }

  function userText(r) {
    if (r.username) return r.username + (r.user_id != null ? "（#" + r.user_id + "）" : "");
    return r.user_id != null ? "用户 #" + r.user_id : "—（无此用户或系统）";
  }

  function recordText(r) {
    if (!r.table_name) return "—";
    return (TABLE_ZH[r.table_name] || r.table_name) +
      (r.record_id != null ? " #" + r.record_id : "") + "（" + r.table_name + "）";
  }

  function fieldNames(list) {
    return list.map(function (f) { return FIELD_ZH[f] || f; }).join("、");
  }

  /* The detail object in words; keys this page does not know are shown as key: value. */
  function detailText(detail) {
    if (!detail) return "—";
    var parts = [];
    Object.keys(detail).forEach(function (k) {
      var v = detail[k];
      if (v == null) return;
      if (k === "access_request_id") parts.push("依据查阅申请 #" + v);
      else if (k === "fields") parts.push("字段：" + fieldNames([].concat(v)));
      else if (k === "reason") parts.push("用途：" + v);
      else if (k === "valid_hours") parts.push("有效 " + v + " 小时");
      else if (k === "username") parts.push("用户名：" + v);
      else if (k === "role") parts.push("角色：" + (W.ROLE_ZH[v] || v));
      else if (k === "via") parts.push("途径：" + (v === "cli" ? "命令行" : v));
      else parts.push(k + "：" + (typeof v === "object" ? JSON.stringify(v) : v));
    });
    return parts.length ? parts.join("；") : "—";
  }

  function row(r) {
    var li = document.getElementById("audit-row-template").content.firstElementChild
      .cloneNode(true);
    li.setAttribute("data-audit-id", r.id);
    li.setAttribute("data-action", r.action);
    li.setAttribute("data-username", r.username || "");
    li.setAttribute("data-detail", r.detail == null ? "" : JSON.stringify(r.detail));
    li.classList.add("audit-" + r.action.replace(/[^\w-]/g, ""));
    $("[data-cell=time]", li).textContent = shanghai(r.at);
    var action = $("[data-cell=action]", li);
    action.appendChild(document.createTextNode((ACTION_ZH[r.action] || r.action) + " "));
    var code = document.createElement("code");
    code.textContent = r.action;
    action.appendChild(code);
    $("[data-cell=user]", li).textContent = userText(r);
    $("[data-cell=record]", li).textContent = recordText(r);
    $("[data-cell=detail]", li).textContent = detailText(r.detail);
    return li;
  }

  W.pages.audit = initAudit;
  W.audit = audit;
})();

// The rule builder: edits a rule tree (kehu/marketing/rules/) held in a form field, and — where the page gives a
// preview URL — after every change asks the server for the live count and a sample of members in the user's
// scope. Segments use it as is (#segment-definition); other pages (workflow rules' conditions) name their field,
// field catalogue and words on the #rule-builder element: data-target, data-schema, data-texts.
// No inline script (Content-Security-Policy, docs/adr/0007): the field catalogue and the words come from
// json_script blocks rendered by the page.
(function () {
  "use strict";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function option(value, label, selected) {
    var o = el("option", { value: value, text: label });
    if (selected) o.selected = true;
    return o;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.getElementById("rule-builder");
    if (!root) return;
    var field = document.getElementById(root.getAttribute("data-target") || "segment-definition");
    if (!field) return;
    var schema = JSON.parse(document.getElementById(root.getAttribute("data-schema") || "segment-schema").textContent);
    var t = JSON.parse(document.getElementById(root.getAttribute("data-texts") || "segment-texts").textContent);
    if (!schema.fields.length) return;
    // a page whose fields depend on a record type select (a new workflow rule) reloads with the chosen type
    var reloadOn = root.getAttribute("data-reload-on");
    if (reloadOn && document.getElementById(reloadOn)) {
      var shownFor = document.getElementById(reloadOn).value;
      document.getElementById(reloadOn).addEventListener("change", function (e) {
        if (e.target.value === shownFor) return;
        var url = new URL(window.location.href);
        url.searchParams.set("model", e.target.value);
        window.location.assign(url.toString());
      });
    }
    var byKey = {};
    schema.fields.forEach(function (f) { byKey[f.key] = f; });
    var noValue = new Set(schema.no_value);
    var dayOps = new Set(schema.day_ops);
    var csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
    var tree;
    try { tree = JSON.parse(field.value || "{}"); } catch (e) { tree = {}; }
    if (!tree || typeof tree !== "object" || Array.isArray(tree)) tree = {};
    tree.match = tree.match || "all";
    tree.conditions = Array.isArray(tree.conditions) ? tree.conditions : [];
    tree.exclude = Array.isArray(tree.exclude) ? tree.exclude : [];

    var timer = null;
    var pending = null;

    function changed() {
      var copy = JSON.parse(JSON.stringify(tree));
      if (!copy.exclude.length) delete copy.exclude;
      field.value = JSON.stringify(copy);
      clearTimeout(timer);
      timer = setTimeout(preview, 250);
    }

    function preview() {
      if (!root.getAttribute("data-preview-url")) return;
      var countEl = document.getElementById("segment-count");
      var errorsEl = document.getElementById("segment-errors");
      var sampleEl = document.getElementById("segment-sample");
      if (pending) pending.abort();
      pending = new AbortController();
      countEl.classList.add("loading");
      fetch(root.getAttribute("data-preview-url"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify({ definition: JSON.parse(field.value) }),
        signal: pending.signal,
        credentials: "same-origin",
      }).then(function (r) { return r.json(); }).then(function (data) {
        countEl.classList.remove("loading");
        errorsEl.replaceChildren();
        sampleEl.replaceChildren();
        if (data.errors) {
          countEl.textContent = "—";
          countEl.setAttribute("data-count", "");
          data.errors.forEach(function (m) { errorsEl.appendChild(el("li", { text: m })); });
          return;
        }
        countEl.textContent = data.count.toLocaleString();
        countEl.setAttribute("data-count", String(data.count));
        if (!data.sample.length) sampleEl.appendChild(el("li", { className: "muted", text: t.no_members }));
        data.sample.forEach(function (c) {
          sampleEl.appendChild(el("li", {}, [el("a", { href: c.url, text: c.name })]));
        });
      }).catch(function (e) { if (e.name !== "AbortError") countEl.classList.remove("loading"); });
    }

    function firstField() { return schema.fields[0]; }

    function newCondition() {
      var f = firstField();
      return { field: f.key, op: f.ops[0].key };
    }

    function defaultValue(f, op) {
      if (noValue.has(op)) return undefined;
      if (dayOps.has(op)) return 30;
      if (op === "between") return ["", ""];
      if (["in", "not_in", "has_any", "has_all", "has_none", "bought", "not_bought"].indexOf(op) >= 0) return [];
      if (f.choices && (f.kind === "choice" || f.kind === "region")) return f.choices.length ? f.choices[0].value : "";
      return "";
    }

    function multiSelect(f, node, convert) {
      var select = el("select", { multiple: "multiple", "aria-label": t.value, "data-role": "value", className: "rule-multi" });
      var current = (node.value || []).map(String);
      (f.choices || []).forEach(function (c) { select.appendChild(option(c.value, c.label, current.indexOf(c.value) >= 0)); });
      select.addEventListener("change", function () {
        node.value = Array.from(select.selectedOptions).map(function (o) { return convert(o.value); });
        changed();
      });
      return select;
    }

    function input(type, value, onChange, label) {
      var i = el("input", { type: type, "aria-label": label || t.value, "data-role": "value" });
      i.value = value === undefined || value === null ? "" : value;
      i.addEventListener("input", function () { onChange(i.value); changed(); });
      return i;
    }

    function valueControls(f, node) {
      var op = node.op;
      if (noValue.has(op)) return [];
      if (dayOps.has(op)) {
        return [input("number", node.value, function (v) { node.value = v === "" ? "" : parseInt(v, 10); }), el("span", { text: t.days, className: "muted" })];
      }
      var toInt = function (v) { return parseInt(v, 10); };
      if (f.kind === "tags" || f.kind === "owner" || f.kind === "product") return [multiSelect(f, node, toInt)];
      if ((op === "in" || op === "not_in") && f.choices) return [multiSelect(f, node, String)];
      if (op === "in" || op === "not_in") {
        return [input("text", (node.value || []).join(", "), function (v) {
          node.value = v.split(/[,，]/).map(function (s) { return s.trim(); }).filter(Boolean);
        })];
      }
      if (f.choices && f.kind === "choice") {
        var select = el("select", { "aria-label": t.value, "data-role": "value" });
        f.choices.forEach(function (c) { select.appendChild(option(c.value, c.label, String(node.value) === c.value)); });
        select.addEventListener("change", function () { node.value = select.value; changed(); });
        return [select];
      }
      var type = { number: "number", amount: "number", date: "date", purchase_date: "date" }[f.kind] || "text";
      if (op === "between") {
        if (!Array.isArray(node.value)) node.value = ["", ""];
        return [
          input(type, node.value[0], function (v) { node.value[0] = v; }, t.from),
          el("span", { text: "–" }),
          input(type, node.value[1], function (v) { node.value[1] = v; }, t.to),
        ];
      }
      return [input(type, node.value, function (v) { node.value = v; })];
    }

    function extraControls(f, node) {
      var parts = [];
      if (f.extras.indexOf("period") >= 0) {
        var p = node.period || {};
        var mode = p.last_days ? "last" : (p.from || p.to ? "range" : "any");
        var select = el("select", { "aria-label": t.period, "data-role": "period" }, [
          option("any", t.any_time, mode === "any"), option("last", t.last_days, mode === "last"),
          option("range", t.date_range, mode === "range"),
        ]);
        select.addEventListener("change", function () {
          if (select.value === "any") delete node.period;
          else if (select.value === "last") node.period = { last_days: 90 };
          else node.period = { from: "", to: "" };
          render();
        });
        parts.push(select);
        if (mode === "last") {
          parts.push(input("number", p.last_days, function (v) { node.period = { last_days: v === "" ? "" : parseInt(v, 10) }; }, t.days));
        } else if (mode === "range") {
          parts.push(input("date", p.from, function (v) { node.period.from = v; if (!v) delete node.period.from; }, t.from));
          parts.push(input("date", p.to, function (v) { node.period.to = v; if (!v) delete node.period.to; }, t.to));
        }
      }
      if (f.extras.indexOf("currency") >= 0) {
        parts.push(input("text", node.currency || "", function (v) { if (v) node.currency = v; else delete node.currency; }, t.currency));
        parts[parts.length - 1].setAttribute("placeholder", "CNY");
        parts[parts.length - 1].className = "rule-currency";
      }
      if (f.extras.indexOf("channels") >= 0) {
        var channels = multiSelect({ choices: schema.channels }, { value: node.channels || [] }, String);
        channels.setAttribute("aria-label", t.channels);
        channels.setAttribute("title", t.channels);
        channels.addEventListener("change", function () {
          var v = Array.from(channels.selectedOptions).map(function (o) { return o.value; });
          if (v.length) node.channels = v; else delete node.channels;
          changed();
        });
        parts.push(channels);
      }
      return parts;
    }

    function conditionRow(node, list, index) {
      var f = byKey[node.field] || firstField();
      var fieldSelect = el("select", { "aria-label": t.field, "data-role": "field" });
      var groups = {};
      schema.fields.forEach(function (x) {
        if (!groups[x.group]) { groups[x.group] = el("optgroup", { label: x.group }); fieldSelect.appendChild(groups[x.group]); }
        groups[x.group].appendChild(option(x.key, x.label, x.key === f.key));
      });
      fieldSelect.addEventListener("change", function () {
        var nf = byKey[fieldSelect.value];
        list[index] = { field: nf.key, op: nf.ops[0].key };
        var v = defaultValue(nf, nf.ops[0].key);
        if (v !== undefined) list[index].value = v;
        render();
      });
      var opSelect = el("select", { "aria-label": t.operator, "data-role": "op" });
      f.ops.forEach(function (o) { opSelect.appendChild(option(o.key, o.label, o.key === node.op)); });
      opSelect.addEventListener("change", function () {
        node.op = opSelect.value;
        var v = defaultValue(f, node.op);
        if (v === undefined) delete node.value; else node.value = v;
        render();
      });
      var remove = el("button", { type: "button", className: "btn small ghost", text: "×", "aria-label": t.remove, "data-role": "remove" });
      remove.addEventListener("click", function () { list.splice(index, 1); render(); });
      return el("div", { className: "rule-row", "data-testid": "rule-row" },
        [fieldSelect, opSelect].concat(valueControls(f, node), extraControls(f, node), [remove]));
    }

    function groupBox(node, list, index, depth) {
      var match = el("select", { "aria-label": t.match_prefix, "data-role": "match" }, [
        option("all", t.all, node.match !== "any"), option("any", t.any, node.match === "any"),
      ]);
      match.addEventListener("change", function () { node.match = match.value; changed(); });
      var head = el("div", { className: "rule-group-head" }, [el("span", { text: t.match_prefix }), match, el("span", { text: t.match_suffix })]);
      if (list) {
        var remove = el("button", { type: "button", className: "btn small ghost", text: "×", "aria-label": t.remove, "data-role": "remove" });
        remove.addEventListener("click", function () { list.splice(index, 1); render(); });
        head.appendChild(remove);
      }
      var body = el("div", { className: "rule-items" });
      node.conditions.forEach(function (child, i) {
        body.appendChild(child.field !== undefined ? conditionRow(child, node.conditions, i) : groupBox(child, node.conditions, i, depth + 1));
      });
      var add = el("button", { type: "button", className: "btn small", text: "+ " + t.add_condition, "data-testid": depth ? "add-condition-nested" : "add-condition" });
      add.addEventListener("click", function () {
        var c = newCondition();
        var v = defaultValue(byKey[c.field], c.op);
        if (v !== undefined) c.value = v;
        node.conditions.push(c);
        render();
      });
      var actions = el("div", { className: "rule-actions" }, [add]);
      if (depth < 4) {
        var addGroup = el("button", { type: "button", className: "btn small", text: "+ " + t.add_group, "data-testid": "add-group" });
        addGroup.addEventListener("click", function () { node.conditions.push({ match: "any", conditions: [] }); render(); });
        actions.appendChild(addGroup);
      }
      return el("div", { className: "rule-group" + (depth ? " nested" : ""), "data-testid": depth ? "rule-group" : "rule-root" }, [head, body, actions]);
    }

    function exclusions() {
      var body = el("div", { className: "rule-items" });
      tree.exclude.forEach(function (child, i) {
        body.appendChild(child.field !== undefined ? conditionRow(child, tree.exclude, i) : groupBox(child, tree.exclude, i, 1));
      });
      var add = el("button", { type: "button", className: "btn small", text: "+ " + t.add_exclusion, "data-testid": "add-exclusion" });
      add.addEventListener("click", function () {
        var c = newCondition();
        var v = defaultValue(byKey[c.field], c.op);
        if (v !== undefined) c.value = v;
        tree.exclude.push(c);
        render();
      });
      return el("div", { className: "rule-group exclusions" }, [el("div", { className: "rule-group-head", text: t.exclude }), body, el("div", { className: "rule-actions" }, [add])]);
    }

    function render() {
      root.replaceChildren(groupBox(tree, null, 0, 0), exclusions());
      changed();
    }

    // the JSON field edited by hand (advanced users): re-read it when it parses
    field.addEventListener("change", function () {
      try {
        var parsed = JSON.parse(field.value);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
          tree = parsed;
          tree.match = tree.match || "all";
          tree.conditions = Array.isArray(tree.conditions) ? tree.conditions : [];
          tree.exclude = Array.isArray(tree.exclude) ? tree.exclude : [];
          render();
        }
      } catch (e) { /* the server names the problem on save */ }
    });
    render();
  });
})();

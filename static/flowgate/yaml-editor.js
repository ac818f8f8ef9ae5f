// FlowGate YAML editor: a textarea with line numbers, YAML highlighting and validate-as-you-type.
//
// Progressive enhancement of `.editor[data-yaml-editor]` (templates_app/_yaml_editor.html): the
// textarea stays the form field (the page works without JavaScript); a <pre> behind it shows the
// highlighted text, a gutter the line numbers. After each pause in typing the text is POSTed to
// data-validate-url (templates_app.views.ValidateView, i.e. templates_app.validation) and every
// error or warning is marked at its line.
(function () {
  "use strict";

  var DEBOUNCE_MS = 400;

  // Highlighting builds DOM nodes, never HTML strings: the YAML and the validation messages quote
  // user-supplied text (component ids, names), which must stay text wherever it is shown.
  function span(cls, text) {
    var node = document.createElement("span");
    node.className = cls;
    node.textContent = text;
    return node;
  }

  function text(value) {
    return document.createTextNode(value);
  }

  // Where a comment starts (a # at the line start or after a space, outside quotes); -1 if none.
  function commentStart(line) {
    var quote = null;
    for (var i = 0; i < line.length; i++) {
      var c = line[i];
      if (quote) {
        if (c === quote) { quote = null; }
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]))) {
        return i;
      }
    }
    return -1;
  }

  // The nodes of a scalar (or the rest of a line): surrounding blanks as text, the value in a span.
  function highlightScalar(value) {
    var trimmed = value.trim();
    if (!trimmed) { return [text(value)]; }
    var lead = value.slice(0, value.indexOf(trimmed));
    var tail = value.slice(lead.length + trimmed.length);
    var cls = null;
    if (/^(".*"|'.*')$/.test(trimmed)) { cls = "yaml-str"; }
    else if (/^-?(\d+(\.\d+)?([eE][-+]?\d+)?|0x[0-9a-fA-F]+)$/.test(trimmed)) { cls = "yaml-num"; }
    else if (/^(true|false|yes|no|on|off|null|~)$/i.test(trimmed)) { cls = "yaml-bool"; }
    else if (/^[&*][\w-]+/.test(trimmed)) { cls = "yaml-anchor"; }
    else if (/^[{}\[\]|>]+-?$/.test(trimmed)) { cls = "yaml-punct"; }
    else { cls = "yaml-str"; }
    return [text(lead), span(cls, trimmed), text(tail)];
  }

  // The nodes of one line: list marker, key, value and comment, each in its span.
  function highlightLine(line) {
    var cut = commentStart(line);
    var code = cut >= 0 ? line.slice(0, cut) : line;
    var comment = cut >= 0 ? line.slice(cut) : "";
    var nodes = [];
    var item = /^(\s*)(- )/.exec(code);
    if (item) {
      nodes.push(text(item[1]), span("yaml-punct", "- "));
      code = code.slice(item[0].length);
    }
    var key = /^(\s*)("[^"]*"|'[^']*'|[^\s#'"][^:#]*?)(:)(\s+|$)/.exec(code);
    if (key) {
      nodes.push(text(key[1]), span("yaml-key", key[2]), span("yaml-punct", ":"), text(key[4]));
      code = code.slice(key[0].length);
    }
    nodes = nodes.concat(highlightScalar(code));
    if (comment) { nodes.push(span("yaml-comment", comment)); }
    return nodes;
  }

  function csrfToken(form) {
    var input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function Editor(root) {
    this.root = root;
    this.textarea = root.querySelector("textarea");
    this.pre = root.querySelector("pre.highlight");
    this.gutter = root.querySelector(".gutter");
    this.area = root.querySelector(".area");
    var field = root.parentNode;
    this.state = field.querySelector("[data-editor-state]");
    this.problemList = field.querySelector("[data-editor-problems]");
    // The server's errors of the submitted YAML: the live list below repeats them once it has checked.
    this.serverErrors = field.querySelector("#errors-" + this.textarea.name);
    this.url = root.getAttribute("data-validate-url");
    this.typeField = root.getAttribute("data-type-field") ? document.getElementById(root.getAttribute("data-type-field")) : null;
    this.type = root.getAttribute("data-type") || "";
    this.problems = {};
    this.timer = null;
    this.request = 0;
    this.bind();
    this.render();
    if (this.textarea.value.trim()) { this.validate(); }
  }

  Editor.prototype.bind = function () {
    var self = this;
    this.textarea.addEventListener("input", function () { self.render(); self.schedule(); });
    this.area.addEventListener("scroll", function () { self.gutter.scrollTop = self.area.scrollTop; });
    this.textarea.addEventListener("keydown", function (event) {
      if (event.key === "Tab" && !event.shiftKey) {
        event.preventDefault();
        document.execCommand("insertText", false, "  ");
      }
    });
    if (this.typeField) {
      this.typeField.addEventListener("change", function () { self.schedule(); });
    }
  };

  Editor.prototype.render = function () {
    var lines = this.textarea.value.split("\n");
    var problems = this.problems;
    var code = document.createDocumentFragment();
    var numbers = document.createDocumentFragment();
    lines.forEach(function (line, index) {
      var nodes = line ? highlightLine(line) : [text(" ")];
      var holder = code;
      if (problems[index + 1]) {
        holder = span("line-error", "");
        code.appendChild(holder);
      }
      nodes.forEach(function (node) { holder.appendChild(node); });
      code.appendChild(text("\n"));
      var number = document.createElement("div");
      number.textContent = String(index + 1);
      if (problems[index + 1]) {
        number.className = "error-line";
        number.setAttribute("title", problems[index + 1]);
      }
      numbers.appendChild(number);
    });
    this.pre.replaceChildren(code);
    this.gutter.replaceChildren(numbers);
    // The textarea grows with its text, so the scrolling container moves text and highlight together.
    this.textarea.style.height = "0px";
    this.textarea.style.height = Math.max(this.textarea.scrollHeight, this.area.clientHeight) + "px";
    this.textarea.style.width = Math.max(this.pre.scrollWidth, this.area.clientWidth) + "px";
  };

  Editor.prototype.schedule = function () {
    var self = this;
    clearTimeout(this.timer);
    this.setState("Checking…", "");
    this.timer = setTimeout(function () { self.validate(); }, DEBOUNCE_MS);
  };

  Editor.prototype.setState = function (text, cls) {
    this.state.textContent = text;
    this.state.className = "badge " + cls;
    this.root.classList.toggle("invalid", cls === "invalid");
  };

  Editor.prototype.validate = function () {
    var self = this;
    var number = ++this.request;
    var type = this.typeField ? this.typeField.value : this.type;
    fetch(this.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(this.root.closest("form")) },
      body: JSON.stringify({ config_yaml: this.textarea.value, type: type })
    }).then(function (response) {
      return response.json();
    }).then(function (result) {
      if (number === self.request) { self.show(result); }
    }).catch(function () {
      if (number === self.request) { self.setState("Could not check", ""); }
    });
  };

  Editor.prototype.show = function (result) {
    var self = this;
    var errors = result.errors || [];
    var warnings = result.warnings || [];
    this.problems = {};
    this.problemList.replaceChildren();
    if (this.serverErrors) { this.serverErrors.hidden = true; }
    errors.concat(warnings).forEach(function (problem, index) {
      var isWarning = index >= errors.length;
      var where = problem.line ? "line " + problem.line + (problem.column ? ", column " + problem.column : "") : "";
      if (problem.line && !isWarning) { self.problems[problem.line] = problem.message; }
      var item = document.createElement("li");
      item.className = isWarning ? "warning" : "error";
      item.setAttribute("data-line", problem.line || "");
      if (where) {
        var jump = document.createElement("button");
        jump.type = "button";
        jump.className = "link";
        jump.textContent = where;
        jump.addEventListener("click", function () { self.goToLine(problem.line); });
        item.appendChild(jump);
        item.appendChild(document.createTextNode(": "));
      }
      item.appendChild(document.createTextNode((isWarning ? "warning: " : "") + problem.message));
      self.problemList.appendChild(item);
    });
    if (errors.length) {
      this.setState(errors.length + " error" + (errors.length > 1 ? "s" : ""), "invalid");
    } else if (warnings.length) {
      this.setState("Valid, " + warnings.length + " warning" + (warnings.length > 1 ? "s" : ""), "warnings");
    } else {
      this.setState("Valid", "valid");
    }
    this.render();
  };

  Editor.prototype.goToLine = function (line) {
    var lines = this.textarea.value.split("\n");
    var offset = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
    this.textarea.focus();
    this.textarea.setSelectionRange(offset, offset + (lines[line - 1] || "").length);
    this.area.scrollTop = Math.max(0, (line - 5) * 20);
  };

  document.querySelectorAll(".editor[data-yaml-editor]").forEach(function (root) { root.editor = new Editor(root); });
})();

// The live preview of an expression: the server reads it with symgrad's parser and
// returns symgrad's own printing as MathML (never the typed text), or why it cannot be read.
"use strict";
(function () {
  var PAUSE = 250; // milliseconds after the last key before asking
  function attach(input) {
    var target = document.getElementById(input.getAttribute("data-preview"));
    var timer = null;
    var asked = 0;
    function show(data) {
      if (data.mathml) {
        target.innerHTML = data.mathml; // MathML that symgrad printed from the parsed expression
        target.classList.remove("error");
      } else {
        target.textContent = data.error || "";
        target.classList.toggle("error", Boolean(data.error));
      }
    }
    function ask() {
      var mine = ++asked;
      if (!input.value.trim()) { show({}); return; }
      fetch("/preview?text=" + encodeURIComponent(input.value),
            {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) {
          if (r.ok || r.status === 413) { return r.json(); }
          return {error: r.status === 429 ? "the preview waits: too many requests" : "no preview"};
        })
        .then(function (data) { if (mine === asked) { show(data); } })
        .catch(function () { if (mine === asked) { show({error: "no preview"}); } });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, PAUSE);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-preview]");
    for (var i = 0; i < inputs.length; i++) { attach(inputs[i]); }
  });
})();

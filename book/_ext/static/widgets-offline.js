// Loaded between require.js and the ipywidgets HTML manager on pages that embed widgets.
(function () {
  // 1. The manager finds its icon fonts next to its AMD module id; point that id at the copy
  //    vendored into _static/html-manager so the fonts load from this site, offline too.
  var root = document.documentElement.dataset.content_root || "";
  if (window.require && window.require.config) {
    window.require.config({
      paths: { "@jupyter-widgets/html-manager/dist": root + "_static/html-manager" },
    });
  }
  // 2. ipywidgets 8 typesets widget labels with the MathJax 2 API (MathJax.Hub.Queue) while
  //    Sphinx loads MathJax 3; give MathJax 3 that entry point once it has started.
  function addHub() {
    var mj = window.MathJax;
    if (mj && mj.version && !mj.Hub) {
      mj.Hub = {
        Queue: function (command) {
          var element = command && command[2];
          if (element && mj.typesetPromise) mj.typesetPromise([element]);
        },
      };
    }
  }
  document.addEventListener("DOMContentLoaded", addHub);
  window.addEventListener("load", addHub);
})();

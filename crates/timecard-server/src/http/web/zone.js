// The dashboard's one script; every page works without it.
//
// A diary or timesheet address without a time zone shows its times in the
// browser's zone
// (without script, the server shows UTC and says so).
(function () {
  var url = new URL(window.location.href);
  if (!/\/(diary|timesheet)$/.test(url.pathname) || url.searchParams.has("tz")) {
    return;
  }
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (zone) {
    url.searchParams.set("tz", zone);
    window.location.replace(url.toString());
  }
})();

// The screenshot viewer's keys: ← and → follow the links to the previous
// and next picture, Esc the link back to the day. Keys typed into a field
// are left alone.
(function () {
  var keys = { ArrowLeft: "prev", ArrowRight: "next", Escape: "up" };
  document.addEventListener("keydown", function (event) {
    var rel = keys[event.key];
    if (!rel || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    if (!document.querySelector("figure.viewer")) {
      return;
    }
    var target = event.target;
    if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
      return;
    }
    var link = document.querySelector('nav.pager a[rel="' + rel + '"]');
    if (link) {
      event.preventDefault();
      window.location.assign(link.href);
    }
  });
})();

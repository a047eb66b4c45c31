// The dashboard's one script; every page works without it.
//
// The browser's time zone, kept in a cookie so that the server draws
// diaries and timesheets in it from the first byte. A page drawn in
// another zone (the first visit, or a zone that changed) is asked for
// again in the browser's, unless its address names a zone; without
// script the server shows UTC and says so.
(function () {
  var zone;
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  } catch (e) {
    return;
  }
  if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) {
    return;
  }
  document.cookie = "__Host-timecard-tz=" + zone +
    "; Path=/; Secure; SameSite=Strict; Max-Age=31536000";
  var drawn = document.querySelector("[data-zone]");
  var url = new URL(window.location.href);
  if (!drawn || url.searchParams.has("tz") || drawn.getAttribute("data-zone") === zone) {
    return;
  }
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
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

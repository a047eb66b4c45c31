// A diary address without a time zone shows the day in the browser's zone
// (without script, the server shows UTC and says so).
(function () {
  var url = new URL(window.location.href);
  if (!/\/diary$/.test(url.pathname) || url.searchParams.has("tz")) {
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

// The pages the audit visits on a `timecard-server serve --demo` server,
// and who sees each: the demo's contract `demo-web` has last week's time
// (Monday to Friday, with screenshots), its freelancer `freelancer` and
// its client `client`; `admin` runs the server. Pages still being built
// are `optional`: where the route is not there yet they are listed as
// absent, not failed. The CSV and the screenshots are not pages.

// The Monday (YYYY-MM-DD, UTC) of the billing week before `now`'s.
export function lastMonday(now) {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const sinceMonday = (day.getUTCDay() + 6) % 7;
  day.setUTCDate(day.getUTCDate() - sinceMonday - 7);
  return day.toISOString().slice(0, 10);
}

// Every page to audit: name, path, who signs in (none: signed out).
// `invitation` is the path of an invitation an admin made (null where
// this build has none). The freelancer's contract pages are the client's
// with other forms: axe and the width judge them, Lighthouse (which
// runs axe too) once, as the client.
export function pages(now, { invitation }) {
  const monday = lastMonday(now);
  const contract = '/contracts/demo-web';
  const contractPages = (who, lighthouse) =>
    [
      { name: `contracts (${who})`, path: '/contracts' },
      { name: `diary (${who})`, path: `${contract}/diary?date=${monday}&tz=UTC` },
      { name: `timesheet (${who})`, path: `${contract}/timesheet?week=${monday}` },
      { name: `statement (${who})`, path: `${contract}/statement?week=${monday}` },
    ].map((page) => ({ ...page, who, lighthouse }));
  return [
    { name: 'login', path: '/login' },
    { name: 'download', path: '/download' },
    { name: 'forgot password', path: '/forgot', optional: true },
    { name: 'invitation', path: invitation, optional: true },
    ...contractPages('client', true),
    { name: 'this week (client)', path: '/week', who: 'client', optional: true },
    { name: 'reports (client)', path: '/reports', who: 'client', optional: true },
    ...contractPages('freelancer', false),
    { name: 'this week (freelancer)', path: '/week', who: 'freelancer', optional: true, lighthouse: false },
    { name: 'admin users', path: '/admin/users', who: 'admin' },
    { name: 'admin contracts', path: '/admin/contracts', who: 'admin' },
    { name: 'admin reports', path: '/admin/reports', who: 'admin' },
    { name: 'admin invite', path: '/admin/invite', who: 'admin', optional: true },
  ];
}

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

// The diary of the day the audit shows: last week's Monday.
export function diaryPath(now) {
  return `/contracts/demo-web/diary?date=${lastMonday(now)}&tz=UTC`;
}

// Every page to audit: name, path, who signs in (none: signed out).
// `invitation` is the path of an invitation an admin made, `viewer` that
// of a screenshot's page in the diary (null where this build has none).
// The freelancer's contract pages are the client's with other forms, the
// new-contract form is the edit form, the admin's reports are the
// client's with more rows: axe and the width judge them, Lighthouse
// (which runs axe too) only the first of each.
export function pages(now, { invitation, viewer }) {
  const monday = lastMonday(now);
  const contract = '/contracts/demo-web';
  const contractPages = (who, lighthouse) =>
    [
      { name: `contracts (${who})`, path: '/contracts' },
      { name: `diary (${who})`, path: diaryPath(now) },
      { name: `timesheet (${who})`, path: `${contract}/timesheet?week=${monday}` },
      { name: `statement (${who})`, path: `${contract}/statement?week=${monday}` },
    ].map((page) => ({ ...page, who, lighthouse }));
  return [
    { name: 'login', path: '/login' },
    { name: 'download', path: '/download' },
    { name: 'forgot password', path: '/forgot', optional: true },
    { name: 'invitation', path: invitation, optional: true },
    ...contractPages('client', true),
    { name: 'screenshot viewer (client)', path: viewer, who: 'client', optional: true },
    { name: 'this week (client)', path: '/week', who: 'client', optional: true },
    { name: 'reports (client)', path: '/reports', who: 'client', optional: true },
    ...contractPages('freelancer', false),
    { name: 'this week (freelancer)', path: '/week', who: 'freelancer', optional: true, lighthouse: false },
    { name: 'admin users', path: '/admin/users', who: 'admin' },
    { name: 'admin contracts', path: '/admin/contracts', who: 'admin' },
    { name: 'admin contract', path: '/admin/contracts/demo-web', who: 'admin', optional: true },
    { name: 'admin new contract', path: '/admin/contracts/new', who: 'admin', optional: true, lighthouse: false },
    { name: 'admin reports', path: '/admin/reports', who: 'admin' },
    { name: 'reports (admin)', path: '/reports', who: 'admin', optional: true, lighthouse: false },
    { name: 'admin invite', path: '/admin/invite', who: 'admin', optional: true },
    { name: 'API tokens (freelancer)', path: '/settings/tokens', who: 'freelancer', optional: true },
    { name: 'webhooks (admin)', path: '/settings/webhooks', who: 'admin', optional: true },
  ];
}

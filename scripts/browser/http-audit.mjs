// Runs graphql-http's audit of the GraphQL over HTTP specification against
// the endpoint given as the first argument, sending the bearer token in
// $TOKEN with every request, and prints one JSON array: each audit's id,
// name ("MUST ...", "SHOULD ...", "MAY ..."), status (ok, notice, warn or
// error) and, when it did not pass, the reason and the answer's status.
//
// Usage: TOKEN=... node scripts/browser/http-audit.mjs http://127.0.0.1:8080/graphql
import { installed } from './lib.mjs';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: node http-audit.mjs GRAPHQL_URL\n');
  process.exit(2);
}
const { auditServer } = installed('graphql-http');
const token = process.env.TOKEN || '';

// fetchFn adds the token to the audit's own headers.
function fetchFn(input, init = {}) {
  const headers = new Headers(init.headers || {});
  if (token) headers.set('Authorization', 'Bearer ' + token);
  return fetch(input, { ...init, headers });
}

const results = await auditServer({ url, fetchFn });
const report = [];
for (const r of results) {
  const row = { id: r.id, name: r.name, status: r.status };
  if (r.status !== 'ok') {
    row.reason = r.reason;
    if (r.response) {
      row.httpStatus = r.response.status;
      row.body = await r.response.text().catch(() => '');
    }
  }
  report.push(row);
}
process.stdout.write(JSON.stringify(report) + '\n');

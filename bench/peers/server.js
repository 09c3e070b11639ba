// PostGraphile 4 as a library, default options, over the same database as gongzhi, each
// request run as `gongzhi_app` with the district's `app.district_id` (the same row-level
// security as gongzhi's). Usage: node server.js DATABASE_URL PORT DISTRICT_ID
"use strict";
const http = require("http");
const { postgraphile } = require("postgraphile");

const [databaseUrl, port, districtId] = process.argv.slice(2);
const middleware = postgraphile(databaseUrl, "public", {
  pgSettings: () => ({ role: "gongzhi_app", "app.district_id": String(districtId) }),
});
http.createServer(middleware).listen(Number(port), "127.0.0.1", () => {
  console.log(`postgraphile on http://127.0.0.1:${port}/graphql`);
});

// The district dashboard: league tables, watch-list, trends, hotspots and the cases behind a
// figure, built on the public GraphQL API (POST /graphql) and the exports (GET /exports/…).
// The token is pasted once and kept in this tab's session storage; it travels only in the
// Authorization header, never in an address. Every text from the API is set as text, never as
// markup.

const TOKEN_KEY = "gongzhi.dashboard.token";
const ECHARTS = "/dashboard/assets/vendor/echarts/echarts.min.js";

const LEVELS = { STREET: "街道", COMMUNITY: "社区", PARTNER: "合作单位" };
const LEVELS_OF_ROLE = {
  DISTRICT_ADMIN: ["COMMUNITY", "STREET", "PARTNER"],
  STREET_OFFICER: ["COMMUNITY", "STREET", "PARTNER"],
  COMMUNITY_WORKER: ["COMMUNITY", "PARTNER"],
  COMMITTEE_MEMBER: ["COMMUNITY", "PARTNER"],
  PARTNER_STAFF: ["PARTNER"],
};
const ROLES = {
  DISTRICT_ADMIN: "区管理员",
  STREET_OFFICER: "街道工作人员",
  COMMUNITY_WORKER: "社区工作者",
  COMMITTEE_MEMBER: "环境物业委员会委员",
  PARTNER_STAFF: "合作单位工作人员",
  RESIDENT: "居民",
  PLATFORM_OPERATOR: "平台运营",
};
const OVERALL_OF_ROLE = {
  DISTRICT_ADMIN: "全区",
  STREET_OFFICER: "本街道",
  COMMUNITY_WORKER: "本社区",
  COMMITTEE_MEMBER: "本社区",
  PARTNER_STAFF: "本单位",
};
const CATEGORIES = {
  ELEVATOR: "电梯", SANITATION: "环境卫生", HEATING: "供暖", DRAINAGE: "排水",
  PARKING: "停车", GREENING: "绿化", NOISE: "噪声", SECURITY: "治安",
  PROPERTY_SERVICE: "物业服务", FACILITY_REPAIR: "设施维修", MAINTENANCE_FUND: "维修资金",
  WATER_SUPPLY: "供水", POWER_SUPPLY: "供电", GAS_SUPPLY: "燃气", OTHER: "其他",
};
const STATUSES = {
  REPORTED: "已上报", ACCEPTED: "已受理", ASSIGNED: "已派单", RESOLVED: "已解决",
  CONFIRMED: "已确认", CLOSED: "已办结", REJECTED: "已驳回", DUPLICATE: "重复",
  RETURNED: "已退回",
};
const REASONS = { BELOW_THRESHOLD: "低于阈值", LOWEST_SHARE: "排名末位" };
const PLACES = { COMMUNITY: "社区", COMPOUND: "小区", FACILITY: "设施" };
// Each rate: its field, its name, and the figures whose cases it counts (numerator first).
const RATES = [
  { field: "responseRate", name: "响应率", figures: ["RESPONDED", "DISPATCHED"] },
  { field: "resolutionRate", name: "解决率", figures: ["RESOLVED", "ANSWERED"] },
  { field: "satisfactionRate", name: "满意率", figures: ["SATISFIED", "SATISFACTION_ANSWERS"] },
];
const FIGURES = {
  CASES: "案件", RESPONDED: "按时签收（分子）", DISPATCHED: "派单（分母）",
  RESOLVED: "已解决（分子）", ANSWERED: "有回访结果（分母）",
  SATISFIED: "满意及基本满意（分子）", SATISFACTION_ANSWERS: "有满意度评价（分母）",
  REFUSED_RETURNS: "拒收退回",
};

const decimal = new Intl.NumberFormat("zh-CN", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const integer = new Intl.NumberFormat("zh-CN");
const dateTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit",
});

const state = { token: sessionStorage.getItem(TOKEN_KEY), viewer: null, month: null, level: null };

// -- small helpers -------------------------------------------------------------------------

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function percent(value) {
  return value === null || value === undefined ? "—" : `${decimal.format(value)}%`;
}

function score(value) {
  return value === null || value === undefined ? "—" : decimal.format(value);
}

function shiftMonth(month, by) {
  const [year, m] = month.split("-").map(Number);
  const index = year * 12 + (m - 1) + by;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, "0")}`;
}

function lastFullMonth() {
  // The month before the current one, in China time.
  const china = new Date(Date.now() + 8 * 3600 * 1000);
  const current = `${china.getUTCFullYear()}-${String(china.getUTCMonth() + 1).padStart(2, "0")}`;
  return shiftMonth(current, -1);
}

function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  return { page: path || "league", params: new URLSearchParams(query) };
}

class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

async function gql(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${state.token}` },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`服务器返回了无法解析的应答（HTTP ${response.status}）`, "BAD_RESPONSE");
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new ApiError(first.message, first.extensions && first.extensions.code);
  }
  return body.data;
}

function showError(target, error) {
  const code = error.code ? `（${error.code}）` : "";
  target.replaceChildren(el("p", { class: "error", role: "alert", text: `出错了${code}：${error.message}` }));
}

// -- sign-in and who is looking ------------------------------------------------------------

const VIEWER = `{ viewer { anonymous role districtCode district { name }
  street { id name } community { id name } partner { id name } } }`;

function signIn(message) {
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  const token = el("textarea", { id: "token", placeholder: "粘贴您的访问令牌（Bearer token）", autocomplete: "off" });
  const form = el(
    "form", { class: "panel signin", onsubmit: async (event) => {
      event.preventDefault();
      const value = token.value.trim().replace(/^Bearer\s+/i, "");
      if (!value) return;
      state.token = value;
      sessionStorage.setItem(TOKEN_KEY, value);
      await start();
    } },
    el("h2", { text: "登录" }),
    el("p", { class: "muted", text: "令牌只保存在本标签页的会话中，关闭标签页即清除；它不会出现在任何网址里。" }),
    message ? el("p", { class: "error", role: "alert", text: message }) : null,
    token,
    el("p", {}, el("button", { class: "primary", type: "submit", id: "sign-in", text: "进入看板" })),
  );
  document.getElementById("app").replaceChildren(form);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.viewer = null;
  signIn();
}

function refuse(viewer) {
  document.getElementById("nav").hidden = true;
  const role = ROLES[viewer.role] || "匿名访客";
  document.getElementById("app").replaceChildren(
    el("section", { class: "panel refusal", id: "refusal", role: "alert" },
      el("h2", { text: "无权查看统计看板" }),
      el("p", { text: `您的身份是“${role}”。统计看板供区管理员、街道和社区工作人员、环境物业委员会委员及合作单位工作人员使用，按其职责范围显示数据。` }),
      viewer.role === "PLATFORM_OPERATOR"
        ? el("p", { text: "平台运营人员请使用各区的令牌查看某一区的看板。" })
        : el("p", { text: "居民可以在居民端查看和跟进自己反映的问题。" }),
      el("button", { type: "button", onclick: signOut, text: "换一个令牌" }),
    ),
  );
}

async function start() {
  document.getElementById("sign-out").hidden = false;
  let viewer;
  try {
    viewer = (await gql(VIEWER)).viewer;
  } catch (error) {
    if (error.code === "UNAUTHENTICATED" || error.code === "INVALID_TOKEN") {
      sessionStorage.removeItem(TOKEN_KEY);
      state.token = null;
      return signIn(`令牌无效：${error.message}`);
    }
    return showError(document.getElementById("app"), error);
  }
  if (viewer.anonymous || !(viewer.role in LEVELS_OF_ROLE) || !viewer.districtCode) {
    state.viewer = viewer;
    return refuse(viewer);
  }
  state.viewer = viewer;
  state.level = state.level || LEVELS_OF_ROLE[viewer.role][0];
  state.month = state.month || lastFullMonth();
  const scope = viewer.street || viewer.community || viewer.partner;
  document.getElementById("who").textContent =
    `${viewer.district ? viewer.district.name : viewer.districtCode} · ${ROLES[viewer.role]}` +
    (scope ? ` · ${scope.name}` : "");
  document.getElementById("nav").hidden = false;
  render();
}

// -- the month, level and export controls shared by the pages ------------------------------

function controls(onChange, { exports = null, levels = true } = {}) {
  const month = el("input", { type: "month", id: "month", value: state.month, max: lastFullMonth() });
  month.addEventListener("change", () => {
    if (month.value) {
      state.month = month.value;
      onChange();
    }
  });
  const parts = [el("label", {}, "月份", month)];
  if (levels) {
    const level = el("select", { id: "level" },
      LEVELS_OF_ROLE[state.viewer.role].map((code) =>
        el("option", { value: code, selected: code === state.level, text: LEVELS[code] })));
    level.addEventListener("change", () => {
      state.level = level.value;
      onChange();
    });
    parts.push(el("label", {}, "对象", level));
  }
  parts.push(el("span", { class: "spacer" }));
  if (exports) {
    for (const format of ["csv", "xlsx"]) {
      parts.push(el("button", {
        type: "button", id: `export-${format}`, text: `导出 ${format.toUpperCase()}`,
        onclick: () => download(`/exports/${exports}.${format}?` + new URLSearchParams({
          month: state.month, level: state.level,
        })),
      }));
    }
  }
  return el("div", { class: "controls" }, parts);
}

async function download(address) {
  // With the Authorization header, so the token stays out of the address.
  const response = await fetch(address, { headers: { Authorization: `Bearer ${state.token}` } });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      const body = await response.json();
      message = body.errors[0].message;
    } catch { /* not JSON: the status says it */ }
    alert(`导出失败：${message}`);
    return;
  }
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const named = /filename\*=UTF-8''([^;]+)/i.exec(disposition) || /filename="?([^";]+)"?/i.exec(disposition);
  const link = el("a", {
    href: URL.createObjectURL(blob),
    download: named ? decodeURIComponent(named[1]) : address.split("/").pop().split("?")[0],
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// -- a sortable table ------------------------------------------------------------------------

function sortableTable(columns, rows, { id, rowAttributes = () => ({}), initial = null }) {
  let sortBy = initial;
  let descending = false;
  const body = el("tbody");
  const head = el("tr");
  const table = el("table", { id }, el("thead", {}, head), body);
  function draw() {
    const sorted = [...rows];
    if (sortBy !== null) {
      const column = columns[sortBy];
      sorted.sort((a, b) => {
        const x = column.sort(a);
        const y = column.sort(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1; // nothing to compare: last either way
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * (descending ? -1 : 1);
      });
    }
    body.replaceChildren(...sorted.map((row) =>
      el("tr", rowAttributes(row), columns.map((column) =>
        el("td", { class: column.number ? "number" : null, "data-field": column.key }, column.cell(row))))));
    head.replaceChildren(...columns.map((column, index) => {
      const classes = [column.number ? "number" : "", column.sort ? "sortable" : ""];
      if (index === sortBy) classes.push(descending ? "sorted-desc" : "sorted-asc");
      return el("th", {
        class: classes.join(" ").trim() || null, "data-field": column.key, scope: "col",
        text: column.title,
        onclick: column.sort ? () => {
          descending = sortBy === index ? !descending : column.descending === true;
          sortBy = index;
          draw();
        } : null,
      });
    }));
  }
  draw();
  return table;
}

// -- the league table ------------------------------------------------------------------------

const RATE_FIELDS = "value numerator denominator sampleSize";
const LEAGUE = `query League($month: String!, $level: AssessmentLevel!) {
  statistics { assessment(month: $month, level: $level) {
    month level minimumSample weights { response resolution satisfaction }
    entries { rank belowMinimumSample entryId name cases score refusedReturns previousRank movement
      responseRate { ${RATE_FIELDS} } resolutionRate { ${RATE_FIELDS} }
      satisfactionRate { ${RATE_FIELDS} } } } } }`;

function casesLink(entry, figures, text) {
  // The cases a figure counts: the last of `figures` first (a rate's denominator).
  return el("a", {
    class: "rate", "data-figure": figures[figures.length - 1],
    href: "#/cases?" + new URLSearchParams({
      month: state.month, level: state.level, entry: entry.entryId, name: entry.name,
      figures: figures.join(","), figure: figures[figures.length - 1],
    }),
    text,
  });
}

function rateCell(entry, rate) {
  const figure = entry[rate.field];
  return [
    casesLink(entry, rate.figures, percent(figure.value)),
    el("span", { class: "sample", text: `${integer.format(figure.numerator)} / ${integer.format(figure.denominator)}` }),
  ];
}

function trendLink(entry) {
  return el("a", { href: "#/trend?" + new URLSearchParams({ entry: entry.entryId }), title: "查看近 12 个月趋势", text: entry.name });
}

function movementCell(entry) {
  if (entry.movement === null || entry.movement === undefined) return el("span", { class: "muted", text: "—" });
  if (entry.movement > 0) return el("span", { class: "up", text: `↑${entry.movement}` });
  if (entry.movement < 0) return el("span", { class: "down", text: `↓${-entry.movement}` });
  return el("span", { text: "持平" });
}

async function leaguePage(target) {
  const table = el("div", { class: "loading", text: "加载中…" });
  const reload = () => leaguePage(target);
  target.replaceChildren(el("section", { class: "panel", id: "league" },
    el("h2", { text: `月度排行（三率）· ${LEVELS[state.level]} · ${state.month}` }),
    controls(reload, { exports: "assessment" }), table));
  let data;
  try {
    data = (await gql(LEAGUE, { month: state.month, level: state.level })).statistics.assessment;
  } catch (error) {
    return showError(table, error);
  }
  const w = data.weights;
  const columns = [
    { key: "rank", title: "排名", number: true, sort: (e) => e.rank, cell: (e) => (e.rank === null ? "—" : integer.format(e.rank)) },
    { key: "name", title: "名称", sort: (e) => e.name, cell: (e) => [trendLink(e), e.belowMinimumSample ? el("span", { class: "tag below", text: "样本不足" }) : null] },
    { key: "cases", title: "案件数", number: true, descending: true, sort: (e) => e.cases, cell: (e) => casesLink(e, ["CASES"], integer.format(e.cases)) },
    { key: "score", title: "综合得分", number: true, descending: true, sort: (e) => e.score, cell: (e) => score(e.score) },
    ...RATES.map((rate) => ({
      key: rate.field, title: rate.name, number: true, descending: true,
      sort: (e) => e[rate.field].value, cell: (e) => rateCell(e, rate),
    })),
    { key: "refusedReturns", title: "拒收退回", number: true, descending: true, sort: (e) => e.refusedReturns, cell: (e) => casesLink(e, ["REFUSED_RETURNS"], integer.format(e.refusedReturns)) },
    { key: "movement", title: "较上月", number: true, descending: true, sort: (e) => e.movement, cell: movementCell },
  ];
  table.className = "";
  table.replaceChildren(
    el("p", { class: "muted", text: `权重：响应率 ${w.response}% · 解决率 ${w.resolution}% · 满意率 ${w.satisfaction}%；案件少于 ${data.minimumSample} 件的不参与排名（标“样本不足”）。点击比率查看其统计的案件。` }),
    data.entries.length
      ? sortableTable(columns, data.entries, {
        id: "league-table",
        rowAttributes: (e) => ({ "data-entry-id": e.entryId, class: e.belowMinimumSample ? "below-minimum" : null }),
      })
      : el("p", { class: "muted", id: "league-empty", text: "本月没有可排名的数据。" }),
  );
}

// -- the watch-list --------------------------------------------------------------------------

const WATCH = `query Watch($month: String!, $level: AssessmentLevel!) {
  statistics { watchList(month: $month, level: $level) {
    month threshold lowestShare entries { entryId name rank score reasons consecutiveMonths } } } }`;

async function watchPage(target) {
  const table = el("div", { class: "loading", text: "加载中…" });
  target.replaceChildren(el("section", { class: "panel", id: "watch" },
    el("h2", { text: `关注名单（治理类）· ${LEVELS[state.level]} · ${state.month}` }),
    controls(() => watchPage(target), { exports: "watch-list" }), table));
  let data;
  try {
    data = (await gql(WATCH, { month: state.month, level: state.level })).statistics.watchList;
  } catch (error) {
    return showError(table, error);
  }
  const rule = data.threshold === null
    ? `排名末位 ${decimal.format(data.lowestShare * 100)}% 的对象`
    : `得分低于 ${decimal.format(data.threshold)} 或排名末位 ${decimal.format(data.lowestShare * 100)}% 的对象`;
  const columns = [
    { key: "rank", title: "排名", number: true, sort: (e) => e.rank, cell: (e) => (e.rank === null ? "—" : integer.format(e.rank)) },
    { key: "name", title: "名称", sort: (e) => e.name, cell: trendLink },
    { key: "score", title: "综合得分", number: true, sort: (e) => e.score, cell: (e) => score(e.score) },
    { key: "reasons", title: "原因", cell: (e) => e.reasons.map((r) => el("span", { class: "tag reason", text: REASONS[r] || r })) },
    { key: "consecutiveMonths", title: "连续上榜（月）", number: true, descending: true, sort: (e) => e.consecutiveMonths, cell: (e) => integer.format(e.consecutiveMonths) },
  ];
  table.className = "";
  table.replaceChildren(
    el("p", { class: "muted", text: `列入：${rule}。` }),
    data.entries.length
      ? sortableTable(columns, data.entries, { id: "watch-table", rowAttributes: (e) => ({ "data-entry-id": e.entryId }) })
      : el("p", { class: "muted", id: "watch-empty", text: "本月没有对象列入关注名单。" }),
  );
}

// -- the trend of one entry against everything the role covers -----------------------------

let echartsLoading = null;

function loadECharts() {
  // 1 MB of script: loaded when a chart is first drawn, not with the first view.
  if (window.echarts) return Promise.resolve(window.echarts);
  echartsLoading = echartsLoading || new Promise((resolve, reject) => {
    const script = el("script", { src: ECHARTS });
    script.onload = () => resolve(window.echarts);
    script.onerror = () => reject(new Error("图表组件加载失败"));
    document.head.append(script);
  });
  return echartsLoading;
}

const TREND_FIELDS = `cases score responseRate { value } resolutionRate { value } satisfactionRate { value }`;

function trendQuery(months) {
  // One request: each month under its own alias, the entry alone and everything beside it.
  const parts = months.map((_, i) => `m${i}: assessment(month: $m${i}, level: $level, entry: $entry) {
    overall { ${TREND_FIELDS} } entries { entryId name ${TREND_FIELDS} } }`);
  const variables = months.map((_, i) => `$m${i}: String!`).join(", ");
  return `query Trend($level: AssessmentLevel!, $entry: ID, ${variables}) { statistics { ${parts.join("\n")} } }`;
}

async function trendPage(target) {
  const { params } = route();
  const body = el("div", { class: "loading", text: "加载中…" });
  target.replaceChildren(el("section", { class: "panel", id: "trend" },
    el("h2", { text: `近 12 个月趋势 · ${LEVELS[state.level]}` }),
    controls(() => trendPage(target)), body));
  let entries;
  try {
    entries = (await gql(LEAGUE, { month: state.month, level: state.level })).statistics.assessment.entries;
  } catch (error) {
    return showError(body, error);
  }
  if (!entries.length) {
    body.className = "muted";
    body.textContent = "本月没有数据，请换一个月份。";
    return;
  }
  const chosen = entries.some((e) => e.entryId === params.get("entry")) ? params.get("entry") : entries[0].entryId;
  const picker = el("select", { id: "trend-entry", "aria-label": `选择${LEVELS[state.level]}` },
    entries.map((e) => el("option", { value: e.entryId, selected: e.entryId === chosen, text: e.name })));
  picker.addEventListener("change", () => {
    location.hash = "#/trend?" + new URLSearchParams({ entry: picker.value });
  });
  const chart = el("div", { class: "chart", id: "trend-chart" });
  body.className = "";
  body.replaceChildren(el("div", { class: "controls" }, el("label", {}, `选择${LEVELS[state.level]}`, picker)), chart);
  const months = Array.from({ length: 12 }, (_, i) => shiftMonth(state.month, i - 11));
  let data;
  let echarts;
  try {
    [data, echarts] = await Promise.all([
      gql(trendQuery(months), {
        level: state.level, entry: chosen, ...Object.fromEntries(months.map((m, i) => [`m${i}`, m])),
      }),
      loadECharts(),
    ]);
  } catch (error) {
    return showError(chart, error);
  }
  const name = entries.find((e) => e.entryId === chosen).name;
  const overallName = OVERALL_OF_ROLE[state.viewer.role];
  const pick = (which, field) => months.map((_, i) => {
    const month = data.statistics[`m${i}`];
    const row = which === "entry" ? month.entries[0] : month.overall;
    if (!row) return null;
    const value = field === "score" ? row.score : row[field].value;
    return value === null ? null : Math.round(value * 10) / 10;
  });
  // One colour a figure: the entry's line solid, the whole's dashed.
  const figures = [["score", "综合得分", "#b42318"], ["responseRate", "响应率", "#1f6feb"],
    ["resolutionRate", "解决率", "#027a48"], ["satisfactionRate", "满意率", "#8250df"]];
  const series = [];
  for (const [field, label, color] of figures) {
    series.push({ name: `${name} ${label}`, type: "line", color, data: pick("entry", field) });
    series.push({
      name: `${overallName} ${label}`, type: "line", color, data: pick("overall", field),
      lineStyle: { type: "dashed" }, symbol: "emptyTriangle",
    });
  }
  const plot = echarts.init(chart, null, { locale: "ZH", renderer: "canvas" });
  plot.setOption({
    animation: false,
    tooltip: { trigger: "axis", valueFormatter: (v) => (v === null || v === undefined ? "—" : decimal.format(v)) },
    legend: { type: "scroll", top: 0 },
    grid: { top: 60, left: 50, right: 20, bottom: 30 },
    xAxis: { type: "category", data: months },
    yAxis: { type: "value", min: 0, max: 100, name: "分 / %" },
    series,
  });
  chart.dataset.drawn = "true";
}

// -- hotspots (每月一题) --------------------------------------------------------------------

const HOTSPOTS = `query Hotspots($month: String!, $place: HotspotPlace!) {
  statistics { hotspots(month: $month, place: $place) { month place
    byCount { category placeId placeName cases previousMean growth growthRate }
    byGrowth { category placeId placeName cases previousMean growth growthRate }
    repeatedFacilities { facilityId name cases firstReportedAt lastReportedAt } } } }`;

async function hotspotsPage(target) {
  const { params } = route();
  const place = params.get("place") in PLACES ? params.get("place") : "COMMUNITY";
  const body = el("div", { class: "loading", text: "加载中…" });
  const picker = el("select", { id: "hotspot-place" },
    Object.entries(PLACES).map(([code, label]) => el("option", { value: code, selected: code === place, text: label })));
  picker.addEventListener("change", () => {
    location.hash = "#/hotspots?" + new URLSearchParams({ place: picker.value });
  });
  const bar = controls(() => hotspotsPage(target), { levels: false });
  bar.prepend(el("label", {}, "地点", picker));
  target.replaceChildren(el("section", { class: "panel", id: "hotspots" },
    el("h2", { text: `热点（每月一题）· ${state.month}` }), bar, body));
  let data;
  try {
    data = (await gql(HOTSPOTS, { month: state.month, place })).statistics.hotspots;
  } catch (error) {
    return showError(body, error);
  }
  const columns = [
    { key: "category", title: "类别", sort: (h) => CATEGORIES[h.category] || h.category, cell: (h) => CATEGORIES[h.category] || h.category },
    { key: "placeName", title: PLACES[place], sort: (h) => h.placeName, cell: (h) => h.placeName },
    { key: "cases", title: "本月案件", number: true, descending: true, sort: (h) => h.cases, cell: (h) => integer.format(h.cases) },
    { key: "previousMean", title: "前三月均值", number: true, descending: true, sort: (h) => h.previousMean, cell: (h) => decimal.format(h.previousMean) },
    { key: "growth", title: "增量", number: true, descending: true, sort: (h) => h.growth, cell: (h) => decimal.format(h.growth) },
    { key: "growthRate", title: "增长率", number: true, descending: true, sort: (h) => h.growthRate, cell: (h) => (h.growthRate === null ? "新增" : `${decimal.format(h.growthRate * 100)}%`) },
  ];
  const repeated = [
    { key: "name", title: "设施", sort: (f) => f.name, cell: (f) => f.name },
    { key: "cases", title: "案件数", number: true, descending: true, sort: (f) => f.cases, cell: (f) => integer.format(f.cases) },
    { key: "firstReportedAt", title: "首次反映", sort: (f) => f.firstReportedAt, cell: (f) => dateTime.format(new Date(f.firstReportedAt)) },
    { key: "lastReportedAt", title: "最近反映", sort: (f) => f.lastReportedAt, cell: (f) => dateTime.format(new Date(f.lastReportedAt)) },
  ];
  const section = (title, rows, cols, id) => [
    el("h2", { text: title }),
    rows.length ? sortableTable(cols, rows, { id }) : el("p", { class: "muted", text: "无。" }),
  ];
  body.className = "";
  body.replaceChildren(
    ...section("按案件数", data.byCount, columns, "hotspots-count"),
    ...section("按增长（较前三个月均值）", data.byGrowth, columns, "hotspots-growth"),
    ...section("反复反映的设施", data.repeatedFacilities, repeated, "hotspots-repeated"),
  );
}

// -- the cases behind a figure ---------------------------------------------------------------

const CASES = `query Cases($month: String!, $level: AssessmentLevel!, $entry: ID!, $figure: AssessmentFigure!) {
  statistics { assessmentCases(month: $month, level: $level, entry: $entry, figure: $figure, first: 100) {
    totalCount nodes { id title category status createdAt community { name } } } } }`;

async function casesPage(target) {
  const { params } = route();
  const month = params.get("month") || state.month;
  const level = params.get("level") || state.level;
  const figures = (params.get("figures") || params.get("figure") || "CASES").split(",");
  const figure = params.get("figure") || figures[0];
  const body = el("div", { class: "loading", text: "加载中…" });
  const tabs = el("div", { class: "tabs" }, figures.map((code) => el("button", {
    type: "button", class: code === figure ? "current" : null, "data-figure": code,
    text: FIGURES[code] || code,
    onclick: () => {
      params.set("figure", code);
      location.hash = "#/cases?" + params;
    },
  })));
  target.replaceChildren(el("section", { class: "panel", id: "cases" },
    el("h2", { text: `${params.get("name") || ""} · ${month} · ${FIGURES[figure] || figure}` }),
    el("p", {}, el("a", { href: "#/league", text: "← 返回排行榜" })), tabs, body));
  let data;
  try {
    data = (await gql(CASES, { month, level, entry: params.get("entry"), figure })).statistics.assessmentCases;
  } catch (error) {
    return showError(body, error);
  }
  const columns = [
    { key: "title", title: "标题", sort: (c) => c.title, cell: (c) => c.title },
    { key: "category", title: "类别", sort: (c) => CATEGORIES[c.category] || c.category, cell: (c) => CATEGORIES[c.category] || c.category },
    { key: "community", title: "社区", sort: (c) => c.community.name, cell: (c) => c.community.name },
    { key: "status", title: "状态", sort: (c) => c.status, cell: (c) => STATUSES[c.status] || c.status },
    { key: "createdAt", title: "上报时间", sort: (c) => c.createdAt, cell: (c) => dateTime.format(new Date(c.createdAt)) },
  ];
  body.className = "";
  body.replaceChildren(
    el("p", { class: "muted", id: "cases-count", text: `共 ${integer.format(data.totalCount)} 件${data.totalCount > data.nodes.length ? `，显示最新 ${data.nodes.length} 件` : ""}。` }),
    data.nodes.length
      ? sortableTable(columns, data.nodes, { id: "cases-table", rowAttributes: (c) => ({ "data-case-id": c.id }) })
      : el("p", { class: "muted", text: "没有案件。" }),
  );
}

// -- routing ---------------------------------------------------------------------------------

const PAGES = { league: leaguePage, watch: watchPage, trend: trendPage, hotspots: hotspotsPage, cases: casesPage };

let renders = 0;

function render() {
  if (!state.viewer || !(state.viewer.role in LEVELS_OF_ROLE)) return;
  // A page left before its data came writes into its own detached section; only the latest
  // marks the page ready.
  const ticket = ++renders;
  const { page } = route();
  const show = PAGES[page] || leaguePage;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("current", link.dataset.page === page || (page === "cases" && link.dataset.page === "league"));
  }
  const app = document.getElementById("app");
  delete app.dataset.ready;
  app.dataset.page = page in PAGES ? page : "league";
  show(app).then(() => {
    if (ticket !== renders) return;
    app.dataset.ready = app.dataset.page;
    if (!window.firstViewMs) window.firstViewMs = performance.now();
  });
}

window.addEventListener("hashchange", render);
document.getElementById("sign-out").addEventListener("click", signOut);
if (state.token) start();
else signIn();

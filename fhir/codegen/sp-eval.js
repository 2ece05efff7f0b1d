#!/usr/bin/env node
// Evaluates every R4 SearchParameter that applies to one resource with fhirpath.js (the HL7 reference FHIRPath engine).
// Needs `npm install fhirpath@5.2.2` in the working folder (or NODE_PATH pointing at its node_modules).
// Usage: node sp-eval.js Bundle-searchParams.json resource.json [search-param-code]  -> JSON {code: {type, values}}
//        node sp-eval.js Bundle-searchParams.json --batch LIST  -> one line {"file", "result"} per path in LIST
// (Hearth's copy of ../shared/tools/sp-eval.js. The --batch mode avoids a node start per file, and when a
// parameter fails it evaluates it once more with `as` rewritten to `ofType` (fhirpath.js rejects `as` on
// collections of several items) and `%resource` set for composite components, marking it "rewritten".)
const fs = require("fs"), path = require("path");
const fhirpath = require("fhirpath"), r4 = require("fhirpath/fhir-context/r4");
const { ResourceNode } = require(path.join(path.dirname(require.resolve("fhirpath")), "types.js"));
const [, , spFile, resFile, onlyCode] = process.argv;
const all = JSON.parse(fs.readFileSync(spFile)).entry.map(e => e.resource);
const byUrl = new Map(all.map(s => [s.url, s]));
const userInvocationTable = { resolve: { arity: { 0: [] }, fn: function (inputs) {
  const ctx = this;
  return inputs.map(r => { const v = r && r.data !== undefined ? r.data : r;
    const ref = typeof v === "string" ? v : v && v.reference;
    const m = ref && /([A-Z][A-Za-z]+)\/([^\/]+?)(\/_history\/[^\/]+)?$/.exec(ref);
    return m ? ResourceNode.makeResNode(ctx, { resourceType: m[1], id: m[2] }, null, m[1], null, m[1]) : null;
  }).filter(Boolean); } } };
const ev = (node, expr) => fhirpath.evaluate(node, expr, null, r4, { userInvocationTable });
const asToOfType = e => e.replace(/\.as\(/g, ".ofType(").replace(/\(([A-Za-z][\w.]*) as ([A-Za-z]+)\)/g, "($1.ofType($2))");
function evalOne(res, sp, rewrite) {
  const x = rewrite ? asToOfType : e => e, env = rewrite ? { resource: res } : undefined;
  if (sp.type !== "composite") return ev(res, x(sp.expression));
  const roots = fhirpath.evaluate(res, x(sp.expression), null, r4, { resolveInternalTypes: false, userInvocationTable });
  return roots.map(root => sp.component.map(c => ({ [byUrl.get(c.definition)?.code || c.definition]:
    fhirpath.evaluate(root, x(c.expression), env, r4, { userInvocationTable }) })))
    .filter(t => t.every(c => Object.values(c)[0].length));
}
function evalAll(res, onlyCode, retry) {
  const sps = all.filter(s => s.expression && (s.base.includes(res.resourceType) || s.base.includes("Resource") ||
    s.base.includes("DomainResource"))).filter(s => !onlyCode || s.code === onlyCode);
  const result = {};
  for (const sp of sps) {
    let out;
    try {
      if (sp.type === "composite") {
        const roots = fhirpath.evaluate(res, sp.expression, null, r4, { resolveInternalTypes: false, userInvocationTable });
        out = roots.map(root => sp.component.map(c => ({ [byUrl.get(c.definition)?.code || c.definition]: ev(root, c.expression) })))
          .filter(t => t.every(c => Object.values(c)[0].length));
      } else out = ev(res, sp.expression);
    } catch (e) { out = "ERROR: " + e.message; }
    if (retry && typeof out === "string") {
      try { result[sp.code] = { type: sp.type, values: evalOne(res, sp, true), rewritten: true }; }
      catch (e) { result[sp.code] = { type: sp.type, values: out }; }
      continue;
    }
    if (Array.isArray(out) && out.length === 0) continue;
    result[sp.code] = { type: sp.type, values: out };
  }
  return result;
}
if (resFile === "--batch") {
  for (const file of fs.readFileSync(onlyCode, "utf8").split("\n").filter(Boolean)) {
    const res = JSON.parse(fs.readFileSync(file));
    process.stdout.write(JSON.stringify({ file: path.basename(file), result: evalAll(res, undefined, true) }) + "\n");
  }
} else {
  console.log(JSON.stringify(evalAll(JSON.parse(fs.readFileSync(resFile)), onlyCode), null, 1));
}

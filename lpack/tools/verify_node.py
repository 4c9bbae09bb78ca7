"""The Node.js side of `lpack verify`: find a `node` of the runtime's major version and the child script."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from lpack import runtimes

# Runs inside `node`. Like Lambda's Node.js runtime: the handler "dir/file.fn" names file.js, .mjs or .cjs
# under the task root and the export `fn`; import() loads CommonJS and ES modules alike. An async handler
# returns a promise; an older one calls back. The outcome goes to a file, as in the Python child.
CHILD = r"""
const fs = require("fs"), path = require("path"), { pathToFileURL } = require("url");
const [outPath, handler, eventPath, task] = process.argv.slice(1);
const report = (data) => fs.writeFileSync(outPath, JSON.stringify(data));
const failed = (phase, err, extra) => report({ phase, error: (err && (err.code || err.name)) || "Error",
  message: String(err && err.message || err), traceback: String(err && err.stack || ""),
  module: (/Cannot find (?:module|package) '([^']+)'/.exec(String(err && err.message)) || [])[1] || null, ...extra });
const slash = handler.lastIndexOf("/"), dot = handler.indexOf(".", slash + 1);
const file = handler.slice(0, dot), fnName = handler.slice(dot + 1);
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
  logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME, awsRequestId: require("crypto").randomUUID(),
  invokedFunctionArn: ["arn:aws:lambda", process.env.AWS_REGION, "123456789012", "function",
                       process.env.AWS_LAMBDA_FUNCTION_NAME].join(":"),
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
let deadline = Date.now() + 3000;
(async () => {
  const found = [".js", ".mjs", ".cjs"].map((ext) => path.join(task, file + ext)).find((p) => fs.existsSync(p));
  const start = process.hrtime.bigint();
  let fn;
  try {
    if (!found) throw Object.assign(new Error(`Cannot find module '${file}'`), { code: "MODULE_NOT_FOUND" });
    const mod = await import(pathToFileURL(found).href);
    const exported = mod[fnName.split(".")[0]] !== undefined ? mod : mod.default || {};
    fn = fnName.split(".").reduce((o, k) => (o == null ? o : o[k]), exported);
    if (typeof fn !== "function") {
      throw Object.assign(new Error(`${handler} is undefined or not exported`), { code: "HandlerNotFound" });
    }
  } catch (err) { failed("init", err, {}); return; }
  const initMs = Number(process.hrtime.bigint() - start) / 1e6;
  if (!eventPath) { report({ phase: "done", init_ms: initMs }); return; }
  const event = JSON.parse(fs.readFileSync(eventPath, "utf8"));
  const begin = process.hrtime.bigint();
  deadline = Date.now() + 3000;
  try {
    const result = await new Promise((resolve, reject) => {
      const answer = fn(event, context, (err, value) => (err ? reject(err) : resolve(value)));
      if (answer && typeof answer.then === "function") answer.then(resolve, reject);
      else if (fn.length < 3) resolve(answer);
    });
    report({ phase: "done", init_ms: initMs, invoke_ms: Number(process.hrtime.bigint() - begin) / 1e6,
             result: JSON.stringify(result === undefined ? null : result) });
  } catch (err) { failed("invoke", err, { init_ms: initMs }); }
})();
"""


def find_node(major: int) -> str | None:
    """A `node` (or `nodeNN`) on PATH whose major version is `major`."""
    for name in (f"node{major}", "node"):
        path = shutil.which(name)
        if path and _major(path) == major:
            return path
    return None


def _major(node: str) -> int | None:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    head = out.strip().lstrip("v").split(".")[0]
    return int(head) if head.isdigit() else None


def command(node: str, out: Path, handler: str, event_file: Path | None, task: Path) -> list[str]:
    event = str(event_file) if event_file else ""
    return [node, "-e", CHILD, str(out), handler, event, str(task)]


def node_runtime(artifact: Path, handler: str | None) -> runtimes.Runtime | None:
    """The Node.js runtime to verify a zip with when none is given, or None when it is not a Node.js zip.

    A Node.js zip has package.json, node_modules/ or the handler's .js/.mjs/.cjs file. A zip does not say
    which nodejsNN.x it was built for, so: the newest one whose `node` is on PATH, else the newest supported one.
    """
    try:
        with zipfile.ZipFile(artifact) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return None
    stem = handler.rpartition(".")[0] if handler and "." in handler else None
    code = {f"{stem}{ext}" for ext in (".js", ".mjs", ".cjs")} if stem else set()
    if not ("package.json" in names or any(n.startswith("node_modules/") for n in names) or names & code):
        return None
    node = [r for r in runtimes.RUNTIMES.values() if r.language == "node"]  # newest first
    here = [r for r in node if r.version is not None and find_node(r.version[0]) is not None]
    found = here or [r for r in node if r.deprecated is None]
    return found[0] if found else None

"""`lpack verify`: import (and optionally invoke) the handler from the built artifact, as Lambda would.

The artifact and its layers are unpacked into a read-only tree laid out like /var/task and /opt, and an
interpreter of the runtime's version runs in isolation (`-I -S`: no environment, no site-packages of this
machine, so a module the pruner removed cannot be found elsewhere) with Lambda's sys.path order and
environment variables. The import is timed: that is the init phase of a cold start.
"""

from __future__ import annotations

import json
import platform
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

from lpack import runtimes
from lpack.bytecode import find_interpreter
from lpack.config.model import BuildConfig
from lpack.errors import ConfigError, LpackError, NoInterpreterError, VerifyError
from lpack.oci import ImageInfo
from lpack.pipeline.build import BuildResult
from lpack.runtimes import Runtime
from lpack.tools import verify_arch
from lpack.tools import verify_node as _verify_node
from lpack.tools.inspect import detected_runtime, inspect_artifact
from lpack.tools.reports import ReportedTarget, reported_target, runtime_named
from lpack.tools.sandbox import NONE, Isolation, network_isolation
from lpack.tools.verify_env import env_warnings, lambda_env, sys_path
from lpack.tools.verify_tree import unpack_image, unpack_zips, writable

# Lambda stops an on-demand init phase after 10 s and retries it inside the first invoke [lambda-runtime-
# environment.html "Init phase"]: an import that slow is worth a warning.
INIT_LIMIT_MS = 10_000
_CHILD_TIMEOUT_S = 300

# Runs inside the target interpreter. Lambda's Python bootstrap imports the handler module (init), then
# calls handler(event, context) per invoke; sys.path is the task root, then the layer paths.
_CHILD = r"""
import importlib, json, os, sys, time, traceback, uuid
out_path, handler, event_path, paths = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sys.path[:0] = paths

def report(data):
    with open(out_path, "w") as fh:
        json.dump(data, fh)

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
    memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
    log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
    log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
    invoked_function_arn = "arn:aws:lambda:%s:123456789012:function:%s" % (os.environ["AWS_REGION"], function_name)
    aws_request_id = str(uuid.uuid4())
    client_context = identity = None
    _deadline = time.monotonic() + 3.0  # Lambda's default timeout
    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))

module_name, _, func_name = handler.rpartition(".")
start = time.perf_counter()
try:
    func = getattr(importlib.import_module(module_name.replace("/", ".")), func_name)
except BaseException as err:
    report({"phase": "init", "error": type(err).__name__, "message": str(err),
            "module": getattr(err, "name", None), "traceback": traceback.format_exc()})
    sys.exit(0)
init_ms = (time.perf_counter() - start) * 1000
if not event_path:
    report({"phase": "done", "init_ms": init_ms})
    sys.exit(0)
with open(event_path) as fh:
    event = json.load(fh)
start = time.perf_counter()
try:
    result = json.dumps(func(event, Context()))
except BaseException as err:
    report({"phase": "invoke", "init_ms": init_ms, "error": type(err).__name__, "message": str(err),
            "module": getattr(err, "name", None), "traceback": traceback.format_exc()})
    sys.exit(0)
report({"phase": "done", "init_ms": init_ms, "invoke_ms": (time.perf_counter() - start) * 1000,
        "result": result})
"""


# What a handler may return: Lambda serializes it to JSON, and verify decodes it back.
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyResult:
    artifact: Path
    runtime: str
    interpreter: str
    handler: str
    init_ms: float  # importing the handler module: the cold start's init phase, on this machine
    invoked: bool
    invoke_ms: float | None
    result: JsonValue  # the handler's return value, decoded from JSON; None when not invoked
    output: str  # what the handler printed
    warnings: tuple[str, ...]
    isolation: str = "none"  # how the handler was kept off the network: "bwrap", "unshare" or "none"
    # "partial": native code for another architecture could not load here, so only the pure-Python part ran
    status: Literal["verified", "partial"] = "verified"


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildVerification:
    """`lpack build --verify`: the functions verified, in order, up to the first that failed."""

    checked: tuple[VerifyResult, ...]
    failure: LpackError | None  # why the last one failed or could not run; None when all passed


def detect_runtime(artifact: Path) -> Runtime | None:
    """The Python runtime the artifact was built for, from its bytecode or extension module tags."""
    return detected_runtime(inspect_artifact(artifact))


def verify_build(config: BuildConfig, result: BuildResult) -> BuildVerification:
    """Verify every Python or Node.js function `result` built, with its layers; stop at the first failure.

    An image function is verified from its own layers (the base's runtime is not there, as for a zip).
    """
    checked: list[VerifyResult] = []
    built = {fn.name: fn.artifact for fn in result.functions}
    for fn in config.functions:
        if fn.kind == "prebuilt" or fn.runtime.language not in ("python", "node"):
            continue  # a custom runtime's bootstrap is a program of its own: nothing to import
        artifact = built[fn.name]
        try:
            found = verify(
                artifact.path,
                handler=fn.handler,
                runtime=fn.runtime,
                layers=[built[name].path for name in fn.layers],
                python=fn.python,
                image=artifact.image,
                env=dict(fn.environment),
            )
        except LpackError as err:
            failure = err.prefixed(f"verify {fn.name}") if len(config.functions) > 1 else err
            return BuildVerification(checked=tuple(checked), failure=failure)
        checked.append(found)
    return BuildVerification(checked=tuple(checked), failure=None)


def verify_artifact(
    artifact: Path,
    *,
    handler: str | None = None,
    runtime_name: str | None = None,
    report: Path | None = None,
    layers: Sequence[Path] = (),
    event: str | None = None,
    python: Path | None = None,
    network: bool = False,
    env: Mapping[str, str] | None = None,
) -> VerifyResult:
    """`lpack verify`: what is not given comes from the build `report`, else the zip's bytecode tags.

    The handler is the artifact's code, run here: without `network` it runs in a network namespace where
    the system offers one (VerifyResult.isolation says which). `env` (from verify_env.user_env) is set for
    the handler on top of the variables Lambda defines.
    """
    _require_zip(artifact)
    from_report = reported_target(report, artifact) if report else ReportedTarget()
    name = runtime_name or from_report.runtime
    handler = handler or from_report.handler
    runtime = runtime_named(name) if name else detect_runtime(artifact) or _verify_node.node_runtime(artifact, handler)
    if runtime is None:
        raise ConfigError(
            f"{artifact.name}: cannot tell which runtime it is for (no single python3.X bytecode tag)",
            hint="pass --runtime python3.X or --report with lpack's build report",
        )
    if not handler:
        raise ConfigError("which handler? pass --handler module.function", hint="or --report with the build report")
    return verify(
        artifact, handler=handler, runtime=runtime, layers=layers, event=event, python=python, network=network, env=env
    )


def _require_zip(artifact: Path) -> None:
    if artifact.is_dir():
        raise ConfigError(
            f"{artifact}: a directory (an OCI image layout?), not a zip: verify is not supported for images",
            hint="`lpack build --verify` verifies an image function from its own layers",
        )


def verify(
    artifact: Path,
    *,
    handler: str,
    runtime: Runtime,
    layers: Sequence[Path] = (),
    event: str | None = None,
    python: Path | None = None,
    function_name: str | None = None,
    image: ImageInfo | None = None,
    network: bool = False,
    env: Mapping[str, str] | None = None,
) -> VerifyResult:
    """Import `handler` from `artifact` (plus `layers`) with `runtime`'s interpreter; invoke it with `event`.

    `event` is JSON text. With `image`, `artifact` is the OCI layout the build wrote and the function's own
    layers are its task root. Raises NoInterpreterError when no interpreter of the runtime's version is here,
    VerifyError when the handler does not import or raises.
    """
    zips = [*layers, *(() if image else (artifact,))]
    for path in zips:
        _require_zip(path)
    foreign = verify_arch.foreign_code(zips)
    launcher = _emulator(runtime, python, foreign)  # [qemu, python] for an interpreter of the artifact's machine
    interpreter = launcher.pop() if launcher else _interpreter(runtime, python)
    isolation = NONE if network else network_isolation()
    with tempfile.TemporaryDirectory(prefix="lpack-verify-") as tmp:
        work = Path(tmp)
        task, opt = work / "task", work / "opt"
        try:
            if image is None:
                unpack_zips([artifact], task)
            else:
                unpack_image(artifact, image, task)
            unpack_zips(layers, opt)
            name = function_name or artifact.stem
            given = dict(env or {})
            run = [*launcher, interpreter]
            outcome, output = _run(
                run, work, handler=handler, runtime=runtime, event=event, name=name, env=given, isolation=isolation
            )
        finally:
            writable(work)
    here = foreign if foreign and not launcher else None  # another machine's code, not run under qemu
    if here and verify_arch.blocked(outcome, here):
        partial = _partial(artifact, runtime, interpreter, handler, outcome=outcome, output=output, notes=[here.note()])
        return replace(partial, isolation=isolation.name)
    notes = [here.unloaded()] if here else []
    found = _result(artifact, runtime, interpreter, handler, outcome=outcome, output=output)
    return replace(found, warnings=(*found.warnings, *notes, *env_warnings(given)), isolation=isolation.name)


def _emulator(runtime: Runtime, python: Path | None, foreign: verify_arch.ForeignCode | None) -> list[str]:
    if python is None or foreign is None or runtime.version is None:
        return []
    if verify_arch.elf_machine(python) != foreign.machine:
        return []
    return verify_arch.emulated(python, foreign, runtime.version)


def _partial(
    artifact: Path,
    runtime: Runtime,
    interpreter: str,
    handler: str,
    *,
    outcome: dict[str, Any],
    output: str,
    notes: list[str],
) -> VerifyResult:
    stopped = f"the handler's import stopped at {outcome.get('module') or 'native code'}, as expected here"
    return VerifyResult(
        artifact=artifact,
        runtime=runtime.name,
        interpreter=interpreter,
        handler=handler,
        init_ms=0.0,
        invoked=False,
        invoke_ms=None,
        result=None,
        output=output,
        warnings=(*notes, stopped),
        status="partial",
    )


def _interpreter(runtime: Runtime, python: Path | None) -> str:
    if runtime.language == "node" and runtime.version is not None:
        node = _verify_node.find_node(runtime.version[0])
        if node is None:
            major = runtime.version[0]
            raise NoInterpreterError(
                f"no node {major} on this machine: cannot verify a {runtime.name} artifact",
                hint=f"put a Node.js {major} `node` (or `node{major}`) on PATH",
            )
        return node
    if runtime.language != "python" or runtime.version is None:
        raise ConfigError(
            f"lpack verify runs Python and Node.js handlers; {runtime.name} is a {runtime.language} runtime",
            hint="pass --runtime with a python3.X or nodejsNN.x runtime",
        )
    found = find_interpreter(runtime.version, python)
    if found is None:
        version = f"{runtime.version[0]}.{runtime.version[1]}"
        raise NoInterpreterError(
            f"no python{version} on this machine: cannot verify a {runtime.name} artifact",
            hint=f"install it (uv python install {version}) or pass --python PATH",
        )
    return found


def _run(
    run: list[str],
    work: Path,
    *,
    handler: str,
    runtime: Runtime,
    event: str | None,
    name: str,
    env: dict[str, str],
    isolation: Isolation,
) -> tuple[dict[str, Any], str]:
    task, opt = work / "task", work / "opt"
    out, event_file = work / "outcome.json", work / "event.json"
    if event is not None:
        event_file.write_text(event)
    event_arg = event_file if event is not None else None
    *launcher, interpreter = run
    if runtime.language == "node":
        args = [*launcher, *_verify_node.command(interpreter, out, handler, event_arg, task)]
    else:
        paths = json.dumps(sys_path(runtime, task, opt))
        args = [*run, "-I", "-S", "-c", _CHILD, str(out), handler, str(event_arg or ""), paths]
    env = {**lambda_env(runtime, task, opt, handler, name), **env}  # the user's win, as Lambda's config does
    try:
        proc = subprocess.run(
            [*isolation.prefix, *args],
            cwd=task,
            env=env,
            capture_output=True,
            text=True,
            timeout=_CHILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise VerifyError(f"{handler}: no answer after {_CHILD_TIMEOUT_S} s", hint="does init block?") from None
    output = proc.stdout + proc.stderr
    if not out.is_file():
        raise VerifyError(f"{handler}: the interpreter died (exit {proc.returncode})", details=output)
    outcome: dict[str, Any] = json.loads(out.read_text())
    return outcome, output


def _result(
    artifact: Path, runtime: Runtime, interpreter: str, handler: str, *, outcome: dict[str, Any], output: str
) -> VerifyResult:
    if outcome["phase"] != "done":
        raise _failure(handler, runtime, outcome, output)
    init_ms = float(outcome["init_ms"])
    warnings = []
    if init_ms > INIT_LIMIT_MS:
        warnings.append(f"init took {init_ms / 1000:.1f} s here; Lambda stops an init phase after 10 s")
    invoked = "result" in outcome
    return VerifyResult(
        artifact=artifact,
        runtime=runtime.name,
        interpreter=interpreter,
        handler=handler,
        init_ms=init_ms,
        invoked=invoked,
        invoke_ms=outcome.get("invoke_ms"),
        result=json.loads(outcome["result"]) if invoked else None,
        output=output,
        warnings=tuple(warnings),
    )


def _failure(handler: str, runtime: Runtime, outcome: dict[str, Any], output: str) -> VerifyError:
    module_name = handler.rpartition(".")[0]
    # Worded like Lambda's Runtime.ImportModuleError, so the message reads as the one users would meet.
    what = f"unable to import module '{module_name}'" if outcome["phase"] == "init" else "raised when invoked"
    first = (str(outcome["message"]).splitlines() or [""])[0]  # Node appends its require stack: see -v
    message = f"{handler}: {what}: {outcome['error']}: {first}"
    module = outcome.get("module")
    hint = None
    if outcome["error"] in ("ModuleNotFoundError", "MODULE_NOT_FOUND", "ERR_MODULE_NOT_FOUND") and module:
        hint = _missing_hint(str(module), runtime)
    elif any(sign in first for sign in verify_arch.FOREIGN_LIBRARY):
        hint = (
            f"a native library did not load on this {platform.machine()} machine; if the artifact is for the "
            "other architecture that is expected here: verify it on a matching machine"
        )
    return VerifyError(message, hint=hint, details=outcome.get("traceback", "") + output)


def _missing_hint(module: str, runtime: Runtime) -> str:
    if runtime.language == "node":
        if module.startswith(runtimes.RUNTIME_PROVIDED_NODE_SCOPES):
            return f"{module} comes with the {runtime.name} runtime on Lambda; verify runs without it"
        return f"{module} is not in the artifact: add it to package.json dependencies (not devDependencies)"
    top = module.split(".", maxsplit=1)[0]
    if top in runtimes.RUNTIME_PROVIDED_PYTHON:
        return f"{top} comes with the {runtime.name} runtime on Lambda; verify runs without it"
    return f"{module} is not in the artifact: add it to the requirements, or `keep` it if pruning removed it"

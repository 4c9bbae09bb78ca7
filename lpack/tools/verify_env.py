"""The environment a handler is verified with: the variables the user gives (`--env`, `--env-file`) on top of
those Lambda defines, under Lambda's rules for which may be set."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from lpack.errors import ConfigError
from lpack.runtimes import Runtime

# Keys Lambda defines itself and refuses in a function's configuration [lambda/latest/dg/configuration-envvars.html
# "Reserved environment variables"]. The credentials and the Region are left out on purpose: on Lambda they come
# from the execution role and the Region, which verify does not have, so a handler that calls AWS at import can
# be given them here.
RESERVED = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)
# "The total size of all environment variables doesn't exceed 4 KB" [gettingstarted-limits.html]; counted as
# keys plus values, as the CreateFunction error counts them.
MAX_ENV_BYTES = 4096


def user_env(pairs: Mapping[str, str], env_file: Path | None = None) -> dict[str, str]:
    """The file's variables, then `pairs` over them; ConfigError for a reserved key or a key with no value.

    Messages name keys only: values may be secrets.
    """
    found: dict[str, str] = {}
    if env_file is not None:
        try:
            values = dotenv_values(env_file)
        except UnicodeDecodeError:
            raise ConfigError(f"{env_file.name}: not UTF-8", hint="save the .env file as UTF-8") from None
        for key, value in values.items():
            if value is None:
                raise ConfigError(f"{env_file.name}: {key} has no value", hint="write KEY=VALUE (KEY= for empty)")
            found[key] = value
    found.update(pairs)
    for key in found:
        if key in RESERVED:
            raise ConfigError(f"{key} is reserved: Lambda sets it and refuses it in a function's environment")
        if not key or "=" in key or "\0" in key:
            raise ConfigError(f"{key!r} is not an environment variable name", hint="use KEY=VALUE")
    return found


def env_warnings(env: Mapping[str, str]) -> list[str]:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
    if size > MAX_ENV_BYTES:
        return [f"the environment variables take {size} bytes; Lambda allows {MAX_ENV_BYTES} per function"]
    return []


def lambda_env(runtime: Runtime, task: Path, opt: Path, handler: str, name: str) -> dict[str, str]:
    # The variables Lambda defines [lambda/latest/dg/configuration-envvars.html "Defined runtime environment
    # variables"], pointed at the unpacked tree; nothing from this machine's environment leaks in.
    return {
        "LAMBDA_TASK_ROOT": str(task),
        "_HANDLER": handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime.name}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "lpack-verify",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": f"{opt / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "LD_LIBRARY_PATH": f"{task / 'lib'}:{opt / 'lib'}",
        **_language_env(runtime, task, opt),
    }


def _language_env(runtime: Runtime, task: Path, opt: Path) -> dict[str, str]:
    if runtime.language == "node":
        # Lambda's NODE_PATH: the layers' node_modules (version-specific first), then the task root.
        return {"NODE_PATH": ":".join([*_layer_dirs(runtime, opt), str(task)])}
    return {"PYTHONHASHSEED": "0"}


def _layer_dirs(runtime: Runtime, opt: Path) -> list[str]:
    # layer_paths lists the general path first; Lambda searches the version-specific one first.
    return [str(opt / p) for p in reversed(runtime.layer_paths)]


def sys_path(runtime: Runtime, task: Path, opt: Path) -> list[str]:
    # Lambda's order: the function, then each layer path of the runtime (python/lib/python3.X/site-packages
    # before python/) [packaging-layers.html].
    return [str(task), *_layer_dirs(runtime, opt)]

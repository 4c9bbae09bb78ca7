"""Hash-based .pyc for the target Python (PEP 552), so a read-only /var/task never recompiles.

Lambda's /var/task is read-only, so bytecode compiled at import is never cached: every cold start
recompiles unless the zip ships valid pyc. Timestamp pyc are stale against the zip's fixed dates
(aws-lambda-builders#924), so ship unchecked-hash pyc, or none.
"""

from __future__ import annotations

from lpack.bytecode.compiler import (
    BytecodeResult,
    CompileFailure,
    check_own_code,
    compile_tree,
    pyc_path,
    sourceless,
)
from lpack.bytecode.interpreters import Interpreter, find_interpreter, provide_interpreter

__all__ = [
    "BytecodeResult",
    "CompileFailure",
    "Interpreter",
    "check_own_code",
    "compile_tree",
    "find_interpreter",
    "provide_interpreter",
    "pyc_path",
    "sourceless",
]

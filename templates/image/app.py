"""A Lambda handler: lpack packs this file with its dependencies into dist/<name>.zip."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "body": json.dumps({"ok": True, "path": event.get("rawPath", "/")})}

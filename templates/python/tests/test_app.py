from __future__ import annotations

import json

from app import handler


def test_handler_answers_ok() -> None:
    response = handler({"rawPath": "/hello"}, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ok": True, "path": "/hello"}

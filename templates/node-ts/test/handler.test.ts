import assert from "node:assert/strict";
import { test } from "node:test";

import { handler } from "../src/index.ts";

test("handler answers ok", async () => {
  const response = await handler({ rawPath: "/hello" });
  assert.ok(typeof response === "object");
  assert.equal(response.statusCode, 200);
  assert.deepEqual(JSON.parse(response.body ?? "{}"), { ok: true, path: "/hello" });
});

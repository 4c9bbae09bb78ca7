// A Lambda handler in TypeScript: `lpack build` bundles it with esbuild into dist/my-function.zip.
// esbuild strips the types without checking them: `npm run typecheck` does that (CI runs it).
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";

export const handler = async (event: Pick<APIGatewayProxyEventV2, "rawPath">): Promise<APIGatewayProxyResultV2> => ({
  statusCode: 200,
  body: JSON.stringify({ ok: true, path: event.rawPath ?? "/" }),
});

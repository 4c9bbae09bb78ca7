// A Lambda handler: lpack packs this file with its production dependencies into dist/my-function.zip.
export const handler = async (event) => ({
  statusCode: 200,
  body: JSON.stringify({ ok: true, path: event.rawPath ?? "/" }),
});

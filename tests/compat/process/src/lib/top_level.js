// An ES module that reads process.env when it loads, the way config modules do.
export const atLoad = {
  dotenv: process.env.FROM_DOTENV ?? null,
  dashed: process.env["WITH_DASH-KEY"] ?? null,
  vars: process.env.FROM_VARS ?? null,
  nodeEnv: process.env.NODE_ENV ?? null,
};
